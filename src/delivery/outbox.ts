// Sends one outbox row and records the receiver's answer. A failure that may pass (server
// down, timeout, HL7 AE) is recorded and rethrown so the deliver queue retries it with
// capped backoff; one that cannot pass (HL7 AR, a refused object) is marked failed at once.
import type { DataSource } from 'typeorm';
import type { Config } from '../config/schema';
import { OutboxRow } from '../db/entities/outbox';
import type { DicomJson, DicomwebClient } from '../dicomweb/client';
import { SentinelError, describeError, isRetryable } from '../errors/errors';
import type { Logger } from '../log/logger';
import { checkAck } from '../reports/hl7';
import { sendMllp } from './mllp/send';

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

export type DeliveryOutcome = 'delivered' | 'failed' | 'gone';

export async function processDeliverJob(deps: DeliveryDeps, outboxId: string, maxAttempts: number): Promise<DeliveryOutcome> {
  const repo = deps.ds.getRepository(OutboxRow);
  const row = await repo.findOneBy({ id: outboxId });
  if (!row || row.state !== 'pending') return 'gone';
  row.attempts += 1;
  try {
    row.response = row.kind === 'stow' ? await deliverStow(deps, row) : await deliverHl7(deps, row);
    row.state = 'delivered';
    row.deliveredAt = new Date();
    row.lastError = null;
    await repo.save(row);
    deps.log.info({ outboxId, jobId: row.jobId, label: row.label, objectUid: row.objectUid, attempts: row.attempts }, 'delivered');
    return 'delivered';
  } catch (err) {
    row.lastError = describeError(err);
    const retry = isRetryable(err) && row.attempts < maxAttempts;
    if (!retry) row.state = 'failed';
    await repo.save(row);
    deps.log.warn({ outboxId, jobId: row.jobId, label: row.label, attempts: row.attempts, error: row.lastError, retry }, 'delivery failed');
    if (retry) throw err;
    return 'failed';
  }
}
