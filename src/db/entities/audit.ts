// The audit trail: every DICOM object received or sent and every HL7 message, with its time,
// peer, UIDs and outcome. UIDs and ids only; never a patient name or ID.
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type AuditDirection = 'in' | 'out';
export type AuditChannel = 'stow-rs' | 'dimse' | 'dicomweb' | 'mllp' | 'fhir' | 'orthanc-event' | 'orthanc-changes' | 'reader';
export type AuditOutcome = 'accepted' | 'refused' | 'sending' | 'delivered' | 'failed';

@Entity({ name: 'audit' })
export class AuditRow {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Index('IDX_audit_at')
  @Column({ type: 'timestamptz', default: () => 'now()' })
  at!: Date;

  @Column({ type: 'varchar', length: 8 })
  direction!: AuditDirection;

  @Column({ type: 'varchar', length: 16 })
  channel!: AuditChannel;

  /** Who was on the other end: a remote address, a PACS URL, host:port of the HIS. */
  @Column({ type: 'varchar', length: 256 })
  peer!: string;

  @Index('IDX_audit_study')
  @Column({ name: 'study_instance_uid', type: 'varchar', length: 64, nullable: true })
  studyInstanceUid!: string | null;

  /** SOP Instance UID, or MSH-10 of an HL7 message. */
  @Column({ name: 'object_uid', type: 'varchar', length: 64, nullable: true })
  objectUid!: string | null;

  @Column({ name: 'job_id', type: 'uuid', nullable: true })
  jobId!: string | null;

  @Column({ name: 'outbox_id', type: 'uuid', nullable: true })
  outboxId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome!: AuditOutcome;

  @Column({ type: 'text', nullable: true })
  detail!: string | null;
}
