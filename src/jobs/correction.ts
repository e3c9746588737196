// A reader's correction, stored like an analysis: the corrected result is rebuilt from the
// analysis it corrects (its job row keeps each image, its finding rows the outlines), the
// reader's findings put in (analysis/correction.ts), and a corrected SEG per image, TID 1500
// SR and, for mammography, CAD SR written in new series, each SR naming the AI report it
// replaces, with the reader as person observer; then an ORU with result status C. In ONE
// transaction: a new job row (source "reader", superseding the one corrected, with who and
// when), its findings and its outbox rows. The originals stay in the PACS.
import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/schema';
import { FindingRow } from '../db/entities/finding';
import { JobRow } from '../db/entities/job';
import { recordAudit } from '../db/audit';
import { type ParsedDicom, parseDicom, readImageAttributes, readStudyContext } from '../dicom/read';
import { readNaturalizedHeader } from '../dicom/part10';
import type { NaturalizedDataset } from '../dicom/write';
import { uidSequence } from '../dicom/uid';
import type { DicomwebClient } from '../dicomweb/client';
import type { Finding, FindingType, ImageResult, StudyResult } from '../domain/findings';
import { output } from '../domain/outputs';
import { SentinelError } from '../errors/errors';
import { type CorrectedFinding, type CorrectionSpacing, applyCorrection } from '../analysis/correction';
import { writeImageReports } from '../analysis/instances';
import { pipelineNamed } from '../pipelines/registry';
import { ultrasoundRegionSpacingMm } from '../pipelines/ultrasound';
import { oruForStudy } from '../reports/hl7/oru-r01';
import { storeOutcome, storedReports, jobResult } from './analyze-job';
import { type Queues, enqueueDeliver, enqueueOrLeave } from './queues';

export interface CorrectionDeps {
  ds: DataSource;
  dicomweb: DicomwebClient;
  queues: Queues;
  config: Config;
}

export interface CorrectionRequest {
  /** The finished analysis corrected; default: the study's latest MG or US analysis. */
  jobId?: string;
  /** The findings as the reader leaves them. */
  findings: CorrectedFinding[];
}

export interface CorrectionOutcome {
  jobId: string;
  corrects: string;
  reader: string;
  at: string;
  findings: Array<Pick<Finding, 'trackingId' | 'trackingUid' | 'type' | 'reader'> & { sopInstanceUid: string }>;
  outputs: Array<{ id: string; kind: string; label: string; objectUid: string }>;
}

