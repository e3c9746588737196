// The bull queues on Redis: "analyze" (one job per Sentinel job row), "deliver" (one job per
// outbox row), and "tiles" (one range of a large slide's tissue cells, scored by any worker
// and merged by the analysing job). Queue job ids are the database ids, so adding the same work twice is
// a no-op, and the database stays the source of truth: a lost Redis is rebuilt from it.
import Queue from 'bull';
import type { Config } from '../config/schema';

export interface AnalyzeJobData {
  jobId: string;
}

export interface DeliverJobData {
  outboxId: string;
}

/** One range of a slide's tissue cells to score (see pipelines/wsi scoreCells). */
export interface TileJobData {
  jobId: string;
  studyInstanceUid: string;
  /** Which of the study's slides (in describeStudySlides order). */
  slide: number;
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

export function createQueues(config: Config): Queues {
  const { backoffMs, maxBackoffMs } = config.jobs;
  const settings = {
    backoffStrategies: { capped: (attemptsMade: number) => cappedBackoff(attemptsMade, backoffMs, maxBackoffMs) },
    // A slide can keep a worker busy for minutes: do not declare it stalled too early.
    lockDuration: 5 * 60_000,
  };
  const opts = { prefix: config.redis.prefix, settings };
  const analyze = new Queue<AnalyzeJobData>('analyze', config.redis.url, opts);
  const deliver = new Queue<DeliverJobData>('deliver', config.redis.url, opts);
  const tiles = new Queue<TileJobData>('tiles', config.redis.url, opts);
  return {
    analyze,
    deliver,
    tiles,
    async close() {
      await Promise.all([analyze.close(), deliver.close(), tiles.close()]);
    },
  };
}

export async function enqueueAnalyze(queues: Queues, config: Config, jobId: string, delayMs = 0): Promise<void> {
  await queues.analyze.add({ jobId }, {
    jobId,
    attempts: config.jobs.analyzeAttempts,
    backoff: { type: 'capped' },
    delay: delayMs,
    removeOnComplete: true,
    removeOnFail: true,
  });
}

export async function enqueueDeliver(queues: Queues, config: Config, outboxId: string): Promise<void> {
  await queues.deliver.add({ outboxId }, {
    jobId: outboxId,
    attempts: config.jobs.deliverAttempts,
    backoff: { type: 'capped' },
    removeOnComplete: true,
    removeOnFail: true,
  });
}

/**
 * Queue one range of cells; the analysing job waits for it with `job.finished()` and removes
 * it after merging (so the result is still there if the wait starts late).
 */
export function enqueueTiles(queues: Queues, config: Config, data: TileJobData, id: string): Promise<Queue.Job<TileJobData>> {
  return queues.tiles.add(data, { jobId: id, attempts: config.jobs.analyzeAttempts, backoff: { type: 'capped' }, removeOnFail: false, removeOnComplete: false });
}
