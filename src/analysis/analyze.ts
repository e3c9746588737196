// One analysis, whoever asks: the worker (a study in the PACS) and `sentinel analyze` (files
// on disk) both call `analyze` with a study source, a pipeline and a model, and get back the
// StudyResult and every output Sentinel hands back (SEG and SR objects, the ORU), with the
// files it could not read and why. No database, no queue: what to do with the outputs is the
// caller's business.
import type { Config } from '../config/schema';
import type { DicomwebClient } from '../dicomweb/client';
import type { DocumentRef, SkippedFile, StudyContext, StudyResult } from '../domain/findings';
import { type Output, output } from '../domain/outputs';
import type { ModelManifest } from '../inference/manifest';
import type { LoadedModel, ModelRegistry } from '../inference/registry';
import { type CellScoring, type Companions, type InstancePipeline, type PipelineDefinition, scoreHere } from '../pipelines/definition';
import { stageSeconds, timed } from '../metrics/metrics';
import { assertModelFits } from '../pipelines/registry';
import { buildFhirBundle } from '../reports/fhir/diagnostic-report';
import { oruForStudy } from '../reports/hl7/oru-r01';
import type { ListedInstance } from './image-set';
import { analyseInstances, fetchStudyInstances } from './instances';
import { analyseSlides } from './slides';
import { describeStudySlides, localSlides } from './study-slides';
import type { StudyAnalysis } from './study-analysis';

export { nothingToAnalyse } from './study-analysis';

/** Where a study's data comes from: the PACS (instances or tiles, as the pipeline reads) or local Part 10 files. */
export type StudySource =
  /** `instances`: the study's instances as the caller listed them for its image set; the analysis reads these and no others. */
  | { kind: 'pacs'; dicomweb: DicomwebClient; studyInstanceUid: string; instances?: ListedInstance[] }
  | { kind: 'files'; files: Uint8Array[] };

export interface AnalyzeRequest {
  source: StudySource;
  pipeline: PipelineDefinition;
  model: LoadedModel;
  config: Pick<Config, 'hl7' | 'output' | 'fhir'>;
  /** Write the FHIR Bundle (default: when a FHIR server is configured). */
  fhir?: boolean;
  /** The pipeline's companion models that are installed (companionModels). */
  companions?: Companions;
  newUid: () => string;
  now: Date;
  /** Slides: how tissue cells are scored (default: here, in this process). */
  scoring?: CellScoring;
  /** Slides: tissue cells done and to do, after each batch. */
  onProgress?: (done: number, total: number) => void | Promise<void>;
  /** The study's earlier SRs this analysis replaces (TID 1500, CAD): each named in its successor, and the ORU is a correction. */
  predecessors?: DocumentRef[];
}

export interface AnalysisOutput {
  result: StudyResult;
  context: StudyContext;
  /** SEG and SR objects first, then the ORU. */
  outputs: Output[];
  /** Files of the study that could not be analysed, and why. */
  skipped: SkippedFile[];
}

/** For each companion role of the pipeline, the manifest of the installed model of its task and modality, if any. */
export function installedCompanions(pipeline: PipelineDefinition, registry: Pick<ModelRegistry, 'forTask'>): Record<string, ModelManifest> {
  const out: Record<string, ModelManifest> = {};
  for (const [role, task] of Object.entries(pipeline.companions ?? {})) {
    const found = registry.forTask(task).find((m) => m.modality === pipeline.modality);
    if (found) out[role] = found;
  }
  return out;
}

/** For each companion role of the pipeline, the installed model of its task and modality, if any. */
export function companionModels(pipeline: PipelineDefinition, registry: Pick<ModelRegistry, 'forTask' | 'model'>): Companions {
  return Object.fromEntries(Object.entries(installedCompanions(pipeline, registry)).map(([role, m]) => [role, registry.model(m.id)]));
}

/** The pipeline's work on each file as it arrives, for this analysis's models. */
function prepareFor(pipeline: InstancePipeline, req: AnalyzeRequest): ((bytes: Uint8Array) => void) | undefined {
  return pipeline.prepare ? (bytes) => pipeline.prepare?.(bytes, req.model, req.companions ?? {}) : undefined;
}

export async function analyze(req: AnalyzeRequest): Promise<AnalysisOutput> {
  const { pipeline, source } = req;
  // First of all: a model for another pipeline would read pixels for nothing, then score them wrongly.
  assertModelFits(pipeline, req.model.manifest);
  const common = { model: req.model, config: req.config, newUid: req.newUid, now: req.now, predecessors: req.predecessors };
  let study: StudyAnalysis;
  if (pipeline.input === 'instances') {
    const files = source.kind === 'files' ? source.files : await timed(pipeline.name, 'fetch', () => fetchStudyInstances(source.dicomweb, source.studyInstanceUid, pipeline.modalities, { listed: source.instances, arrived: prepareFor(pipeline, req) }));
    study = await timed(pipeline.name, 'analyse', () => analyseInstances({ ...common, pipeline, files, companions: req.companions }));
  } else {
    // A slide is read tile by tile while it is analysed: its fetch is part of the analysis.
    const { slides, frames } = source.kind === 'files'
      ? localSlides(source.files, pipeline)
      : { slides: await timed(pipeline.name, 'fetch', () => describeStudySlides(source.dicomweb, source.studyInstanceUid, pipeline, source.instances)), frames: source.dicomweb };
    study = await timed(pipeline.name, 'analyse', () => analyseSlides({ ...common, pipeline, slides, frames, scoring: req.scoring ?? scoreHere, onProgress: req.onProgress }));
  }
  const endReports = stageSeconds.startTimer({ pipeline: pipeline.name, stage: 'reports' });
  const corrected = (req.predecessors ?? []).length > 0;
  const oru = oruForStudy(study.result, study.context, req.config.hl7, pipeline.reporting, req.now, { corrected, reports: study.reports });
  const outputs = [...study.objects, output('hl7', 'ORU^R01', oru.controlId, Buffer.from(oru.text, 'utf8'))];
  if (req.fhir ?? req.config.fhir.baseUrl !== '') {
    const m = req.model.manifest;
    const bundle = buildFhirBundle({
      result: study.result, study: study.context, reporting: pipeline.reporting, reports: study.reports, corrected, now: req.now,
      algorithm: { name: m.name, version: m.version, modelId: m.id },
      // The same analysis (a job run again) gives the same Bundle identities.
      seed: study.reports[0]?.sopInstanceUid ?? study.result.studyInstanceUid,
    });
    outputs.push(output('fhir', 'FHIR', String(bundle.id), Buffer.from(JSON.stringify(bundle), 'utf8')));
  }
  endReports();
  return { result: study.result, context: study.context, outputs, skipped: study.skipped };
}
