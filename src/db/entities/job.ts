// One analysis of one study by one pipeline and model version. The dedupe key makes intake
// idempotent: the same study arriving by event, poller and STOW-RS is analysed once.
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';
export type JobSource = 'orthanc-event' | 'orthanc-changes' | 'stow-rs' | 'dimse' | 'api' | 'recovery' | 'reader';

@Entity({ name: 'jobs' })
export class JobRow {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index('IDX_jobs_study')
  @Column({ name: 'study_instance_uid', type: 'varchar', length: 64 })
  studyInstanceUid!: string;

  @Column({ type: 'varchar', length: 32 })
  pipeline!: string;

  @Column({ name: 'model_id', type: 'varchar', length: 64 })
  modelId!: string;

  @Column({ name: 'model_version', type: 'varchar', length: 32 })
  modelVersion!: string;

  /** The companion models it runs with, "id@version" joined by "+" (companionKey), '' for none. */
  @Column({ type: 'varchar', length: 200, default: '' })
  companions!: string;

  @Index('IDX_jobs_dedupe_key', { unique: true })
  @Column({ name: 'dedupe_key', type: 'varchar', length: 400 })
  dedupeKey!: string;

  @Column({ type: 'varchar', length: 16 })
  state!: JobState;

  @Column({ type: 'varchar', length: 32 })
  source!: JobSource;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ name: 'progress_done', type: 'int', default: 0 })
  progressDone!: number;

  @Column({ name: 'progress_total', type: 'int', default: 0 })
  progressTotal!: number;

  /** Study-level outcome (score, category, per-breast), findings are rows of their own. */
  @Column({ type: 'jsonb', nullable: true })
  result!: Record<string, unknown> | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  @Column({ name: 'duration_ms', type: 'int', nullable: true })
  durationMs!: number | null;

  /** The worker process analysing it now (host/pid/nonce), and until when its lease runs. */
  @Column({ name: 'lease_owner', type: 'varchar', length: 128, nullable: true })
  leaseOwner!: string | null;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil!: Date | null;

  /** Fingerprint of the images it analyses (analysis/image-set.ts): set at intake, and again when its analysis starts. */
  @Column({ name: 'image_set', type: 'varchar', length: 64, nullable: true })
  imageSet!: string | null;

  /** The earlier job of the study whose result this one replaces (its SR is this one's predecessor). */
  @Column({ type: 'uuid', nullable: true })
  supersedes!: string | null;

  /** Which queue entry may run it: raised when a dead worker's job is handed on, so the old entry finds nothing to do. */
  @Column({ type: 'int', default: 0 })
  epoch!: number;
}
