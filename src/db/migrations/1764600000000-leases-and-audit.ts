// Leases on jobs and outbox rows (who is working on a row, until when, and which queue entry
// may do it), the time of each delivery attempt, and the audit trail of everything Sentinel
// received or sent. A lease held in PostgreSQL, not a lock in Redis, decides whether work
// is still alive: a worker that dies is noticed within seconds and its row handed on.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class LeasesAndAudit1764600000000 implements MigrationInterface {
  name = 'LeasesAndAudit1764600000000';

  async up(q: QueryRunner): Promise<void> {
    for (const table of ['jobs', 'outbox']) {
      await q.query(`alter table "${table}" add "lease_owner" varchar(128)`);
      await q.query(`alter table "${table}" add "lease_until" timestamptz`);
      await q.query(`alter table "${table}" add "epoch" integer not null default 0`);
    }
    await q.query(`alter table "outbox" add "last_attempt_at" timestamptz`);
    await q.query(`create unique index "IDX_outbox_job_object" on "outbox" ("job_id", "object_uid")`);
    await q.query(`create table "audit" (
      "id" bigserial primary key,
      "at" timestamptz not null default now(),
      "direction" varchar(8) not null,
      "channel" varchar(16) not null,
      "peer" varchar(256) not null,
      "study_instance_uid" varchar(64),
      "object_uid" varchar(64),
      "job_id" uuid,
      "outbox_id" uuid,
      "outcome" varchar(16) not null,
      "detail" text)`);
    await q.query(`create index "IDX_audit_at" on "audit" ("at")`);
    await q.query(`create index "IDX_audit_study" on "audit" ("study_instance_uid")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`drop table "audit"`);
    await q.query(`drop index "IDX_outbox_job_object"`);
    await q.query(`alter table "outbox" drop column "last_attempt_at"`);
    for (const table of ['jobs', 'outbox']) {
      for (const column of ['lease_owner', 'lease_until', 'epoch']) await q.query(`alter table "${table}" drop column "${column}"`);
    }
  }
}
