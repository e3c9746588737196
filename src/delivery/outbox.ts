// Sends one outbox row and records the receiver's answer. A failure that may pass (server
// down, timeout, HL7 AE) is recorded and rethrown so the deliver queue retries it with
// capped backoff; one that cannot pass (HL7 AR, a refused object) is marked failed at once.
import { type DataSource, IsNull } from 'typeorm';
import type { Config } from '../config/schema';
import { JobRow } from '../db/entities/job';
import { OutboxRow } from '../db/entities/outbox';
import type { DicomJson, DicomwebClient } from '../dicomweb/client';
import { SentinelError, describeError, isRetryable } from '../errors/errors';
import type { Logger } from '../log/logger';
import { checkAck } from '../reports/hl7';
import { sendMllp } from './mllp/send';
import { recordAudit } from '../db/audit';
import { LeaseLost, WORKER_ID, assertLeaseHeld, holdLease, leaseInterval } from '../db/leases';

export interface DeliveryDeps {
  ds: DataSource;
  config: Config;
  dicomweb: DicomwebClient;
  log: Logger;
}

/** Orthanc and others report a re-sent instance as a failure "duplicate" (0x0111): it is there. */
const ALREADY_STORED = 0x0111;

function failedReasons(response: DicomJson | undefined): number[] {
  const failed = response?.['00081198']?.Value as DicomJson[] | undefined;
  return (failed ?? []).map((item) => Number(item['00081197']?.Value?.[0] ?? 0));
}

async function deliverStow(deps: DeliveryDeps, row: OutboxRow): Promise<string> {
  const response = await deps.dicomweb.store([row.payload]);
  const reasons = failedReasons(response).filter((r) => r !== ALREADY_STORED);
  if (reasons.length > 0) {
    throw new SentinelError('bad_request', `PACS refused ${row.label} ${row.objectUid}: failure reason 0x${reasons[0]?.toString(16).padStart(4, '0')}`);
  }
  const stored = (response?.['00081199']?.Value ?? []).length;
  return `stored (${stored} referenced SOP instance${stored === 1 ? '' : 's'} in response)`;
}

