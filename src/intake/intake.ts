// Every way in (Orthanc event, /changes poller, STOW-RS, API) ends here: look at the
// study's series in the PACS, route it, and create at most one job per dedupe key.
import type { DataSource } from 'typeorm';
import type { Config } from '../config/schema';
import { JobRow, type JobSource } from '../db/entities/job';
import { StudyRow } from '../db/entities/study';
import { recordAudit } from '../db/audit';
import { studiesReceived } from '../metrics/metrics';
import type { DicomwebClient } from '../dicomweb/client';
import type { Logger } from '../log/logger';
import { type Queues, enqueueAnalyze, enqueueOrLeave } from '../jobs/queues';
import { imageSetOf } from '../analysis/image-set';
import { type PipelineName, pipelineNamed } from '../pipelines/registry';
import { type ModelVersion, routeStudy } from '../pipelines/routing';

export interface IntakeDeps {
  config: Config;
  ds: DataSource;
  queues: Queues;
  dicomweb: DicomwebClient;
  findModel: (id: string) => ModelVersion | undefined;
  /** The installed companion models of a pipeline: part of the job's identity. */
  findCompanions: (pipeline: PipelineName) => readonly ModelVersion[];
  log: Logger;
}

export type IntakeOutcome =
  | { outcome: 'queued'; jobId: string }
  | { outcome: 'duplicate'; jobId: string }
  | { outcome: 'ignored'; reason: string };

export async function intakeStudy(
  deps: IntakeDeps,
  studyInstanceUid: string,
  source: JobSource,
  options: { delayMs?: number } = {},
): Promise<IntakeOutcome> {
  const outcome = await takeIn(deps, studyInstanceUid, source, options);
  studiesReceived.inc({ path: source, outcome: outcome.outcome });
  return outcome;
}

async function takeIn(deps: IntakeDeps, studyInstanceUid: string, source: JobSource, options: { delayMs?: number }): Promise<IntakeOutcome> {
  const series = await deps.dicomweb.searchSeries(studyInstanceUid);
  if (series.length === 0) return { outcome: 'ignored', reason: 'study not found in the PACS' };
  const decision = routeStudy(studyInstanceUid, series.map((s) => s.modality), deps.config.routing.rules, deps.findModel, deps.findCompanions);

  await deps.ds.createQueryBuilder().insert().into(StudyRow)
    .values({ studyInstanceUid, modalities: decision.modalities })
    .orUpdate(['modalities', 'updated_at'], ['study_instance_uid'])
    .execute();

  const channel = source === 'orthanc-event' || source === 'orthanc-changes' || source === 'stow-rs' || source === 'dimse' ? source : undefined;
  if (channel) {
    await recordAudit(deps.ds, {
      direction: 'in', channel, peer: deps.dicomweb.target.url, studyInstanceUid,
      outcome: decision.kind === 'ignore' ? 'refused' : 'accepted',
      detail: decision.kind === 'ignore' ? decision.reason : `${decision.pipeline} ${decision.model.id}@${decision.model.version}${decision.companions ? ` with ${decision.companions}` : ''}`,
    });
  }
  if (decision.kind === 'ignore') {
    deps.log.info({ studyInstanceUid, source, reason: decision.reason }, 'study not routed');
    return { outcome: 'ignored', reason: decision.reason };
  }

  // Which images the pipeline would analyse now, against what this study's earlier jobs (same
  // pipeline and model) saw: the same images are never analysed twice; a job still waiting
  // will read whatever is there when it runs; new images after an analysis began give a new
  // job (unless reanalyse is never), keyed by their fingerprint.
  const imageSet = await imageSetOf(deps.dicomweb, studyInstanceUid, pipelineNamed(decision.pipeline));
  const earlier = await deps.ds.getRepository(JobRow).find({
    where: { studyInstanceUid, pipeline: decision.pipeline, modelId: decision.model.id, modelVersion: decision.model.version, companions: decision.companions },
    order: { createdAt: 'DESC' },
  });
  const same = earlier.find((j) => j.imageSet === imageSet) ?? earlier.find((j) => j.state === 'queued' && !j.leaseOwner)
    ?? (deps.config.reanalyse === 'never' ? earlier[0] : undefined);
  if (same) return duplicate(deps, same, studyInstanceUid, source);
  const dedupeKey = earlier.length === 0 ? decision.dedupeKey : `${decision.dedupeKey}|${imageSet}`;

  const inserted = await deps.ds.createQueryBuilder().insert().into(JobRow)
    .values({
      studyInstanceUid,
      pipeline: decision.pipeline,
      modelId: decision.model.id,
      modelVersion: decision.model.version,
      companions: decision.companions,
      dedupeKey,
      imageSet,
      state: 'queued',
      source,
    })
    .orIgnore()
    .returning(['id'])
    .execute();
  const newId = (inserted.raw as Array<{ id: string }>)[0]?.id;
  if (!newId) return duplicate(deps, await deps.ds.getRepository(JobRow).findOneByOrFail({ dedupeKey }), studyInstanceUid, source);
  if (earlier.length > 0) deps.log.info({ studyInstanceUid, jobId: newId, earlier: earlier[0]?.id }, 'study changed since its analysis: analysed again');
  // The row is the truth: with Redis down the study is still taken in, and the sweeper queues it.
  const queued = await enqueueOrLeave(enqueueAnalyze(deps.queues, deps.config, newId, 0, options.delayMs ?? 0));
  deps.log.info({ studyInstanceUid, source, jobId: newId, pipeline: decision.pipeline, model: decision.model, queued }, queued ? 'study queued' : 'study taken in; Redis did not answer, the sweeper will queue it');
  return { outcome: 'queued', jobId: newId };
}

/** An existing job covers it: make sure a queue entry carries it if it still waits (a no-op when one does). */
async function duplicate(deps: IntakeDeps, existing: JobRow, studyInstanceUid: string, source: JobSource): Promise<IntakeOutcome> {
  // Still waiting: a Redis that lost its data costs no sweep interval for a study that arrives again.
  if (existing.state === 'queued' && !existing.leaseOwner) await enqueueOrLeave(enqueueAnalyze(deps.queues, deps.config, existing.id, existing.epoch));
  deps.log.info({ studyInstanceUid, source, jobId: existing.id, state: existing.state }, 'study already analysed or queued with these images: not queued again');
  return { outcome: 'duplicate', jobId: existing.id };
}
