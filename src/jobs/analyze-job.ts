// One analysis job, start to end: re-read the job row (the database is the truth), fetch the
// study's images over DICOMweb, run the pipeline, and in ONE transaction store the findings,
// the outputs to send (outbox) and the job's result. Sending happens afterwards, from the
// outbox, so a crash between the two loses nothing and sends nothing twice.
import type { DataSource } from 'typeorm';
import type { Config } from '../config/schema';
import { FindingRow } from '../db/entities/finding';
import { JobRow } from '../db/entities/job';
import { OutboxRow } from '../db/entities/outbox';
import { StudyRow } from '../db/entities/study';
import type { DicomwebClient } from '../dicomweb/client';
import { stringValue } from '../dicomweb/client';
import { SentinelError, describeError, isRetryable } from '../errors/errors';
import type { Logger } from '../log/logger';
import type { ModelRegistry } from '../inference/registry';
import { type AnalysisOutput, analyzeStudy } from '../analysis/analyze-study';
import { allFindings } from '../pipelines/findings';
import { newUid } from '../dicom/uid';
import { type Queues, enqueueDeliver } from './queues';

export interface AnalyzeDeps {
  ds: DataSource;
  config: Config;
  dicomweb: DicomwebClient;
  models: ModelRegistry;
  queues: Queues;
  log: Logger;
}

export type AnalyzeOutcome = 'succeeded' | 'failed' | 'gone';

/** Storage SOP classes whose instances carry pixels a pipeline reads (not SEG/SR/PR...). */
function modalitiesOf(config: Config, pipeline: string): Set<string> {
  return new Set(config.routing.rules.filter((r) => r.pipeline === pipeline).flatMap((r) => r.modalities));
}

/** Part 10 bytes of every instance in the study's series of the pipeline's modalities. */
export async function fetchStudyImages(dicomweb: DicomwebClient, studyUid: string, modalities: Set<string>): Promise<Uint8Array[]> {
  const series = (await dicomweb.searchSeries(studyUid)).filter((s) => modalities.has(s.modality));
  const files: Uint8Array[] = [];
  for (const s of series) {
    for (const instance of await dicomweb.seriesMetadata(studyUid, s.seriesInstanceUid)) {
      const sop = stringValue(instance, '00080018');
      if (sop) files.push(await dicomweb.retrieveInstance(studyUid, s.seriesInstanceUid, sop));
    }
  }
  return files;
}

async function persist(ds: DataSource, job: JobRow, out: AnalysisOutput, startedAt: number): Promise<OutboxRow[]> {
  return ds.transaction(async (m) => {
    await m.getRepository(FindingRow).insert(allFindings(out.result).map((f) => ({
      jobId: job.id,
      trackingId: f.trackingId,
      trackingUid: f.trackingUid,
      type: f.type,
      score: f.score,
      sopInstanceUid: f.image.sopInstanceUid,
      frameNumber: f.image.frameNumber ?? null,
      centre: f.centre,
      box: f.box,
      contour: f.contour,
      areaMm2: f.areaMm2 ?? null,
    })));
    const outbox = m.getRepository(OutboxRow);
    const rows = [
      ...out.dicom.map((d) => outbox.create({ jobId: job.id, kind: 'stow', label: d.label, objectUid: d.sopInstanceUid, payload: d.bytes, state: 'pending' })),
      outbox.create({ jobId: job.id, kind: 'hl7', label: 'ORU^R01', objectUid: out.hl7.controlId, payload: Buffer.from(out.hl7.text, 'utf8'), state: 'pending' }),
    ];
    await outbox.save(rows);
    const { result } = out;
    job.state = 'succeeded';
    job.error = out.skipped.length > 0 ? `analysed with ${out.skipped.length} image(s) skipped: ${out.skipped.map((s) => s.reason).join('; ')}` : null;
    job.result = { score: result.score, category: result.category, breasts: result.breasts, model: result.model, images: result.images.length, findings: allFindings(result).length };
    job.finishedAt = new Date();
    job.durationMs = Date.now() - startedAt;
    await m.getRepository(JobRow).save(job);
    await m.getRepository(StudyRow).update({ studyInstanceUid: job.studyInstanceUid }, {
      pipeline: job.pipeline,
      score: result.score,
      category: result.category,
      analysedAt: job.finishedAt,
      accessionNumber: out.context.accessionNumber ?? null,
    });
    return rows;
  });
}

export async function processAnalyzeJob(deps: AnalyzeDeps, jobId: string): Promise<AnalyzeOutcome> {
  const repo = deps.ds.getRepository(JobRow);
  const job = await repo.findOneBy({ id: jobId });
  if (!job || job.state === 'succeeded' || job.state === 'failed') return 'gone';
  const started = Date.now();
  job.state = 'running';
  job.attempts += 1;
  job.startedAt = new Date(started);
  await repo.save(job);
  const log = deps.log.child({ jobId, studyInstanceUid: job.studyInstanceUid });
  try {
    const model = deps.models.get(job.modelId);
    if (model.manifest.version !== job.modelVersion) {
      throw new SentinelError('conflict', `model ${job.modelId} is now version ${model.manifest.version}, the job asked for ${job.modelVersion}`);
    }
    const files = await fetchStudyImages(deps.dicomweb, job.studyInstanceUid, modalitiesOf(deps.config, job.pipeline));
    if (files.length === 0) throw new SentinelError('not_found', 'no images of the routed modality in the study');
    const out = await analyzeStudy({
      pipeline: job.pipeline as AnalysisOutput['result']['pipeline'],
      files,
      model: { manifest: model.manifest, run: (batch, n) => deps.models.run(job.modelId, batch, n) },
      config: deps.config,
      newUid,
      now: new Date(),
    });
    const outbox = await persist(deps.ds, job, out, started);
    for (const row of outbox) await enqueueDeliver(deps.queues, deps.config, row.id);
    log.info({ score: out.result.score, category: out.result.category, findings: allFindings(out.result).length, ms: job.durationMs }, 'study analysed');
    return 'succeeded';
  } catch (err) {
    const retry = isRetryable(err) && job.attempts < deps.config.jobs.analyzeAttempts;
    job.error = describeError(err);
    job.state = retry ? 'queued' : 'failed';
    if (!retry) {
      job.finishedAt = new Date();
      job.durationMs = Date.now() - started;
    }
    await repo.save(job);
    log.warn({ error: job.error, attempts: job.attempts, retry }, 'analysis failed');
    if (retry) throw err;
    return 'failed';
  }
}
