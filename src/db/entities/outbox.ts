// Everything Sentinel must send (DICOM objects by STOW-RS, HL7 messages by MLLP) is first
// written here in the same transaction as the result, then sent and retried until the
// receiver acknowledges it: a PACS or HIS that is down for an hour loses nothing.
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { OutputKind } from '../../domain/outputs';

export type OutboxState = 'pending' | 'delivered' | 'failed';

@Entity({ name: 'outbox' })
// Unique per job, object and destination: an expression index over coalesce(destination, ''),
// made by the migrations (TypeORM is told to leave it alone).
@Index('IDX_outbox_job_object', { synchronize: false })
export class OutboxRow {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index('IDX_outbox_job')
  @Column({ name: 'job_id', type: 'uuid' })
  jobId!: string;

  @Column({ type: 'varchar', length: 8 })
  /** What the output is (domain/outputs.ts); delivery/ sends each kind by its own channel. */
  kind!: OutputKind;

  /** Where it goes besides its kind's default channel: a configured DICOM destination's name; null for the default. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  destination!: string | null;

  /** What it is, for people: "SEG", "SR", "ORU^R01". */
  @Column({ type: 'varchar', length: 32 })
  label!: string;

  /** SOP Instance UID of a DICOM object, or MSH-10 of an HL7 message. */
  @Column({ name: 'object_uid', type: 'varchar', length: 64 })
  objectUid!: string;

  @Column({ type: 'bytea' })
  payload!: Buffer;

  @Index('IDX_outbox_state')
  @Column({ type: 'varchar', length: 16 })
  state!: OutboxState;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  /** The receiver's answer: the HL7 ACK, or the STOW-RS response summary. */
  @Column({ type: 'text', nullable: true })
  response!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true })
  deliveredAt!: Date | null;

  /** When the last send began: recorded before the send, so an attempt cut short by a crash still counts. */
  @Column({ name: 'last_attempt_at', type: 'timestamptz', nullable: true })
  lastAttemptAt!: Date | null;

  @Column({ name: 'lease_owner', type: 'varchar', length: 128, nullable: true })
  leaseOwner!: string | null;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil!: Date | null;

  @Column({ type: 'int', default: 0 })
  epoch!: number;
}
