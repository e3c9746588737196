// Every way in (Orthanc event, /changes poller, STOW-RS, API) ends here: look at the
// study's series in the PACS, route it, and create at most one job per dedupe key.
import type { DataSource } from 'typeorm';
import type { Config } from '../config/schema';
import { JobRow, type JobSource } from '../db/entities/job';
import { StudyRow } from '../db/entities/study';
import { recordAudit } from '../db/audit';
import type { DicomwebClient } from '../dicomweb/client';
import type { Logger } from '../log/logger';
import { type Queues, enqueueAnalyze, enqueueOrLeave } from '../jobs/queues';
import { type ModelVersion, routeStudy } from '../pipelines/routing';

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

  const channel = source === 'orthanc-event' || source === 'orthanc-changes' || source === 'stow-rs' || source === 'dimse' ? source : undefined;
  if (channel) {
    await recordAudit(deps.ds, {
      direction: 'in', channel, peer: deps.dicomweb.target.url, studyInstanceUid,
      outcome: decision.kind === 'ignore' ? 'refused' : 'accepted',
      detail: decision.kind === 'ignore' ? decision.reason : `${decision.pipeline} ${decision.model.id}@${decision.model.version}`,
    });
  }
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
    // Still waiting: make sure a queue entry carries it (a no-op when one does), so a Redis
    // that lost its data costs no sweep interval for a study that arrives again.
    if (existing.state === 'queued' && !existing.leaseOwner) await enqueueOrLeave(enqueueAnalyze(deps.queues, deps.config, existing.id, existing.epoch));
    deps.log.info({ studyInstanceUid, source, jobId: existing.id, state: existing.state }, 'study already analysed or queued: not queued again');
    return { outcome: 'duplicate', jobId: existing.id };
  }
  // The row is the truth: with Redis down the study is still taken in, and the sweeper queues it.
  const queued = await enqueueOrLeave(enqueueAnalyze(deps.queues, deps.config, newId, 0, options.delayMs ?? 0));
  deps.log.info({ studyInstanceUid, source, jobId: newId, pipeline: decision.pipeline, model: decision.model, queued }, queued ? 'study queued' : 'study taken in; Redis did not answer, the sweeper will queue it');
  return { outcome: 'queued', jobId: newId };
}
