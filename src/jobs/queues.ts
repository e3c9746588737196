// The bull queues on Redis: "analyze" (one job per Sentinel job row), "deliver" (one job per
// outbox row), and "tiles" (one range of a large slide's tissue cells, scored by any worker
// and merged by the analysing job). Queue job ids are the database id and the row's epoch,
// so adding the same work twice is a no-op, and the database stays the source of truth: the
// sweeper (sweeper.ts) rebuilds a lost Redis from it, and a row handed on from a dead worker
// gets a new epoch, so the dead worker's queue entry finds nothing left to do.
import Queue from 'bull';
import type { Config } from '../config/schema';

export interface AnalyzeJobData {
  jobId: string;
  epoch: number;
}

export interface DeliverJobData {
  outboxId: string;
  epoch: number;
}

/** One range of a slide's tissue cells to score (see pipelines/wsi scoreCells). */
export interface TileJobData {
  jobId: string;
  studyInstanceUid: string;
  pipeline: string;
  /** The slide's Frame of Reference UID: which slide of the study, whatever else arrives meanwhile. */
  frameOfReferenceUid: string;
  modelId: string;
  modelVersion: string;
  level: number;
  cellPx: number;
  columns: number;
  cells: number[];
}

export interface Queues {
  analyze: Queue.Queue<AnalyzeJobData>;
  deliver: Queue.Queue<DeliverJobData>;
  tiles: Queue.Queue<TileJobData>;
  close(): Promise<void>;
}

/** Exponential backoff with a ceiling, so a receiver down for hours is still retried often enough. */
export function cappedBackoff(attemptsMade: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
}

export function createQueues(config: Config, onError: (queue: string, err: Error) => void = () => undefined): Queues {
  const { backoffMs, maxBackoffMs } = config.jobs;
  const settings = {
    backoffStrategies: { capped: (attemptsMade: number) => cappedBackoff(attemptsMade, backoffMs, maxBackoffMs) },
    // Bull renews a running job's lock every half of this. Whether an analysis or a delivery
    // is alive is decided by its lease in PostgreSQL, not by this lock; the lock matters for
    // tile ranges, whose worker may die: its range runs again elsewhere within a minute.
    lockDuration: 30_000,
    stalledInterval: 30_000,
    // A worker whose event loop is held by a long decode may miss a renewal; that is not a reason to fail the range.
    maxStalledCount: 3,
  };
  const opts = { prefix: config.redis.prefix, settings };
  const analyze = new Queue<AnalyzeJobData>('analyze', config.redis.url, opts);
  const deliver = new Queue<DeliverJobData>('deliver', config.redis.url, opts);
  const tiles = new Queue<TileJobData>('tiles', config.redis.url, opts);
  // A queue that loses Redis emits 'error'; with nobody listening Node would end the process.
  // The database holds the work, so a Redis outage is only reported.
  for (const [name, q] of [['analyze', analyze], ['deliver', deliver], ['tiles', tiles]] as const) {
    (q as Queue.Queue).on('error', (err: Error) => onError(name, err));
  }
  return {
    analyze,
    deliver,
    tiles,
    /**
     * Closed once, by the services that own them, after the workers stopped: work still
     * running then was handed back to the database already, so it is not waited for.
     */
    async close() {
      await Promise.all([analyze.close(true), deliver.close(true), tiles.close(true)]).catch(() => undefined);
    },
  };
}

export const queueJobId = (rowId: string, epoch: number): string => `${rowId}:${epoch}`;

export async function enqueueAnalyze(queues: Queues, config: Config, jobId: string, epoch: number, delayMs = 0): Promise<void> {
  await queues.analyze.add({ jobId, epoch }, {
    jobId: queueJobId(jobId, epoch),
    attempts: config.jobs.analyzeAttempts,
    backoff: { type: 'capped' },
    delay: delayMs,
    removeOnComplete: true,
    removeOnFail: true,
  });
}

export async function enqueueDeliver(queues: Queues, config: Config, outboxId: string, epoch: number, delayMs = 0): Promise<void> {
  await queues.deliver.add({ outboxId, epoch }, {
    jobId: queueJobId(outboxId, epoch),
    delay: delayMs,
    attempts: config.jobs.deliverAttempts,
    backoff: { type: 'capped' },
    removeOnComplete: true,
    removeOnFail: true,
  });
}

/**
 * Queueing that must not wait on Redis: the row in PostgreSQL is the truth, so when Redis is
 * down or slow the caller goes on and the sweeper queues the row once Redis answers (ioredis
 * would otherwise hold the command until it reconnects). True when it was queued.
 */
export async function enqueueOrLeave(add: Promise<void>, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
  try {
    return await Promise.race([add.then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Queue one range of cells; the analysing job waits for it with `job.finished()` and removes
 * it after merging (so the result is still there if the wait starts late).
 */
export function enqueueTiles(queues: Queues, config: Config, data: TileJobData, id: string): Promise<Queue.Job<TileJobData>> {
  return queues.tiles.add(data, { jobId: id, attempts: config.jobs.analyzeAttempts, backoff: { type: 'capped' }, removeOnFail: false, removeOnComplete: false });
}
