// Writing and reading the audit trail (entities/audit.ts): one row per object or message
// received or sent, and per delivery attempt, with peer, UIDs and outcome.
import type { DataSource, EntityManager } from 'typeorm';
import { type AuditChannel, type AuditDirection, type AuditOutcome, AuditRow } from './entities/audit';

export interface AuditEntry {
  direction: AuditDirection;
  channel: AuditChannel;
  peer: string;
  outcome: AuditOutcome;
  studyInstanceUid?: string | null;
  objectUid?: string | null;
  jobId?: string | null;
  outboxId?: string | null;
  detail?: string | null;
}

export async function recordAudit(ds: DataSource | EntityManager, ...entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await ds.getRepository(AuditRow).insert(entries.map((e) => ({
    direction: e.direction,
    channel: e.channel,
    peer: e.peer.slice(0, 256),
    outcome: e.outcome,
    studyInstanceUid: e.studyInstanceUid ?? null,
    objectUid: e.objectUid ?? null,
    jobId: e.jobId ?? null,
    outboxId: e.outboxId ?? null,
    detail: e.detail?.slice(0, 2000) ?? null,
  })));
}

export interface AuditQuery {
  study?: string;
  since?: Date;
  limit: number;
}

/** Newest first. */
export async function listAudit(ds: DataSource, q: AuditQuery): Promise<AuditRow[]> {
  const qb = ds.getRepository(AuditRow).createQueryBuilder('a').orderBy('a.id', 'DESC').limit(q.limit);
  if (q.study) qb.andWhere('a.study_instance_uid = :study', { study: q.study });
  if (q.since) qb.andWhere('a.at >= :since', { since: q.since });
  return qb.getMany();
}
