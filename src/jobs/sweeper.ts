// PostgreSQL is the truth; Redis only carries the work. Every worker process compares the two
// every `jobs.sweepIntervalMs` and at start: a job or message the database says is waiting
// but no queue entry carries (Redis emptied, restarted, or down when it was made) is queued
// again, and one whose worker's lease ran out (a killed process, a lost host) is handed on
// with a new epoch. Queue ids are row id + epoch, so queueing what is still queued is a no-op.
// It is the one place where lost work is recovered: at start, then every interval (the tile
// ranges this process waits for included, tile-ranges.ts).
import type { DataSource } from 'typeorm';
import type { Config } from '../config/schema';
import { handOver, ownerIsDeadHere } from '../db/leases';
import type { Logger } from '../log/logger';
import { describeError } from '../errors/errors';
import { type Queues, cappedBackoff, enqueueAnalyze, enqueueDeliver } from './queues';
import { requeueLostRanges } from './tile-ranges';

export interface SweepDeps {
  ds: DataSource;
  queues: Queues;
  config: Config;
  log: Logger;
}

export interface SweepResult {
  /** Rows queued again because no queue entry was known to carry them. */
  queued: number;
  /** Rows taken from a worker whose lease ran out, and queued under a new epoch. */
  handedOn: number;
  /** Tile ranges this process waits for whose queue entries were lost, queued again. */
  tileRanges: number;
}

interface Candidate {
  id: string;
  epoch: number;
  attempts: number;
  lease_owner: string | null;
  lease_live: boolean;
}

const BATCH = 1000;

async function candidates(ds: DataSource, table: 'jobs' | 'outbox'): Promise<Candidate[]> {
  const waiting = table === 'jobs' ? `state in ('queued', 'running')` : `state = 'pending'`;
  return ds.query(
    `select id, epoch, attempts, lease_owner, coalesce(lease_until > now(), false) as lease_live
     from "${table}" where ${waiting} order by created_at limit ${BATCH}`,
  ) as Promise<Candidate[]>;
}

export async function sweepOnce(deps: SweepDeps): Promise<SweepResult> {
  const { ds, queues, config, log } = deps;
  const result: SweepResult = { queued: 0, handedOn: 0, tileRanges: 0 };
  const { backoffMs, maxBackoffMs } = config.jobs;
  for (const table of ['jobs', 'outbox'] as const) {
    const enqueue = (id: string, epoch: number, delay: number): Promise<void> => (table === 'jobs'
      ? enqueueAnalyze(queues, config, id, epoch, delay)
      : enqueueDeliver(queues, config, id, epoch, delay));
    for (const row of await candidates(ds, table)) {
      const dead = row.lease_owner !== null && (!row.lease_live || ownerIsDeadHere(row.lease_owner));
      if (row.lease_owner !== null && !dead) continue; // someone is working on it
      if (dead) {
        const reason = `worker ${row.lease_owner ?? '?'} stopped while working on it (lease ${row.lease_live ? 'of a dead process' : 'expired'}); handed on`;
        // One conditional update: two sweepers cannot both take it.
        const epoch = await handOver(ds, table, row.id, { owner: row.lease_owner as string, epoch: row.epoch, reason });
        if (epoch === undefined) continue; // renewed or taken meanwhile
        await enqueue(row.id, epoch, 0);
        log.warn({ [table === 'jobs' ? 'jobId' : 'outboxId']: row.id, epoch }, 'work of a stopped worker handed on');
        result.handedOn++;
        continue;
      }
      // Not leased: make sure a queue entry carries it (a no-op when one does). A row that
      // failed before waits its backoff again rather than hammering what refused it.
      const queue = table === 'jobs' ? queues.analyze : queues.deliver;
      if (await queue.getJob(`${row.id}:${row.epoch}`)) continue;
      await enqueue(row.id, row.epoch, row.attempts > 0 ? cappedBackoff(row.attempts, backoffMs, maxBackoffMs) : 0);
      result.queued++;
    }
  }
  result.tileRanges = await requeueLostRanges(queues, config);
  if (result.tileRanges > 0) log.warn({ count: result.tileRanges }, 'tile ranges lost from the queue; queued again');
  if (result.queued + result.handedOn > 0) log.info({ ...result }, 'sweep: work queued again from PostgreSQL');
  return result;
}

export interface Sweeper {
  /** Resolves after the first pass (so a start has re-queued everything before it says so). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** A pass that takes longer than the interval (Redis or PostgreSQL down) is not stacked up. */
export function startSweeper(deps: SweepDeps): Sweeper {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const pass = async (): Promise<void> => {
    try {
      await sweepOnce(deps);
    } catch (err) {
      deps.log.warn({ error: describeError(err) }, 'sweep failed; will try again');
    }
  };
  const loop = (): void => {
    if (stopped) return;
    running = pass().then(() => {
      if (!stopped) timer = setTimeout(loop, deps.config.jobs.sweepIntervalMs);
    });
  };
  loop();
  const ready = running;
  return {
    ready,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      // A pass stuck on a Redis that is down must not hold up a shutdown.
      await Promise.race([running, new Promise((r) => setTimeout(r, 5000).unref())]);
    },
  };
}

