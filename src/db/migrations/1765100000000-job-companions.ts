// The companion models a job runs with (e.g. the density model beside the mammography
// detector), as "id@version" joined by "+": part of what the job is, so a study is analysed
// again when one is installed or upgraded, and the dedupe key, which now names them, gets room.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class JobCompanions1765100000000 implements MigrationInterface {
  name = 'JobCompanions1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`alter table "jobs" add "companions" varchar(200) not null default ''`);
    await q.query(`alter table "jobs" alter column "dedupe_key" type varchar(400)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`alter table "jobs" alter column "dedupe_key" type varchar(200)`);
    await q.query(`alter table "jobs" drop column "companions"`);
  }
}
