// The two bull queues on Redis: "analyze" (one job per Sentinel job row) and "deliver" (one
// job per outbox row). Queue job ids are the database ids, so adding the same work twice is
// a no-op, and the database stays the source of truth: a lost Redis is rebuilt from it.
import Queue from 'bull';
import type { Config } from '../config/schema';

export interface AnalyzeJobData {
  jobId: string;
}

export interface DeliverJobData {
  outboxId: string;
}

export interface Queues {
  analyze: Queue.Queue<AnalyzeJobData>;
  deliver: Queue.Queue<DeliverJobData>;
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
  return {
    analyze,
    deliver,
    async close() {
      await Promise.all([analyze.close(), deliver.close()]);
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
