// The one receive step every listener shares (STOW-RS today, a DICOM C-STORE SCP tomorrow):
// check each received part's header, store the good ones in the PACS, record every part in
// the audit trail, and hand each study to intake once it has had time to settle (the rest of
// it may still be arriving). The listener keeps only its protocol: how parts arrive and how
// the sender is answered.
import type { DataSource } from 'typeorm';
import type { Config } from '../config/schema';
import { recordAudit } from '../db/audit';
import type { AuditChannel } from '../db/entities/audit';
import { readDicomHeader } from '../dicom/header';
import type { DicomwebClient } from '../dicomweb/client';
import { pool } from '../dicomweb/pool';
import { items, str } from '../dicom/json';
import { Tag } from '../dicom/tags';
import { describeError } from '../errors/errors';
import type { Logger } from '../log/logger';
import { type IntakeDeps, intakeStudy } from './intake';

/** PS3.4 Annex B / PS3.18 failure reasons. */
export const FailureReason = {
  ProcessingFailure: 0x0110,
  SopClassNotSupported: 0x0122,
  StudyUidMismatch: 0xa900,
  CannotUnderstand: 0xc000,
} as const;

/** A received object waiting on disk. */
export interface ReceivedPart {
  file: string;
  size: number;
}

export interface PartOutcome extends ReceivedPart {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  /** Set when the part was not stored, with why. */
  failure?: number;
  reason?: string;
}

export interface ReceiveDeps {
  ds: DataSource;
  dicomweb: Pick<DicomwebClient, 'storeFiles'>;
  intake: IntakeDeps;
  config: Pick<Config, 'jobs'>;
  log: Logger;
}

const STORAGE_SOP_PREFIX = '1.2.840.10008.5.1.4.1.1.';

export async function checkPart(part: ReceivedPart, expectedStudy: string | undefined): Promise<PartOutcome> {
  const read = await readDicomHeader(part.file);
  if ('reason' in read) return { ...part, failure: FailureReason.CannotUnderstand, reason: read.reason };
  const out: PartOutcome = { ...part, ...read.header };
  if (!out.sopInstanceUid || !out.studyInstanceUid) return { ...out, failure: FailureReason.CannotUnderstand, reason: 'missing SOP Instance UID or Study Instance UID' };
  if (!out.sopClassUid?.startsWith(STORAGE_SOP_PREFIX)) return { ...out, failure: FailureReason.SopClassNotSupported, reason: `SOP class ${out.sopClassUid ?? '(none)'} is not a storage SOP class` };
  if (expectedStudy && expectedStudy !== out.studyInstanceUid) return { ...out, failure: FailureReason.StudyUidMismatch, reason: 'instance belongs to another study than the request URL' };
  return out;
}

const STORE_REQUESTS = 2;

/**
 * The parts shared among at most `n` groups of about equal bytes (the largest first, each to
 * the lightest group), each group in the order the parts came; no group is empty.
 */
export function shareBySize<T extends { size: number }>(parts: readonly T[], n: number): T[][] {
  const groups = Array.from({ length: Math.max(1, Math.min(n, parts.length)) }, () => ({ bytes: 0, members: [] as number[] }));
  const bySize = parts.map((p, i) => i).sort((a, b) => (parts[b] as T).size - (parts[a] as T).size || a - b);
  for (const i of bySize) {
    const lightest = groups.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    lightest.bytes += (parts[i] as T).size;
    lightest.members.push(i);
  }
  return groups.filter((g) => g.members.length > 0).map((g) => g.members.sort((a, b) => a - b).map((i) => parts[i] as T));
}

/** The channels parts are received on, as the audit trail and the job rows name them. */
export type ReceiveChannel = Extract<AuditChannel, 'stow-rs' | 'dimse'>;

/**
 * Every part checked, the good ones stored into the PACS, all audited. A PACS that is down
 * throws (the listener answers the sender that nothing was stored, and the sender tries
 * again); nothing is half-done here.
 */
export async function storeReceived(
  deps: ReceiveDeps,
  parts: ReceivedPart[],
  from: { channel: ReceiveChannel; peer: string; expectedStudy?: string },
): Promise<PartOutcome[]> {
  const outcomes: PartOutcome[] = [];
  for (const p of parts) outcomes.push(await checkPart(p, from.expectedStudy));
  const good = outcomes.filter((o) => o.failure === undefined);
  if (good.length > 0) {
    // Two STOW-RS requests at once: Orthanc stores the parts of one request one after the
    // other, and four full-field mammograms went in 0.7-0.95 s as two requests against 1.06-1.17 s as one.
    const answers = await pool(shareBySize(good, STORE_REQUESTS).map((group) => () => deps.dicomweb.storeFiles(group)), STORE_REQUESTS);
    const refused = new Set(answers.flatMap((pacs) => items(pacs, Tag.FailedSOPSequence).map((i) => str(i, Tag.ReferencedSOPInstanceUID))));
    for (const o of good) {
      if (o.sopInstanceUid && refused.has(o.sopInstanceUid)) {
        o.failure = FailureReason.ProcessingFailure;
        o.reason = 'the PACS refused it';
      }
    }
  }
  for (const o of outcomes.filter((x) => x.failure !== undefined)) {
    deps.log.warn({ channel: from.channel, sopInstanceUid: o.sopInstanceUid, failure: o.failure, reason: o.reason }, 'received part refused');
  }
  await recordAudit(deps.ds, ...outcomes.map((o) => ({
    direction: 'in' as const, channel: from.channel, peer: from.peer,
    studyInstanceUid: o.studyInstanceUid, objectUid: o.sopInstanceUid,
    outcome: o.failure === undefined ? 'accepted' as const : 'refused' as const,
    detail: o.failure === undefined ? `${o.size} bytes` : `0x${o.failure.toString(16)}: ${o.reason ?? ''}`,
  })));
  return outcomes;
}

/** Each study of the stored parts handed to intake, after the settle delay (the rest of the study may still be arriving). */
export function intakeStored(deps: ReceiveDeps, studies: Iterable<string>, channel: ReceiveChannel): void {
  for (const study of new Set(studies)) {
    intakeStudy(deps.intake, study, channel, { delayMs: deps.config.jobs.stowSettleMs }).catch((err: unknown) =>
      deps.log.warn({ studyInstanceUid: study, channel, error: describeError(err) }, 'intake after receiving failed; the /changes poller will retry'));
  }
}

/** Stored, then handed to intake: what a listener that receives a whole request at once (STOW-RS) calls. */
export async function receiveInstances(
  deps: ReceiveDeps,
  parts: ReceivedPart[],
  from: { channel: ReceiveChannel; peer: string; expectedStudy?: string },
): Promise<PartOutcome[]> {
  const outcomes = await storeReceived(deps, parts, from);
  intakeStored(deps, outcomes.filter((o) => o.failure === undefined).map((o) => o.studyInstanceUid as string), from.channel);
  return outcomes;
}
