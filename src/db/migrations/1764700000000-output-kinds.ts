// An outbox row's kind says what the output is (a DICOM object, an HL7 message), not how it
// travels: "stow" becomes "dicom", so that a DICOM object can later go by C-STORE as well.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class OutputKinds1764700000000 implements MigrationInterface {
  name = 'OutputKinds1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`update "outbox" set "kind" = 'dicom' where "kind" = 'stow'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`update "outbox" set "kind" = 'stow' where "kind" = 'dicom'`);
  }
}
