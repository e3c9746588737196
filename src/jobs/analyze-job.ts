// One analysis job, start to end: re-read the job row (the database is the truth), fetch the
// study's images over DICOMweb, run the pipeline, and in ONE transaction store the findings,
// the outputs to send (outbox) and the job's result. Sending happens afterwards, from the
// outbox, so a crash between the two loses nothing and sends nothing twice.
import { type DataSource, type EntityManager, In, IsNull } from 'typeorm';
import type { Config } from '../config/schema';
import { FindingRow } from '../db/entities/finding';
import { JobRow } from '../db/entities/job';
import { OutboxRow } from '../db/entities/outbox';
import { StudyRow } from '../db/entities/study';
import type { DicomwebClient } from '../dicomweb/client';
import { SentinelError, describeError, isRetryable } from '../errors/errors';
import type { Logger } from '../log/logger';
import type { ModelRegistry } from '../inference/registry';
import { type AnalysisOutput, analyze, companionModels, installedCompanions } from '../analysis/analyze';
import { companionKey } from '../pipelines/routing';
import { analysesFinished, stageSeconds, timed } from '../metrics/metrics';
import { type StudySlide, describeStudySlides, slideSource } from '../analysis/study-slides';
import { type DensityAssessment, type DocumentRef, type StudyResult, allFindings } from '../domain/findings';
import { fingerprintOf, listStudyInstances } from '../analysis/image-set';
import { readNaturalizedHeader } from '../dicom/part10';
import type { CellScoring } from '../pipelines/definition';
import { pipelineNamed } from '../pipelines/registry';
import { uidSequence } from '../dicom/uid';
import { type HeldLease, LeaseLost, WORKER_ID, assertLeaseHeld, holdLease, leaseInterval } from '../db/leases';
import { extraDestinations } from '../delivery/outbox';
import { type Queues, type TileJobData, enqueueDeliver, enqueueOrLeave, enqueueTiles } from './queues';
import { awaitRange, rangeSettled } from './tile-ranges';
import { type SlidePlan, scoreCells } from '../pipelines/wsi/analyze-slide';

export interface AnalyzeDeps {
  ds: DataSource;
  config: Config;
  dicomweb: DicomwebClient;
  models: ModelRegistry;
  queues: Queues;
  log: Logger;
}

export type AnalyzeOutcome = 'succeeded' | 'failed' | 'gone';

async function persist(deps: Pick<AnalyzeDeps, 'ds' | 'config'>, job: JobRow, out: AnalysisOutput, startedAt: number): Promise<OutboxRow[]> {
  return deps.ds.transaction(async (m) => {
    // Only the lease holder writes a result: a worker whose lease was handed on (it was
    // thought dead) finds out here and writes nothing, so a study has one result.
    await assertLeaseHeld(m, 'jobs', job.id, job.epoch);
    job.state = 'succeeded';
    job.error = out.skipped.length > 0 ? `analysed with ${out.skipped.length} image(s) skipped: ${out.skipped.map((s) => s.reason).join('; ')}` : null;
    job.result = jobResult(out.result);
    job.finishedAt = new Date();
    job.durationMs = Date.now() - startedAt;
    job.leaseOwner = null;
    job.leaseUntil = null;
    await m.getRepository(JobRow).save(job);
    return storeOutcome(m, deps.config, job, out);
  });
}

/**
 * What a finished job row keeps of its result: the study's scores, category, breasts, model
 * and density, and each image without its findings (they are rows of their own), from which a
 * reader's correction rebuilds the result it corrects.
 */
export function jobResult(result: StudyResult): Record<string, unknown> {
  return {
    score: result.score, examScore: result.examScore ?? null, category: result.category, breasts: result.breasts, model: result.model,
    images: result.images.length, findings: allFindings(result).length,
    ...(result.density ? { density: densitySummary(result.density), densityAssessment: result.density } : {}),
    imageResults: result.images.map(({ findings: _findings, ...image }) => image),
  };
}

/**
 * In the caller's transaction, once the job row is written: its findings, an outbox row for
 * each output (and for each extra destination of its kind), and the study's latest result.
 */
