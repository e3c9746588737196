// Re-analysis when a study changes: each job records the image set it analysed (a fingerprint
// of the SOP Instance UIDs, analysis/image-set.ts) and the job whose result it replaces.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Reanalysis1764900000000 implements MigrationInterface {
  name = 'Reanalysis1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`alter table "jobs" add "image_set" varchar(64)`);
    await q.query(`alter table "jobs" add "supersedes" uuid`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`alter table "jobs" drop column "supersedes"`);
    await q.query(`alter table "jobs" drop column "image_set"`);
  }
}
