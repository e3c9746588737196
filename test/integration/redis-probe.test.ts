// The stack's Redis probe selects the configured database, so that a database number the
// machine's Redis does not have (Sentinel uses 6, its tests 7; a Redis may be set up with
// fewer than the stock 16) is reported by `stack up`/`status`, not later by bull. Real Redis.
import type { Config } from '../../src/config/schema';
import { probeRedis, redisDb } from '../../src/stack/probes';
import { TEST_STACK, ensureStack } from '../support/stack';

let config: Config;

beforeAll(async () => {
  config = await ensureStack();
});

const withDb = (url: string, db: string): string => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

it('answers for the tests\' own database', async () => {
  expect(redisDb(config.redis.url)).toBe(TEST_STACK.redisDb);
  expect(await probeRedis(config.redis.url)).toEqual({ name: 'redis', ok: true, detail: `PONG (database ${TEST_STACK.redisDb})` });
});

it('reports a database number that Redis does not have', async () => {
  const probe = await probeRedis(withDb(config.redis.url, '100000'));
  expect(probe.ok).toBe(false);
  expect(probe.detail).toMatch(/DB index is out of range/);
});

it('reports a database that is not a number', async () => {
  const probe = await probeRedis(withDb(config.redis.url, 'six'));
  expect(probe.ok).toBe(false);
});