async function deliverHl7(deps: DeliveryDeps, row: OutboxRow): Promise<string> {
  const ack = await sendMllp(row.payload.toString('utf8'), deps.config.hl7.destination);
  const verdict = checkAck(ack, row.objectUid);
  if (!verdict.ok) throw new SentinelError(verdict.retryable ? 'unavailable' : 'bad_request', `HIS did not accept ${row.label}: ${verdict.reason}`, verdict.retryable);
  return ack;
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'gone' | 'waiting';

/**
 * Take the row if this queue entry may send it and nobody holds a live lease on it. The
 * attempt is counted and timed here, before anything is sent, so a send cut short by a crash
 * is still on the row. An ORU waits while an older ORU is still pending: the HIS receives
 * results in the order they were made.
 */
async function claimRow(ds: DataSource, outboxId: string, epoch: number, leaseMs: number): Promise<'claimed' | 'waiting' | 'gone'> {
  const [rows] = await ds.query(
    `update outbox o set attempts = attempts + 1, last_attempt_at = now(), lease_owner = $3, lease_until = now() + $4::interval
     where id = $1 and epoch = $2 and state = 'pending' and (lease_until is null or lease_until < now())
       and not (kind = 'hl7' and exists (select 1 from outbox e where e.kind = 'hl7' and e.state = 'pending' and e.id <> o.id
                                         and (e.created_at, e.id) < (o.created_at, o.id)))
     returning id`,
    [outboxId, epoch, WORKER_ID, leaseInterval(leaseMs)],
  ) as [Array<{ id: string }>, number];
  if (rows.length === 1) return 'claimed';
  const row = await ds.getRepository(OutboxRow).findOneBy({ id: outboxId });
  if (!(row && row.state === 'pending' && row.epoch === epoch && !row.leaseOwner)) return 'gone';
  if (row.kind === 'hl7' && !row.lastError) {
    await ds.getRepository(OutboxRow).update({ id: row.id, lastError: IsNull() }, { lastError: 'waiting for an earlier ORU to be acknowledged (results reach the HIS in order)' });
  }
  return 'waiting';
}

/** The oldest pending ORU: the one that may go next. */
export async function nextPendingHl7(ds: DataSource): Promise<OutboxRow | null> {
  return ds.getRepository(OutboxRow).findOne({ where: { kind: 'hl7', state: 'pending' }, order: { createdAt: 'ASC', id: 'ASC' } });
}

function peerOf(deps: DeliveryDeps, row: OutboxRow): string {
  const { host, port } = deps.config.hl7.destination;
  return row.kind === 'hl7' ? `mllp://${host}:${port}` : deps.dicomweb.target.url;
}

export async function processDeliverJob(deps: DeliveryDeps, outboxId: string, maxAttempts: number, epoch = 0): Promise<DeliveryOutcome> {
  const claim = await claimRow(deps.ds, outboxId, epoch, deps.config.jobs.leaseMs);
  if (claim !== 'claimed') return claim;
  const repo = deps.ds.getRepository(OutboxRow);
  const row = await repo.findOneByOrFail({ id: outboxId });
  const job = await deps.ds.getRepository(JobRow).findOne({ where: { id: row.jobId }, select: { studyInstanceUid: true } });
  const audit = {
    direction: 'out' as const, channel: row.kind === 'hl7' ? 'mllp' as const : 'dicomweb' as const, peer: peerOf(deps, row),
    studyInstanceUid: job?.studyInstanceUid, objectUid: row.objectUid, jobId: row.jobId, outboxId: row.id,
  };
  await recordAudit(deps.ds, { ...audit, outcome: 'sending', detail: `${row.label} attempt ${row.attempts}` });
  const lease = holdLease(deps.ds, 'outbox', row.id, row.epoch, deps.config.jobs.leaseMs);
  try {
    const response = row.kind === 'stow' ? await deliverStow(deps, row) : await deliverHl7(deps, row);
    await settle(deps.ds, row, { state: 'delivered', deliveredAt: new Date(), lastError: null, response });
    await recordAudit(deps.ds, { ...audit, outcome: 'delivered', detail: row.kind === 'hl7' ? firstSegment(response, 'MSA') : response });
    deps.log.info({ outboxId, jobId: row.jobId, label: row.label, objectUid: row.objectUid, attempts: row.attempts }, 'delivered');
    return 'delivered';
  } catch (err) {
    if (err instanceof LeaseLost) return 'gone';
    const lastError = describeError(err);
    const retry = isRetryable(err) && row.attempts < maxAttempts;
    try {
      await settle(deps.ds, row, { state: retry ? 'pending' : 'failed', lastError });
    } catch (e) {
      if (e instanceof LeaseLost) return 'gone';
      throw e;
    }
    await recordAudit(deps.ds, { ...audit, outcome: 'failed', detail: lastError });
    deps.log.warn({ outboxId, jobId: row.jobId, label: row.label, attempts: row.attempts, error: lastError, retry }, 'delivery failed');
    if (retry) throw err;
    return 'failed';
  } finally {
    lease.stop();
  }
}

/** Write the attempt's end, only while the lease is still ours. */
async function settle(ds: DataSource, row: OutboxRow, changes: Partial<OutboxRow>): Promise<void> {
  await ds.transaction(async (m) => {
    await assertLeaseHeld(m, 'outbox', row.id, row.epoch);
    await m.getRepository(OutboxRow).update({ id: row.id }, { ...changes, leaseOwner: null, leaseUntil: null });
  });
}

function firstSegment(message: string, name: string): string {
  return message.split(/\r\n?|\n/).find((s) => s.startsWith(`${name}|`)) ?? '';
}
