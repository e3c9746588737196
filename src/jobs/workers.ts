// The worker side: bull processors for the two queues, plus recovery at start so that jobs
// and outbox rows the database says are unfinished are queued again after any restart.
import { OutboxRow } from '../db/entities/outbox';
import { processDeliverJob } from '../delivery/outbox';
import { requeueUnfinished } from '../intake/intake';
import type { Services } from '../service/services';
import { processAnalyzeJob, processTileJob } from './analyze-job';
import { enqueueDeliver } from './queues';

export async function requeueUndelivered(services: Services): Promise<number> {
  const rows = await services.ds.getRepository(OutboxRow).find({ where: { state: 'pending' }, select: { id: true } });
  for (const row of rows) await enqueueDeliver(services.queues, services.config, row.id);
  return rows.length;
}

export interface Workers {
  close(): Promise<void>;
}

export async function startWorkers(services: Services, options: { analyzeConcurrency?: number; deliverConcurrency?: number } = {}): Promise<Workers> {
  const { queues, config } = services;
  void queues.analyze.process(options.analyzeConcurrency ?? 1, (job) => processAnalyzeJob(services, job.data.jobId));
  void queues.deliver.process(options.deliverConcurrency ?? 2, (job) => processDeliverJob(services, job.data.outboxId, config.jobs.deliverAttempts));
  void queues.tiles.process(1, (job) => processTileJob(services, job.data));
  await requeueUnfinished(services);
  const pending = await requeueUndelivered(services);
  if (pending > 0) services.log.info({ count: pending }, 'undelivered outputs re-queued');
  services.log.info('workers started');
  return {
    async close() {
      await Promise.all([queues.analyze.close(), queues.deliver.close(), queues.tiles.close()]);
    },
  };
}