export async function storeOutcome(m: EntityManager, config: Config, job: JobRow, out: Pick<AnalysisOutput, 'result' | 'outputs' | 'context'>): Promise<OutboxRow[]> {
  await m.getRepository(FindingRow).insert(allFindings(out.result).map((f) => ({
    jobId: job.id,
    trackingId: f.trackingId,
    trackingUid: f.trackingUid,
    type: f.type,
    score: f.score,
    examScore: f.examScore ?? null,
    sopInstanceUid: f.image.sopInstanceUid,
    frameNumber: f.image.frameNumber ?? null,
    centre: f.centre,
    box: f.box,
    contour: f.contour,
    areaMm2: f.areaMm2 ?? null,
  })));
  const outbox = m.getRepository(OutboxRow);
  const rows = out.outputs.flatMap((o) => [null, ...extraDestinations(o.kind, config)].map((destination) =>
    outbox.create({ jobId: job.id, kind: o.kind, destination, label: o.label, objectUid: o.objectUid, payload: o.bytes, state: 'pending' })));
  await outbox.save(rows);
  const { result } = out;
  await m.getRepository(StudyRow).update({ studyInstanceUid: job.studyInstanceUid }, {
    pipeline: job.pipeline,
    score: result.score,
    examScore: result.examScore ?? null,
    category: result.category,
    analysedAt: job.finishedAt,
    accessionNumber: out.context.accessionNumber ?? null,
  });
  return rows;
}

/** Breast composition as a job row keeps it: per breast and for the exam, the class, its meaning and probability, and the model. */
function densitySummary(d: NonNullable<AnalysisOutput['result']['density']>): Record<string, unknown> {
  const one = (a: DensityAssessment): Record<string, unknown> => ({ predicted: a.predicted, meaning: a.code?.CodeMeaning ?? a.predicted, probability: a.probabilities[a.predicted] ?? 0 });
  return {
    exam: one(d.exam),
    breasts: Object.fromEntries(Object.entries(d.breasts).map(([side, a]) => [side, one(a as DensityAssessment)])),
    model: d.exam.model,
  };
}

/**
 * Progress (tissue tiles done / total) is written to the job row about once a second, so
 * GET /jobs/:id shows how far a long slide is.
 */
function progressWriter(deps: AnalyzeDeps, job: JobRow): (done: number, total: number) => Promise<void> {
  const repo = deps.ds.getRepository(JobRow);
  let last = 0;
  return async (done, total) => {
    if (Date.now() - last < 1000 && done < total) return;
    last = Date.now();
    job.progressDone = done;
    job.progressTotal = total;
    await repo.update({ id: job.id }, { progressDone: done, progressTotal: total });
  };
}

/** A slide with more tissue cells than `jobs.tileRangeCells` is scored in ranges on the tiles queue; a smaller one here. */
function rangedScoring(deps: AnalyzeDeps, job: JobRow, onProgress: (done: number, total: number) => Promise<void>): CellScoring {
  const range = deps.config.jobs.tileRangeCells;
  return async (slide, plan, here) => (range > 0 && plan.todo.length > range
    ? { probabilities: await scoreInRanges(deps, job, plan, range, onProgress, slide.frameOfReferenceUid), inferenceMs: 0 }
    : here());
}

/**
 * A large slide's tissue cells in ranges on the tiles queue, so that every worker process
 * scores a part; the ranges' probabilities are merged in order. A range that fails for good
 * fails this job (and its retry queues the ranges again under new ids: each run of the job
 * is named by its start time, as attempts start again from 0 when a failed job is retried).
 */
async function scoreInRanges(deps: AnalyzeDeps, job: JobRow, plan: SlidePlan, range: number, onProgress: (done: number, total: number) => Promise<void>, frameOfReferenceUid: string): Promise<Float32Array> {
  const parts: Array<Promise<number[]>> = [];
  const ids: string[] = [];
  let done = 0;
  try {
    for (let start = 0; start < plan.todo.length; start += range) {
      const cells = plan.todo.slice(start, start + range);
      const data: TileJobData = {
        jobId: job.id, studyInstanceUid: job.studyInstanceUid, pipeline: job.pipeline, frameOfReferenceUid, modelId: job.modelId, modelVersion: job.modelVersion,
        level: plan.level, cellPx: plan.cellPx, columns: plan.columns, cells,
      };
      const id = `${job.id}:${job.startedAt?.getTime() ?? job.attempts}:${frameOfReferenceUid}:${start}`;
      ids.push(id);
      awaitRange(id, data);
      const queued = await enqueueTiles(deps.queues, deps.config, data, id);
      parts.push(queued.finished().then(async (value: unknown) => {
        rangeSettled(id);
        done += cells.length;
        await onProgress(done, plan.todo.length);
        await queued.remove().catch(() => undefined);
        if (!Array.isArray(value) || value.length !== cells.length) throw new SentinelError('internal', `tile range ${start} came back with ${Array.isArray(value) ? value.length : 'no'} values for ${cells.length} cells`);
        return value as number[];
      }));
    }
    deps.log.info({ jobId: job.id, cells: plan.todo.length, ranges: parts.length }, 'slide scored in ranges on the tiles queue');
    // A range whose queue entry vanishes (Redis emptied or restarted) is put back by the sweeper (tile-ranges.ts).
    const results = await Promise.all(parts);
    return Float32Array.from(results.flat());
  } finally {
    for (const id of ids) rangeSettled(id);
  }
}

