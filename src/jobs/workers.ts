// The worker side: bull processors for the three queues, and the sweeper that keeps the queues
// in step with PostgreSQL (at start, and every `jobs.sweepIntervalMs` while running). On
// stop, work in flight may finish for `jobs.shutdownGraceMs`; what is still running then is
// handed back (a new epoch, queued again) so another worker takes it at once.
import { WORKER_ID, handOver, leasesOwned } from '../db/leases';
import { nativeJpegAvailable } from '../dicom/pixels/turbojpeg';
import { type DeliveryDeps, nextPendingInOrder, processDeliverJob } from '../delivery/outbox';
import { type AnalyzeDeps, processAnalyzeJob, processTileJob } from './analyze-job';
import { enqueueAnalyze, enqueueDeliver, enqueueOrLeave } from './queues';
import { type SweepDeps, startSweeper } from './sweeper';

/** What the workers use: the analysis, delivery and sweeper dependencies together. */
export type WorkerDeps = AnalyzeDeps & DeliveryDeps & SweepDeps;

export interface Workers {
  close(): Promise<void>;
}

/** Give up what this process still holds: each row queued again under a new epoch. */
async function handBack(services: WorkerDeps): Promise<number> {
  const { ds, queues, config } = services;
  let count = 0;
  for (const table of ['jobs', 'outbox'] as const) {
    for (const { id } of await leasesOwned(ds, table)) {
      const epoch = await handOver(ds, table, id, { owner: WORKER_ID });
      if (epoch === undefined) continue;
      await enqueueOrLeave(table === 'jobs' ? enqueueAnalyze(queues, config, id, epoch) : enqueueDeliver(queues, config, id, epoch));
      count++;
    }
  }
  return count;
}

export async function startWorkers(services: WorkerDeps, options: { analyzeConcurrency?: number; deliverConcurrency?: number } = {}): Promise<Workers> {
  const { queues, config, log } = services;
  const active = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    active.add(work);
    void work.finally(() => active.delete(work)).catch(() => undefined);
    return work;
  };
  void queues.analyze.process(options.analyzeConcurrency ?? 1, (job) => track(processAnalyzeJob(services, job.data.jobId, job.data.epoch ?? 0)));
  void queues.deliver.process(options.deliverConcurrency ?? 4, (job) => track((async () => {
    const outcome = await processDeliverJob(services, job.data.outboxId, config.jobs.deliverAttempts, job.data.epoch ?? 0).catch(async (err: unknown) => {
      await kickNextInOrder(services);
      throw err;
    });
    // An ORU settled (or found waiting behind another): the oldest pending one of each in-order kind may go now.
    if (outcome !== 'gone') await kickNextInOrder(services);
    return outcome;
  })()));
  void queues.tiles.process(1, (job) => track(processTileJob(services, job.data)));
  const sweeper = startSweeper(services);
  await sweeper.ready;
  if (!nativeJpegAvailable()) log.warn('libturbojpeg0 is not installed: JPEG frames are decoded by the wasm build, at about 4 times the CPU time');
  log.info('workers started');
  return {
    async close() {
      await sweeper.stop();
      // Take no more work; let what runs finish for a while, then hand back the rest.
      await Promise.all([queues.analyze.pause(true, true), queues.deliver.pause(true, true), queues.tiles.pause(true, true)]).catch(() => undefined);
      const grace = new Promise((r) => setTimeout(r, config.jobs.shutdownGraceMs).unref());
      await Promise.race([Promise.allSettled([...active]), grace]);
      const handed = await handBack(services).catch(() => 0);
      if (handed > 0) log.info({ count: handed }, 'unfinished work handed back at shutdown');
      // The queues themselves belong to the services, which close them once, last.
    },
  };
}

async function kickNextInOrder(services: WorkerDeps): Promise<void> {
  const next = await nextPendingInOrder(services.ds).catch(() => []);
  for (const row of next) if (!row.leaseOwner) await enqueueOrLeave(enqueueDeliver(services.queues, services.config, row.id, row.epoch));
}

/** The workers as a component of the process (service/lifecycle.ts): started, then stopped with hand-back. */
export function workersComponent(deps: WorkerDeps, options: { analyzeConcurrency?: number; deliverConcurrency?: number } = {}): { name: string; start(): Promise<void>; stop(): Promise<void> } {
  let workers: Workers | undefined;
  return {
    name: 'workers',
    async start() {
      workers = await startWorkers(deps, options);
    },
    async stop() {
      await workers?.close();
      workers = undefined;
    },
  };
}
