// `sentinel analyze`: DICOM files and folders in, everything Sentinel would send back out,
// with no server at all. Files are grouped by study, each study is routed by the same
// rules as the service and analysed by the same analyzeStudy; per study the SEG and SR go
// to DIR/<StudyInstanceUID>/ as .dcm, the ORU as .hl7, the FHIR Bundle as .json, and DIR/summary.json lists it all.
// One unreadable file or failed study is recorded and the others go on.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema';
import { SentinelError, describeError } from '../errors/errors';
import { parseDicom } from '../dicom/read';
import { newUid } from '../dicom/uid';
import { type Category, type SkippedFile, allFindings } from '../domain/findings';
import { outputFileName, outputStem } from '../domain/outputs';
import type { ModelRegistry } from '../inference/registry';
import { type PipelineName, pipelineNamed } from '../pipelines/registry';
import { assertRoutingRules, routeStudy } from '../pipelines/routing';
import { analyze, companionModels } from './analyze';

export interface OfflineStudySummary {
  studyInstanceUid: string;
  status: 'analysed' | 'skipped' | 'failed';
  reason?: string;
  pipeline?: PipelineName;
  model?: { id: string; version: string };
  score?: number;
  category?: Category;
  findings?: Array<{
    trackingId: string;
    type: string;
    score: number;
    sopInstanceUid: string;
    centre: { x: number; y: number };
    box: { x: number; y: number; width: number; height: number };
    areaMm2?: number;
  }>;
  /** Input files of the study that could not be analysed, and why. */
  skippedImages?: SkippedFile[];
  /** Files written, by what they are (lower-case label: "seg", "sr", "oru"), relative to the output folder. */
  outputs: Record<string, string[]>;
}

export interface OfflineSummary {
  generatedAt: string;
  inputs: number;
  unreadable: Array<{ file: string; reason: string }>;
  studies: OfflineStudySummary[];
}

/** Regular files under each path (folders recursively), sorted, each once. */
export function collectFiles(paths: string[]): string[] {
  const out = new Set<string>();
  const visit = (p: string): void => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) throw new SentinelError('not_found', `no such file or folder: ${p}`);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) visit(path.join(p, name));
    } else if (st.isFile()) {
      out.add(path.resolve(p));
    }
  };
  for (const p of paths) visit(p);
  return [...out].sort();
}

export async function analyzeFiles(opts: {
  paths: string[];
  outDir: string;
  config: Pick<Config, 'hl7' | 'output' | 'routing' | 'fhir'>;
  registry: ModelRegistry;
  /** Use this model instead of the routing rule's (its task must fit the pipeline). */
  modelId?: string;
  /** Studies done of studies to do; a slide's tissue cells done of cells to do. */
  progress?: (phase: string, done: number, total: number) => void;
  now?: Date;
}): Promise<OfflineSummary> {
  assertRoutingRules(opts.config.routing.rules);
  const files = collectFiles(opts.paths);
  const unreadable: OfflineSummary['unreadable'] = [];
  const byStudy = new Map<string, { files: Uint8Array[]; modalities: Set<string> }>();
  for (const file of files) {
    try {
      const bytes = new Uint8Array(fs.readFileSync(file));
      const parsed = parseDicom(bytes);
      const entry = byStudy.get(parsed.studyInstanceUid) ?? { files: [], modalities: new Set<string>() };
      entry.files.push(bytes);
      entry.modalities.add(parsed.modality);
      byStudy.set(parsed.studyInstanceUid, entry);
    } catch (err) {
      unreadable.push({ file, reason: describeError(err) });
    }
  }

  fs.mkdirSync(opts.outDir, { recursive: true });
  const installed = (id: string): { id: string; version: string } | undefined => {
    const m = opts.registry.list().find((x) => x.id === id);
    return m ? { id: m.id, version: m.version } : undefined;
  };
  // A model given by hand replaces the rules' models, so the rules still choose the pipeline
  // but need not name a model that is installed; whether it fits is checked per study.
  const override = opts.modelId;
  const findModel = override ? () => installed(override) ?? { id: override, version: '?' } : installed;
  const studies: OfflineStudySummary[] = [];
  for (const [studyInstanceUid, entry] of byStudy) {
    opts.progress?.('studies', studies.length, byStudy.size);
    const outputs: OfflineStudySummary['outputs'] = {};
    const decision = routeStudy(studyInstanceUid, [...entry.modalities], opts.config.routing.rules, findModel);
    if (decision.kind === 'ignore') {
      studies.push({ studyInstanceUid, status: 'skipped', reason: decision.reason, outputs });
      continue;
    }
    const modelId = decision.model.id;
    try {
      const model = opts.registry.model(modelId);
      const now = opts.now ?? new Date();
      // Every message is written for inspection, the FHIR Bundle too, whether a FHIR server is configured or not.
      const analysed = await analyze({ source: { kind: 'files', files: entry.files }, pipeline: pipelineNamed(decision.pipeline), model, config: opts.config, newUid, now, fhir: true, companions: companionModels(pipelineNamed(decision.pipeline), opts.registry),
        onProgress: (done, total) => opts.progress?.('tissue cells of the slide', done, total) });
      const dir = path.join(opts.outDir, studyInstanceUid);
      fs.mkdirSync(dir, { recursive: true });
      for (const o of analysed.outputs) {
        const file = path.join(dir, outputFileName(o));
        fs.writeFileSync(file, o.bytes);
        (outputs[outputStem(o)] ??= []).push(path.relative(opts.outDir, file));
      }
      const r = analysed.result;
      studies.push({
        studyInstanceUid,
        status: 'analysed',
        pipeline: decision.pipeline,
        model: { id: r.model.id, version: r.model.version },
        score: r.score,
        category: r.category,
        findings: allFindings(r).map((f) => ({
          trackingId: f.trackingId,
          type: f.type,
          score: f.score,
          sopInstanceUid: f.image.sopInstanceUid,
          centre: f.centre,
          box: f.box,
          ...(f.areaMm2 !== undefined ? { areaMm2: f.areaMm2 } : {}),
        })),
        skippedImages: analysed.skipped,
        outputs,
      });
    } catch (err) {
      studies.push({ studyInstanceUid, status: 'failed', pipeline: decision.pipeline, reason: describeError(err), outputs });
    }
  }
  opts.progress?.('studies', studies.length, byStudy.size);

  const summary: OfflineSummary = { generatedAt: (opts.now ?? new Date()).toISOString(), inputs: files.length, unreadable, studies };
  fs.writeFileSync(path.join(opts.outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
