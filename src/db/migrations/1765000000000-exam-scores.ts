// Exam scores (1-10, the decile of the model's validation scores): on the study, so the
// worklist sorts on it, and on each finding.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ExamScores1765000000000 implements MigrationInterface {
  name = 'ExamScores1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`alter table "studies" add "exam_score" smallint`);
    await q.query(`alter table "findings" add "exam_score" smallint`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`alter table "findings" drop column "exam_score"`);
    await q.query(`alter table "studies" drop column "exam_score"`);
  }
}
