// Sends one outbox row by the channel its kind is delivered on, and records the receiver's
// answer. A failure that may pass (server down, timeout, HL7 AE) is recorded and rethrown so
// the deliver queue retries it with capped backoff; one that cannot pass (HL7 AR, a refused
// object) is marked failed at once. One deliverer per output kind, in a table that must name
// every kind (domain/outputs.ts): a kind without a way out does not compile.
import { type DataSource, IsNull } from 'typeorm';
import type { Config } from '../config/schema';
import { JobRow } from '../db/entities/job';
import { OutboxRow } from '../db/entities/outbox';
import type { DicomwebClient } from '../dicomweb/client';
import { type DicomJson, items, num } from '../dicom/json';
import { Tag } from '../dicom/tags';
import { SentinelError, describeError, isRetryable } from '../errors/errors';
import type { Logger } from '../log/logger';
import { checkAck } from '../reports/hl7';
import { type DimseDestination, cStore } from './dimse-store';
import { postBundle } from './fhir';
import { sendMllp } from './mllp/send';
import { recordAudit } from '../db/audit';
import { LeaseLost, WORKER_ID, assertLeaseHeld, holdLease, leaseInterval } from '../db/leases';
import type { AuditChannel } from '../db/entities/audit';
import type { OutputKind } from '../domain/outputs';
import { deliveries } from '../metrics/metrics';

export interface DeliveryDeps {
  ds: DataSource;
  config: Config;
  dicomweb: DicomwebClient;
  log: Logger;
}

/** Orthanc and others report a re-sent instance as a failure "duplicate" (0x0111): it is there. */
const ALREADY_STORED = 0x0111;

function failedReasons(response: DicomJson | undefined): number[] {
  return items(response, Tag.FailedSOPSequence).map((item) => num(item, Tag.FailureReason) ?? 0);
}

/** How one kind of output reaches its receiver. */
export interface Deliverer {
  /** The channel, as the audit trail names it. */
  channel: AuditChannel;
  /** Where it goes, for the audit trail. */
  peer(deps: DeliveryDeps): string;
  /** Outputs of this kind reach the receiver in the order they were made: one waits while an older one is pending. */
  inOrder: boolean;
  /** Send it; the receiver's answer (stored on the row), or a SentinelError saying whether to try again. */
  send(deps: DeliveryDeps, row: OutboxRow): Promise<string>;
  /** The answer, shortened for the audit trail. */
  auditDetail(response: string): string;
}

/** DICOM objects: STOW-RS into the same study in the PACS. */
const stowRs: Deliverer = {
  channel: 'dicomweb',
  peer: (deps) => deps.dicomweb.target.url,
  inOrder: false,
  async send(deps, row) {
    const response = await deps.dicomweb.store([row.payload]);
    const reasons = failedReasons(response).filter((r) => r !== ALREADY_STORED);
    if (reasons.length > 0) {
      throw new SentinelError('bad_request', `PACS refused ${row.label} ${row.objectUid}: failure reason 0x${reasons[0]?.toString(16).padStart(4, '0')}`);
    }
    const stored = items(response, Tag.ReferencedSOPSequence).length;
    return `stored (${stored} referenced SOP instance${stored === 1 ? '' : 's'} in response)`;
  },
  auditDetail: (response) => response,
};

/** HL7 v2 messages: MLLP to the HIS, delivered once the ACK is AA (or CA) for our MSH-10. */
const mllp: Deliverer = {
  channel: 'mllp',
  peer: (deps) => `mllp://${deps.config.hl7.destination.host}:${deps.config.hl7.destination.port}`,
  inOrder: true,
  async send(deps, row) {
    const ack = await sendMllp(row.payload.toString('utf8'), deps.config.hl7.destination);
    const verdict = checkAck(ack, row.objectUid);
    if (!verdict.ok) throw new SentinelError(verdict.retryable ? 'unavailable' : 'bad_request', `HIS did not accept ${row.label}: ${verdict.reason}`, verdict.retryable);
    return ack;
  },
  auditDetail: (ack) => firstSegment(ack, 'MSA'),
};

/** FHIR R4 Bundles: POST to the FHIR server's base URL, one at a time (a correction after its original). */
const fhirRest: Deliverer = {
  channel: 'fhir',
  peer: (deps) => deps.config.fhir.baseUrl,
  inOrder: true,
  send: (deps, row) => postBundle(row.payload, deps.config.fhir),
  auditDetail: (response) => response.slice(0, 200),
};

export const DELIVERERS: { readonly [K in OutputKind]: Deliverer } = { dicom: stowRs, hl7: mllp, fhir: fhirRest };

/** A DICOM object to one configured DICOM destination, by C-STORE. */
function cStoreTo(to: DimseDestination): Deliverer {
  return {
    channel: 'dimse',
    peer: () => `dicom://${to.aet}@${to.host}:${to.port}`,
    inOrder: false,
    send: (deps, row) => cStore(row.payload, to, to.callingAet ?? deps.config.dimse.aet, deps.config.hl7.destination.timeoutMs),
    auditDetail: (response) => response,
  };
}

