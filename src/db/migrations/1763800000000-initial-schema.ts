// The first schema. A test checks that after all migrations TypeORM sees nothing left to
// change, so entities and migrations cannot drift apart.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1763800000000 implements MigrationInterface {
  name = 'InitialSchema1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`create table "studies" (
      "study_instance_uid" varchar(64) primary key,
      "accession_number" varchar(64),
      "modalities" varchar array not null default '{}',
      "pipeline" varchar(32),
      "score" double precision,
      "category" varchar(16),
      "analysed_at" timestamptz,
      "first_seen_at" timestamptz not null default now(),
      "updated_at" timestamptz not null default now())`);
    await q.query(`create table "jobs" (
      "id" uuid primary key default gen_random_uuid(),
      "study_instance_uid" varchar(64) not null,
      "pipeline" varchar(32) not null,
      "model_id" varchar(64) not null,
      "model_version" varchar(32) not null,
      "dedupe_key" varchar(200) not null,
      "state" varchar(16) not null,
      "source" varchar(32) not null,
      "attempts" integer not null default 0,
      "error" text,
      "progress_done" integer not null default 0,
      "progress_total" integer not null default 0,
      "result" jsonb,
      "created_at" timestamptz not null default now(),
      "started_at" timestamptz,
      "finished_at" timestamptz,
      "duration_ms" integer)`);
    await q.query(`create unique index "IDX_jobs_dedupe_key" on "jobs" ("dedupe_key")`);
    await q.query(`create index "IDX_jobs_study" on "jobs" ("study_instance_uid")`);
    await q.query(`create table "findings" (
      "id" uuid primary key default gen_random_uuid(),
      "job_id" uuid not null,
      "tracking_id" varchar(64) not null,
      "tracking_uid" varchar(64) not null,
      "type" varchar(32) not null,
      "score" double precision not null,
      "sop_instance_uid" varchar(64) not null,
      "frame_number" integer,
      "centre" jsonb not null,
      "box" jsonb not null,
      "contour" jsonb not null,
      "area_mm2" double precision)`);
    await q.query(`create index "IDX_findings_job" on "findings" ("job_id")`);
    await q.query(`create table "outbox" (
      "id" uuid primary key default gen_random_uuid(),
      "job_id" uuid not null,
      "kind" varchar(8) not null,
      "label" varchar(32) not null,
      "object_uid" varchar(64) not null,
      "payload" bytea not null,
      "state" varchar(16) not null,
      "attempts" integer not null default 0,
      "last_error" text,
      "response" text,
      "created_at" timestamptz not null default now(),
      "delivered_at" timestamptz)`);
    await q.query(`create index "IDX_outbox_job" on "outbox" ("job_id")`);
    await q.query(`create index "IDX_outbox_state" on "outbox" ("state")`);
    await q.query(`create table "cursors" (
      "name" varchar(64) primary key,
      "value" bigint not null,
      "updated_at" timestamptz not null default now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['cursors', 'outbox', 'findings', 'jobs', 'studies']) await q.query(`drop table "${table}"`);
  }
}
