// Leases in PostgreSQL: which worker process works on a job or an outbox row, and until when.
// A worker renews its lease every third of `jobs.leaseMs`; the sweeper hands a row whose
// lease ran out (or whose owner is a dead process on this host) to another worker and raises
// the row's epoch, so the old queue entry, and the old worker if it was only slow, find the
// row no longer theirs. Whatever a worker writes at the end is guarded by owner and epoch.
import crypto from 'node:crypto';
import os from 'node:os';
import type { DataSource, EntityManager } from 'typeorm';
import { SentinelError } from '../errors/errors';

export type LeasedTable = 'jobs' | 'outbox';

/** This process, as lease owner: host, pid (to tell a dead local process at once) and a nonce. */
export const WORKER_ID = `${os.hostname()}/${process.pid}/${crypto.randomBytes(4).toString('hex')}`;

/** An owner that is a process on this host which no longer exists: its lease is worth nothing. */
export function ownerIsDeadHere(owner: string | null, host = os.hostname()): boolean {
  if (!owner) return false;
  const [ownerHost, pidText] = owner.split('/');
  const pid = Number(pidText);
  if (ownerHost !== host || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Thrown where a worker finds that its lease was handed on: it stops without writing. */
export class LeaseLost extends SentinelError {
  constructor(readonly table: LeasedTable, readonly id: string) {
    super('conflict', `the lease on ${table} ${id} was handed to another worker`);
    this.name = 'LeaseLost';
  }
}

/** A duration as a PostgreSQL interval literal, for `now() + $n::interval`. */
export const leaseInterval = (ms: number): string => `${Math.round(ms)} milliseconds`;

/** Extend the lease; false when it is no longer ours. */
export async function renewLease(ds: DataSource, table: LeasedTable, id: string, epoch: number, leaseMs: number, owner = WORKER_ID): Promise<boolean> {
  const [, affected] = await ds.query(
    `update "${table}" set lease_until = now() + $4::interval where id = $1 and epoch = $2 and lease_owner = $3`,
    [id, epoch, owner, leaseInterval(leaseMs)],
  ) as [unknown, number];
  return affected === 1;
}

/** Inside the transaction that writes a row's result: lock it and check it is still ours. */
export async function assertLeaseHeld(m: EntityManager, table: LeasedTable, id: string, epoch: number, owner = WORKER_ID): Promise<void> {
  const rows = await m.query(`select lease_owner, epoch from "${table}" where id = $1 for update`, [id]) as Array<{ lease_owner: string | null; epoch: number }>;
  const row = rows[0];
  if (!row || row.lease_owner !== owner || row.epoch !== epoch) throw new LeaseLost(table, id);
}

export interface HeldLease {
  /** Set once a renewal found the lease gone. */
  readonly lost: boolean;
  stop(): void;
}

/** Renew the lease in the background while the work runs. */
export function holdLease(ds: DataSource, table: LeasedTable, id: string, epoch: number, leaseMs: number, onLost: () => void = () => undefined): HeldLease {
  let lost = false;
  const timer = setInterval(() => {
    renewLease(ds, table, id, epoch, leaseMs).then((held) => {
      if (!held && !lost) {
        lost = true;
        onLost();
      }
    }, () => undefined); // a database hiccup: the next renewal tries again
  }, Math.max(200, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    get lost() { return lost; },
    stop: () => clearInterval(timer),
  };
}

/** The rows this process still holds (at shutdown, to hand them back). */
export async function leasesOwned(ds: DataSource, table: LeasedTable, owner = WORKER_ID): Promise<Array<{ id: string; epoch: number }>> {
  return ds.query(`select id, epoch from "${table}" where lease_owner = $1`, [owner]) as Promise<Array<{ id: string; epoch: number }>>;
}


/**
 * Take a row from its lease holder and make it waiting again under a new epoch (a job back to
 * `queued`), so another worker runs it and the holder's queue entry finds nothing to do. Only
 * while `owner` (and `epoch`, when given) still hold it; `reason` goes on the row. The new
 * epoch, or undefined when the lease had moved on meanwhile.
 */
export async function handOver(ds: DataSource, table: LeasedTable, id: string, from: { owner: string; epoch?: number; reason?: string }): Promise<number | undefined> {
  const sets = ['epoch = epoch + 1', 'lease_owner = null', 'lease_until = null'];
  if (table === 'jobs') sets.push(`state = 'queued'`);
  const params: unknown[] = [id, from.owner];
  if (from.reason !== undefined) {
    params.push(from.reason);
    sets.push(`${table === 'jobs' ? 'error' : 'last_error'} = $${params.length}`);
  }
  let where = 'id = $1 and lease_owner = $2';
  if (from.epoch !== undefined) {
    params.push(from.epoch);
    where += ` and epoch = $${params.length}`;
  }
  const [rows] = await ds.query(`update "${table}" set ${sets.join(', ')} where ${where} returning epoch`, params) as [Array<{ epoch: number }>, number];
  return rows[0]?.epoch;
}