const CORRECTABLE = ['mammography', 'ultrasound'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function correctedJob(ds: DataSource, studyInstanceUid: string, jobId: string | undefined): Promise<JobRow> {
  if (jobId !== undefined && (typeof jobId !== 'string' || !UUID.test(jobId))) throw new SentinelError('bad_request', 'jobId is not a job id');
  const job = jobId
    ? await ds.getRepository(JobRow).findOneBy({ id: jobId, studyInstanceUid })
    : await ds.getRepository(JobRow).createQueryBuilder('j')
      .where('j.study_instance_uid = :uid and j.state = :s and j.pipeline in (:...p)', { uid: studyInstanceUid, s: 'succeeded', p: CORRECTABLE })
      .orderBy('j.finished_at', 'DESC').getOne();
  if (!job) throw new SentinelError('not_found', jobId ? `analysis ${jobId} of study ${studyInstanceUid} not found` : `study ${studyInstanceUid} has no finished mammography or ultrasound analysis to correct`);
  if (!CORRECTABLE.includes(job.pipeline)) throw new SentinelError('unsupported', `a ${job.pipeline} analysis cannot be corrected here; mammography and ultrasound can`);
  if (job.state !== 'succeeded') throw new SentinelError('conflict', `analysis ${job.id} is ${job.state}; only a finished analysis can be corrected`);
  return job;
}

/** The result the job wrote, from its row and its finding rows. */
async function storedResult(ds: DataSource, job: JobRow): Promise<StudyResult> {
  const r = job.result as Record<string, unknown> | null;
  const images = r?.imageResults as Array<Omit<ImageResult, 'findings'>> | undefined;
  if (!r || !Array.isArray(images)) throw new SentinelError('conflict', `analysis ${job.id} was stored before corrections were kept; analyse the study again, then correct that analysis`);
  const rows = await ds.getRepository(FindingRow).find({ where: { jobId: job.id }, order: { trackingId: 'ASC' } });
  const imageOf = new Map(images.map((i) => [i.image.sopInstanceUid, i.image]));
  const findings = rows.flatMap((f): Finding[] => {
    const image = imageOf.get(f.sopInstanceUid);
    return image ? [{
      trackingId: f.trackingId, trackingUid: f.trackingUid, type: f.type as FindingType, score: f.score,
      ...(f.examScore !== null ? { examScore: f.examScore } : {}),
      image, centre: f.centre, box: f.box, contour: f.contour, ...(f.areaMm2 !== null ? { areaMm2: f.areaMm2 } : {}),
    }] : [];
  });
  return {
    studyInstanceUid: job.studyInstanceUid,
    pipeline: job.pipeline,
    model: r.model as StudyResult['model'],
    score: Number(r.score),
    ...(typeof r.examScore === 'number' ? { examScore: r.examScore } : {}),
    category: r.category as StudyResult['category'],
    breasts: (r.breasts ?? {}) as StudyResult['breasts'],
    ...(r.densityAssessment ? { density: r.densityAssessment as StudyResult['density'] } : {}),
    images: images.map((i) => ({ ...i, findings: findings.filter((f) => f.image.sopInstanceUid === i.image.sopInstanceUid) })),
  };
}

function spacingOf(pipeline: string, parsed: ParsedDicom): CorrectionSpacing | undefined {
  if (pipeline === 'ultrasound') return ultrasoundRegionSpacingMm(parsed);
  const s = readImageAttributes(parsed).pixelSpacingMm;
  return s ? { dx: s[1], dy: s[0] } : undefined;
}

export async function correctAnalysis(deps: CorrectionDeps, studyInstanceUid: string, request: CorrectionRequest, reader: string, now = new Date()): Promise<CorrectionOutcome> {
  const started = Date.now();
  const job = await correctedJob(deps.ds, studyInstanceUid, request.jobId);
  const original = await storedResult(deps.ds, job);
  const pipeline = pipelineNamed(job.pipeline);
  if (pipeline.input !== 'instances') throw new SentinelError('unsupported', `a ${job.pipeline} analysis cannot be corrected`);

  // The images' own headers, from the PACS: the corrected objects are written over them.
  const headers = new Map<string, NaturalizedDataset>();
  const spacing = new Map<string, CorrectionSpacing | undefined>();
  let first: ParsedDicom | undefined;
  for (const { image } of original.images) {
    const bytes = await deps.dicomweb.retrieveInstance(studyInstanceUid, image.seriesInstanceUid, image.sopInstanceUid);
    const parsed = parseDicom(bytes);
    first ??= parsed;
    headers.set(image.sopInstanceUid, readNaturalizedHeader(bytes));
    spacing.set(image.sopInstanceUid, spacingOf(job.pipeline, parsed));
  }
  if (!first) throw new SentinelError('conflict', `analysis ${job.id} has no images`);

  const id = crypto.randomUUID();
  const newUid = uidSequence(id);
  const result = applyCorrection(original, request.findings, { newUid, spacing });
  const predecessors = await storedReports(deps.ds, job.id, studyInstanceUid);
  const model = result.model;
  const { objects, reports } = writeImageReports({
    pipeline, result, headers, newUid, now, predecessors, reader: { name: reader },
    algorithm: { name: model.name, version: model.version, modelId: model.id },
    // Every finding a reader leaves is one to show.
    operatingPoint: 0,
    config: deps.config,
  });
  const context = readStudyContext(first);
  const oru = oruForStudy(result, context, deps.config.hl7, pipeline.reporting, now, { corrected: true, reports });
  const outputs = [...objects, output('hl7', 'ORU^R01', oru.controlId, Buffer.from(oru.text, 'utf8'))];

  const rows = await deps.ds.transaction(async (m) => {
    const row = m.getRepository(JobRow).create({
      id,
      studyInstanceUid,
      pipeline: job.pipeline,
      modelId: job.modelId,
      modelVersion: job.modelVersion,
      companions: job.companions,
      dedupeKey: `correction:${id}`,
      state: 'succeeded',
      source: 'reader',
      attempts: 1,
      error: null,
      result: { ...jobResult(result), correction: { reader, at: now.toISOString(), corrects: job.id } },
      startedAt: new Date(started),
      finishedAt: now,
      durationMs: Date.now() - started,
      imageSet: job.imageSet,
      supersedes: job.id,
    });
    await m.getRepository(JobRow).save(row);
    const stored = await storeOutcome(m, deps.config, row, { result, outputs, context });
    await recordAudit(m, { direction: 'in', channel: 'reader', peer: reader, outcome: 'accepted', studyInstanceUid, jobId: id, detail: `reader correction of analysis ${job.id}: ${result.images.flatMap((i) => i.findings).length} finding(s)` });
    return stored;
  });
  for (const row of rows) await enqueueOrLeave(enqueueDeliver(deps.queues, deps.config, row.id, row.epoch));
  return {
    jobId: id,
    corrects: job.id,
    reader,
    at: now.toISOString(),
    findings: result.images.flatMap((i) => i.findings).map((f) => ({ trackingId: f.trackingId, trackingUid: f.trackingUid, type: f.type, sopInstanceUid: f.image.sopInstanceUid, ...(f.reader ? { reader: f.reader } : {}) })),
    outputs: rows.filter((r) => r.destination === null).map((r) => ({ id: r.id, kind: r.kind, label: r.label, objectUid: r.objectUid })),
  };
}
