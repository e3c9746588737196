// A study Sentinel has seen, with its latest AI result: the worklist is ranked on `examScore`
// (1-10, where the model is calibrated), then on the raw `score`.
import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity({ name: 'studies' })
export class StudyRow {
  @PrimaryColumn({ name: 'study_instance_uid', type: 'varchar', length: 64 })
  studyInstanceUid!: string;

  @Column({ name: 'accession_number', type: 'varchar', length: 64, nullable: true })
  accessionNumber!: string | null;

  @Column({ type: 'varchar', array: true, default: () => "'{}'" })
  modalities!: string[];

  @Column({ type: 'varchar', length: 32, nullable: true })
  pipeline!: string | null;

  @Column({ type: 'double precision', nullable: true })
  score!: number | null;

  @Column({ name: 'exam_score', type: 'smallint', nullable: true })
  examScore!: number | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  category!: string | null;

  @Column({ name: 'analysed_at', type: 'timestamptz', nullable: true })
  analysedAt!: Date | null;

  @CreateDateColumn({ name: 'first_seen_at', type: 'timestamptz' })
  firstSeenAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
