// Integration tests talk to the real bundled stack, brought up by the same code as
// `sentinel stack up` (idempotent: already-running services are reused).
import type { Config } from '../../src/config/schema';
import { loadConfig, projectRoot } from '../../src/config/load';
import { ensureDatabase, ensureSecrets, stackUp } from '../../src/stack/stack';

let ready: Promise<Config> | undefined;

/** Test settings: own database and queue prefix, so a running demo is not disturbed. */
export function testConfig(overrides: Record<string, unknown> = {}): Config {
  const base = loadConfig();
  const db = new URL(base.database.url);
  db.pathname = '/sentinel_test';
  return loadConfig({
    overrides: {
      database: { url: db.toString() },
      redis: { prefix: 'sentinel-test' },
      log: { level: process.env.LOG_LEVEL ?? 'silent' },
      ...overrides,
    },
  });
}

export function ensureStack(): Promise<Config> {
  ready ??= (async () => {
    ensureSecrets(projectRoot);
    const config = testConfig();
    await stackUp(config, { root: projectRoot, env: process.env, log: () => undefined });
    await ensureDatabase(config.database.url);
    return config;
  })();
  return ready;
}