/**
 * The study's slides as a job's ranges see them, kept a minute per job: each range of a slide
 * would otherwise fetch the whole study's metadata again (0.5 s for a 7-level slide, per range).
 */
const describedForJob = new Map<string, { until: number; slides: Promise<StudySlide[]> }>();

function slidesForRange(deps: AnalyzeDeps, data: TileJobData): Promise<StudySlide[]> {
  const key = `${data.jobId}:${data.studyInstanceUid}:${data.pipeline}`;
  const now = Date.now();
  for (const [k, v] of describedForJob) if (v.until < now) describedForJob.delete(k);
  const kept = describedForJob.get(key);
  if (kept) return kept.slides;
  const slides = describeStudySlides(deps.dicomweb, data.studyInstanceUid, pipelineNamed(data.pipeline));
  describedForJob.set(key, { until: now + 60_000, slides });
  slides.catch(() => describedForJob.delete(key));
  return slides;
}

/** One range of a slide's cells (a tiles-queue job): the probabilities, in the range's order. */
export async function processTileJob(deps: AnalyzeDeps, data: TileJobData): Promise<number[]> {
  const model = deps.models.get(data.modelId);
  if (model.manifest.version !== data.modelVersion) throw new SentinelError('conflict', `model ${data.modelId} is now version ${model.manifest.version}, the range asked for ${data.modelVersion}`);
  const slides = await slidesForRange(deps, data);
  const slide = slides.find((s) => s.frameOfReferenceUid === data.frameOfReferenceUid);
  if (!slide) throw new SentinelError('not_found', `the study no longer holds the slide in frame of reference ${data.frameOfReferenceUid}`);
  const loaded = deps.models.model(data.modelId);
  const { probabilities } = await scoreCells(slideSource(deps.dicomweb, slide), loaded, data, data.cells);
  return Array.from(probabilities);
}

/**
 * The study's latest earlier analysis by the same pipeline and model that succeeded, and its SRs
 * (TID 1500 and CAD, as stored in the PACS): what a re-analysis replaces. Undefined on a study's first analysis.
 */
async function predecessorOf(deps: AnalyzeDeps, job: JobRow): Promise<{ jobId: string; srs: DocumentRef[] } | undefined> {
  const [earlier] = await deps.ds.query(
    `select j.id from jobs j where j.study_instance_uid = $1 and j.pipeline = $2 and j.model_id = $3 and j.state = 'succeeded'
       and j.id <> $4 and j.created_at <= $5 order by j.finished_at desc limit 1`,
    [job.studyInstanceUid, job.pipeline, job.modelId, job.id, job.createdAt],
  ) as Array<{ id: string }>;
  if (!earlier) return undefined;
  const srs = await storedReports(deps.ds, earlier.id, job.studyInstanceUid);
  return srs.length === 0 ? undefined : { jobId: earlier.id, srs };
}

/** The SRs (TID 1500 and CAD) a job wrote, as stored in the PACS: what an analysis or correction replacing it names. */
export async function storedReports(ds: DataSource, jobId: string, studyInstanceUid: string): Promise<DocumentRef[]> {
  const rows = await ds.getRepository(OutboxRow).find({ where: { jobId, label: In(['SR', 'CAD SR']), destination: IsNull() }, order: { createdAt: 'ASC' } });
  return rows.map((sr) => {
    const header = readNaturalizedHeader(new Uint8Array(sr.payload));
    return { studyInstanceUid, seriesInstanceUid: String(header.SeriesInstanceUID), sopClassUid: String(header.SOPClassUID), sopInstanceUid: sr.objectUid };
  });
}

/**
 * Take the job if this queue entry may run it (same epoch) and nobody holds a live lease on
 * it: state running, one more attempt, the lease ours. Undefined when it is not ours to run.
 */
export async function claimJob(deps: AnalyzeDeps, jobId: string, epoch: number): Promise<JobRow | undefined> {
  const [rows] = await deps.ds.query(
    `update jobs set state = 'running', attempts = attempts + 1, started_at = now(), lease_owner = $3, lease_until = now() + $4::interval
     where id = $1 and epoch = $2 and state in ('queued', 'running') and (lease_until is null or lease_until < now())
     returning id`,
    [jobId, epoch, WORKER_ID, leaseInterval(deps.config.jobs.leaseMs)],
  ) as [Array<{ id: string }>, number];
  if (rows.length === 0) return undefined;
  return (await deps.ds.getRepository(JobRow).findOneBy({ id: jobId })) ?? undefined;
}

