// An output may go to more than its kind's default receiver: a DICOM object also to each
// configured DICOM (C-STORE) destination, one outbox row each, so each destination has its own
// attempts, retries and reason. `destination` names it (null: the kind's default channel); a
// job's output is unique per object and destination.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class OutboxDestinations1764800000000 implements MigrationInterface {
  name = 'OutboxDestinations1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`alter table "outbox" add "destination" varchar(64)`);
    await q.query(`drop index "IDX_outbox_job_object"`);
    await q.query(`create unique index "IDX_outbox_job_object" on "outbox" ("job_id", "object_uid", coalesce("destination", ''))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`delete from "outbox" where "destination" is not null`);
    await q.query(`drop index "IDX_outbox_job_object"`);
    await q.query(`create unique index "IDX_outbox_job_object" on "outbox" ("job_id", "object_uid")`);
    await q.query(`alter table "outbox" drop column "destination"`);
  }
}