/** The destinations an output of this kind also goes to, beside its kind's default channel (by name). */
export function extraDestinations(kind: OutputKind, config: Pick<Config, 'dimse'>): string[] {
  return kind === 'dicom' ? config.dimse.destinations.map((d) => d.name) : [];
}

/** Who sends this row: its destination's deliverer, or its kind's. */
function delivererFor(deps: DeliveryDeps, row: OutboxRow): Deliverer {
  if (row.destination === null) return DELIVERERS[row.kind];
  const to = deps.config.dimse.destinations.find((d) => d.name === row.destination);
  if (!to) throw new SentinelError('bad_request', `DICOM destination "${row.destination}" is no longer configured (dimse.destinations)`);
  return cStoreTo(to);
}

/** The kinds whose outputs are sent one at a time, oldest first. */
export const IN_ORDER_KINDS = (Object.keys(DELIVERERS) as OutputKind[]).filter((k) => DELIVERERS[k].inOrder);

export type DeliveryOutcome = 'delivered' | 'failed' | 'gone' | 'waiting';

/**
 * Take the row if this queue entry may send it and nobody holds a live lease on it. The
 * attempt is counted and timed here, before anything is sent, so a send cut short by a crash
 * is still on the row. A row of an in-order kind (an ORU) waits while an older one of its kind
 * is still pending: the HIS receives results in the order they were made.
 */
async function claimRow(ds: DataSource, outboxId: string, epoch: number, leaseMs: number): Promise<'claimed' | 'waiting' | 'gone'> {
  const [rows] = await ds.query(
    `update outbox o set attempts = attempts + 1, last_attempt_at = now(), lease_owner = $3, lease_until = now() + $4::interval
     where id = $1 and epoch = $2 and state = 'pending' and (lease_until is null or lease_until < now())
       and not (kind = any($5) and exists (select 1 from outbox e where e.kind = o.kind and e.state = 'pending' and e.id <> o.id
                                           and (e.created_at, e.id) < (o.created_at, o.id)))
     returning id`,
    [outboxId, epoch, WORKER_ID, leaseInterval(leaseMs), IN_ORDER_KINDS],
  ) as [Array<{ id: string }>, number];
  if (rows.length === 1) return 'claimed';
  const row = await ds.getRepository(OutboxRow).findOneBy({ id: outboxId });
  if (!(row && row.state === 'pending' && row.epoch === epoch && !row.leaseOwner)) return 'gone';
  if (DELIVERERS[row.kind].inOrder && !row.lastError) {
    await ds.getRepository(OutboxRow).update({ id: row.id, lastError: IsNull() }, { lastError: `waiting for an earlier ${row.label} to be acknowledged (they reach the receiver in order)` });
  }
  return 'waiting';
}

/** For each in-order kind, its oldest pending row: the one that may go next. */
export async function nextPendingInOrder(ds: DataSource): Promise<OutboxRow[]> {
  const next: OutboxRow[] = [];
  for (const kind of IN_ORDER_KINDS) {
    const row = await ds.getRepository(OutboxRow).findOne({ where: { kind, state: 'pending' }, order: { createdAt: 'ASC', id: 'ASC' } });
    if (row) next.push(row);
  }
  return next;
}

export async function processDeliverJob(deps: DeliveryDeps, outboxId: string, maxAttempts: number, epoch = 0): Promise<DeliveryOutcome> {
  const claim = await claimRow(deps.ds, outboxId, epoch, deps.config.jobs.leaseMs);
  if (claim !== 'claimed') return claim;
  const repo = deps.ds.getRepository(OutboxRow);
  const row = await repo.findOneByOrFail({ id: outboxId });
  const job = await deps.ds.getRepository(JobRow).findOne({ where: { id: row.jobId }, select: { studyInstanceUid: true } });
  let deliverer: Deliverer;
  try {
    deliverer = delivererFor(deps, row);
  } catch (err) {
    await settle(deps.ds, row, { state: 'failed', lastError: describeError(err) });
    return 'failed';
  }
  const audit = {
    direction: 'out' as const, channel: deliverer.channel, peer: deliverer.peer(deps),
    studyInstanceUid: job?.studyInstanceUid, objectUid: row.objectUid, jobId: row.jobId, outboxId: row.id,
  };
  await recordAudit(deps.ds, { ...audit, outcome: 'sending', detail: `${row.label} attempt ${row.attempts}` });
  const lease = holdLease(deps.ds, 'outbox', row.id, row.epoch, deps.config.jobs.leaseMs);
  try {
    const response = await deliverer.send(deps, row);
    await settle(deps.ds, row, { state: 'delivered', deliveredAt: new Date(), lastError: null, response });
    await recordAudit(deps.ds, { ...audit, outcome: 'delivered', detail: deliverer.auditDetail(response) });
    deliveries.inc({ channel: deliverer.channel, outcome: 'delivered' });
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
    deliveries.inc({ channel: deliverer.channel, outcome: retry ? 'retry' : 'failed' });
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
