// One finding of a job, as written into the SEG segment and the SR measurement group that
// share its tracking UID.
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ name: 'findings' })
export class FindingRow {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index('IDX_findings_job')
  @Column({ name: 'job_id', type: 'uuid' })
  jobId!: string;

  @Column({ name: 'tracking_id', type: 'varchar', length: 64 })
  trackingId!: string;

  @Column({ name: 'tracking_uid', type: 'varchar', length: 64 })
  trackingUid!: string;

  @Column({ type: 'varchar', length: 32 })
  type!: string;

  @Column({ type: 'double precision' })
  score!: number;

  @Column({ name: 'exam_score', type: 'smallint', nullable: true })
  examScore!: number | null;

  @Column({ name: 'sop_instance_uid', type: 'varchar', length: 64 })
  sopInstanceUid!: string;

  @Column({ name: 'frame_number', type: 'int', nullable: true })
  frameNumber!: number | null;

  @Column({ type: 'jsonb' })
  centre!: { x: number; y: number };

  @Column({ type: 'jsonb' })
  box!: { x: number; y: number; width: number; height: number };

  @Column({ type: 'jsonb' })
  contour!: Array<{ x: number; y: number }>;

  @Column({ name: 'area_mm2', type: 'double precision', nullable: true })
  areaMm2!: number | null;
}
