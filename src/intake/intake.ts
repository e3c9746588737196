// Every way in (Orthanc event, /changes poller, STOW-RS, API) ends here: look at the
// study's series in the PACS, route it, and create at most one job per dedupe key.
import type { DataSource } from 'typeorm';
import type { Config } from '../config/schema';
import { JobRow, type JobSource } from '../db/entities/job';
import { StudyRow } from '../db/entities/study';
import type { DicomwebClient } from '../dicomweb/client';
import type { Logger } from '../log/logger';
import { type Queues, enqueueAnalyze } from '../jobs/queues';
import { type ModelVersion, routeStudy } from './routing';

export interface IntakeDeps {
  config: Config;
  ds: DataSource;
  queues: Queues;
  dicomweb: DicomwebClient;
  findModel: (id: string) => ModelVersion | undefined;
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
  const series = await deps.dicomweb.searchSeries(studyInstanceUid);
  if (series.length === 0) return { outcome: 'ignored', reason: 'study not found in the PACS' };
  const decision = routeStudy(studyInstanceUid, series.map((s) => s.modality), deps.config.routing.rules, deps.findModel);

  await deps.ds.createQueryBuilder().insert().into(StudyRow)
    .values({ studyInstanceUid, modalities: decision.modalities })
    .orUpdate(['modalities', 'updated_at'], ['study_instance_uid'])
    .execute();

  if (decision.kind === 'ignore') {
    deps.log.info({ studyInstanceUid, source, reason: decision.reason }, 'study not routed');
    return { outcome: 'ignored', reason: decision.reason };
  }

  const inserted = await deps.ds.createQueryBuilder().insert().into(JobRow)
    .values({
      studyInstanceUid,
      pipeline: decision.pipeline,
      modelId: decision.model.id,
      modelVersion: decision.model.version,
      dedupeKey: decision.dedupeKey,
      state: 'queued',
      source,
    })
    .orIgnore()
    .returning(['id'])
    .execute();
  const newId = (inserted.raw as Array<{ id: string }>)[0]?.id;
  if (!newId) {
    const existing = await deps.ds.getRepository(JobRow).findOneByOrFail({ dedupeKey: decision.dedupeKey });
    deps.log.info({ studyInstanceUid, source, jobId: existing.id }, 'study already analysed or queued: not queued again');
    return { outcome: 'duplicate', jobId: existing.id };
  }
  await enqueueAnalyze(deps.queues, deps.config, newId, options.delayMs ?? 0);
  deps.log.info({ studyInstanceUid, source, jobId: newId, pipeline: decision.pipeline, model: decision.model }, 'study queued');
  return { outcome: 'queued', jobId: newId };
}

/**
 * Re-queue jobs the database says are unfinished: after a restart, or a Redis that lost
 * its data, nothing stays stranded. Queue job ids are the row ids, so a job still in the
 * queue is not added twice.
 */
export async function requeueUnfinished(deps: Pick<IntakeDeps, 'ds' | 'queues' | 'config' | 'log'>): Promise<number> {
  const rows = await deps.ds.getRepository(JobRow).find({ where: [{ state: 'queued' }, { state: 'running' }], select: { id: true } });
  for (const row of rows) await enqueueAnalyze(deps.queues, deps.config, row.id);
  if (rows.length > 0) deps.log.info({ count: rows.length }, 'unfinished jobs re-queued');
  return rows.length;
}
