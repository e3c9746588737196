// The one TypeORM data source. Schema changes go through migrations, which run at start;
// `synchronize` is never used.
import { DataSource } from 'typeorm';
import { AuditRow } from './entities/audit';
import { CursorRow } from './entities/cursor';
import { FindingRow } from './entities/finding';
import { JobRow } from './entities/job';
import { OutboxRow } from './entities/outbox';
import { StudyRow } from './entities/study';
import { InitialSchema1763800000000 } from './migrations/1763800000000-initial-schema';
import { LeasesAndAudit1764600000000 } from './migrations/1764600000000-leases-and-audit';
import { OutputKinds1764700000000 } from './migrations/1764700000000-output-kinds';
import { OutboxDestinations1764800000000 } from './migrations/1764800000000-outbox-destinations';
import { Reanalysis1764900000000 } from './migrations/1764900000000-reanalysis';
import { ExamScores1765000000000 } from './migrations/1765000000000-exam-scores';
import { JobCompanions1765100000000 } from './migrations/1765100000000-job-companions';

export const entities = [StudyRow, JobRow, FindingRow, OutboxRow, CursorRow, AuditRow];
export const migrations = [InitialSchema1763800000000, LeasesAndAudit1764600000000, OutputKinds1764700000000, OutboxDestinations1764800000000, Reanalysis1764900000000, ExamScores1765000000000, JobCompanions1765100000000];

export function createDataSource(url: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations,
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: { max: 10 },
  });
}

/** Connect and bring the schema up to date (migrations take a lock, so racing starts are safe). */
export async function openDatabase(url: string): Promise<DataSource> {
  const ds = createDataSource(url);
  await ds.initialize();
  await ds.runMigrations({ transaction: 'all' });
  return ds;
}
