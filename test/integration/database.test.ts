import type { DataSource } from 'typeorm';
import { openDatabase } from '../../src/db/data-source';
import { ensureStack } from '../support/stack';

describe('database schema', () => {
  let ds: DataSource;

  beforeAll(async () => {
    const config = await ensureStack();
    ds = await openDatabase(config.database.url);
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('migrations leave nothing for TypeORM to change (entities and migrations agree)', async () => {
    const pending = await ds.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('running the migrations again is a no-op', async () => {
    const applied = await ds.runMigrations();
    expect(applied).toEqual([]);
  });
});
