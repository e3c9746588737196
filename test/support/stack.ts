// Integration tests talk to the real bundled stack, brought up by the same code as
// `sentinel stack up` (idempotent: already-running services are reused), but with a stack of
// their own: what the tests store, queue and record must never reach a demo's or a service's
// Orthanc, Redis or database on the same machine (a test study in the demo's Orthanc would be
// analysed, and an ORU sent for it, by the next `sentinel serve`), and the reverse.
import type { Config } from '../../src/config/schema';
import { loadConfig, mergeLayers, projectRoot } from '../../src/config/load';
import { ensureDatabase, ensureSecrets, stackUp } from '../../src/stack/stack';

/**
 * The tests' own stack: each setting differs from config/default.json's (the service's and the
 * demo's); test/unit/stack/separation.test.ts checks that they stay different.
 */
export const TEST_STACK = {
  /** An Orthanc of their own, with its own storage, so a test's study is in no other. */
  orthanc: { httpPort: 8143, dicomPort: 4343, storageDir: 'var/test-orthanc' },
  /**
   * The API port the tests' Sentinel listens on, and so where the tests' Orthanc sends its
   * StableStudy events (its Lua settings are rendered from this), not to a running service.
   */
  apiPort: 8190,
  /** The tests' DIMSE listener is off unless a test turns it on (with a port of its own). */
  dimsePort: 0,
  redisDb: 7,
  redisPrefix: 'sentinel-test',
  database: 'sentinel_test',
} as const;

let ready: Promise<Config> | undefined;

/** Test settings: the tests' own stack (TEST_STACK) on the hosts the configuration names. */
export function testConfig(overrides: Record<string, unknown> = {}): Config {
  const base = loadConfig();
  const db = new URL(base.database.url);
  db.pathname = `/${TEST_STACK.database}`;
  const redis = new URL(base.redis.url);
  redis.pathname = `/${TEST_STACK.redisDb}`;
  const own: Record<string, unknown> = {
    server: { port: TEST_STACK.apiPort },
    dimse: { port: TEST_STACK.dimsePort },
    database: { url: db.toString() },
    redis: { url: redis.toString(), prefix: TEST_STACK.redisPrefix },
    // An Orthanc given from outside (ORTHANC_URL) is used as it is; otherwise the tests' own.
    orthanc: { ...(process.env.ORTHANC_URL ? {} : { url: `http://127.0.0.1:${TEST_STACK.orthanc.httpPort}` }), bundled: TEST_STACK.orthanc },
    log: { level: process.env.LOG_LEVEL ?? 'silent' },
  };
  // Deep: a caller's `orthanc: { pollIntervalMs }` must not drop the tests' Orthanc ports.
  return loadConfig({ overrides: mergeLayers(own, overrides) });
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

/**
 * Wait until the tests' Orthanc holds no unstable study. A study an earlier suite stored (or
 * wrote results into) just before it ended turns stable StableAge seconds later, and that
 * StableStudy, reaching the next suite's Sentinel through the Lua event or /changes after its
 * clean slate, would start a job that suite never asked for.
 */
export async function settleOrthanc(config: Config, timeoutMs = 30_000): Promise<void> {
  const { url, username, password } = config.orthanc;
  const headers = { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(new URL('/studies?expand', url), { headers });
    if (!res.ok) throw new Error(`the tests' Orthanc answered HTTP ${res.status} for /studies`);
    const unstable = ((await res.json()) as Array<{ IsStable: boolean }>).filter((s) => !s.IsStable).length;
    if (unstable === 0) return;
    if (Date.now() > deadline) throw new Error(`the tests' Orthanc still holds ${unstable} unstable studies after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