/** Record a failure, only while the lease is still ours. */
async function recordFailure(deps: AnalyzeDeps, job: JobRow, retry: boolean, started: number): Promise<void> {
  await deps.ds.transaction(async (m) => {
    await assertLeaseHeld(m, 'jobs', job.id, job.epoch);
    await m.getRepository(JobRow).update({ id: job.id }, {
      error: job.error,
      state: retry ? 'queued' : 'failed',
      leaseOwner: null,
      leaseUntil: null,
      ...(retry ? {} : { finishedAt: new Date(), durationMs: Date.now() - started }),
    });
  });
}

export async function processAnalyzeJob(deps: AnalyzeDeps, jobId: string, epoch = 0): Promise<AnalyzeOutcome> {
  const job = await claimJob(deps, jobId, epoch);
  if (!job) return 'gone';
  const started = Date.now();
  const log = deps.log.child({ jobId, studyInstanceUid: job.studyInstanceUid });
  const lease: HeldLease = holdLease(deps.ds, 'jobs', job.id, job.epoch, deps.config.jobs.leaseMs,
    () => log.warn('lease on the job was handed to another worker; this run will not write its result'));
  // Numbered from the job id: a run after a crash writes the same SOP Instance UIDs.
  const newUid = uidSequence(job.id);
  try {
    const model = deps.models.get(job.modelId);
    if (model.manifest.version !== job.modelVersion) {
      throw new SentinelError('conflict', `model ${job.modelId} is now version ${model.manifest.version}, the job asked for ${job.modelVersion}`);
    }
    const loaded = deps.models.model(job.modelId);
    const pipeline = pipelineNamed(job.pipeline);
    // The companions the job was taken in with, or it is not the analysis it stands for.
    const companions = companionKey(Object.values(installedCompanions(pipeline, deps.models)));
    if (companions !== job.companions) {
      throw new SentinelError('conflict', `the companion models are now ${companions || 'none'}, the job asked for ${job.companions || 'none'}`);
    }
    // What this run analyses, so that the same images arriving again are not analysed again,
    // and the study's earlier result it replaces, if any.
    // Listed once: the fingerprint and the analysis see the same instances, though more arrive meanwhile.
    const instances = await listStudyInstances(deps.dicomweb, job.studyInstanceUid, pipeline.modalities);
    job.imageSet = fingerprintOf(instances);
    await deps.ds.getRepository(JobRow).update({ id: job.id }, { imageSet: job.imageSet });
    const earlier = await predecessorOf(deps, job);
    job.supersedes = earlier?.jobId ?? null;
    const onProgress = progressWriter(deps, job);
    const out = await analyze({
      source: { kind: 'pacs', dicomweb: deps.dicomweb, studyInstanceUid: job.studyInstanceUid, instances },
      pipeline,
      model: loaded,
      config: deps.config,
      newUid,
      now: new Date(),
      scoring: rangedScoring(deps, job, onProgress),
      onProgress,
      ...(earlier ? { predecessors: earlier.srs } : {}),
      companions: companionModels(pipeline, deps.models),
    });
    const outbox = await timed(job.pipeline, 'persist', () => persist(deps, job, out, started));
    stageSeconds.observe({ pipeline: job.pipeline, stage: 'total' }, (Date.now() - started) / 1000);
    analysesFinished.inc({ pipeline: job.pipeline, outcome: 'succeeded' });
    // Queued now if Redis answers; otherwise the sweeper queues them from the outbox.
    for (const row of outbox) await enqueueOrLeave(enqueueDeliver(deps.queues, deps.config, row.id, row.epoch));
    log.info({ score: out.result.score, category: out.result.category, findings: allFindings(out.result).length, ms: job.durationMs }, 'study analysed');
    return 'succeeded';
  } catch (err) {
    if (err instanceof LeaseLost) return 'gone';
    const retry = isRetryable(err) && job.attempts < deps.config.jobs.analyzeAttempts;
    job.error = describeError(err);
    try {
      await recordFailure(deps, job, retry, started);
    } catch (e) {
      if (e instanceof LeaseLost) return 'gone';
      throw e;
    }
    log.warn({ error: job.error, attempts: job.attempts, retry }, 'analysis failed');
    analysesFinished.inc({ pipeline: job.pipeline, outcome: retry ? 'retry' : 'failed' });
    if (retry) throw err;
    return 'failed';
  } finally {
    lease.stop();
  }
}
