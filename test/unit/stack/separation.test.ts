// The tests' stack and the demo's (the service's) must not share anything a study or a queue
// lives in: before, `npm test` stored its studies into the demo's Orthanc, and the next
// `sentinel serve` analysed them and sent their ORUs to the HIS.
import path from 'node:path';
import { loadConfig, projectRoot } from '../../../src/config/load';
import type { Config } from '../../../src/config/schema';
import { bundledOrthancPaths, renderOrthancConfig, renderSettingsLua } from '../../../src/stack/bundled-orthanc';
import { redisDb } from '../../../src/stack/probes';
import { TEST_STACK, testConfig } from '../../support/stack';

const template = { HttpPort: 0, DicomPort: 0 };

function rendered(config: Config): Record<string, unknown> {
  return renderOrthancConfig(template, config, bundledOrthancPaths(projectRoot, config), projectRoot);
}

const inside = (dir: string, other: string): boolean => !path.relative(other, dir).startsWith('..');

describe('the tests\' stack is separate from the demo\'s', () => {
  // What `sentinel demo` / `stack up` / `serve` load, and what the tests use, on this machine.
  const demo = loadConfig();
  const tests = testConfig();

  it('the tests\' Orthanc has another storage folder (neither inside the other), other ports and its own pid file', () => {
    const d = rendered(demo);
    const t = rendered(tests);
    for (const key of ['StorageDirectory', 'IndexDirectory'] as const) expect(t[key]).not.toEqual(d[key]);
    // Each Orthanc's folder (storage, index, configuration, pid) is outside the other's.
    const demoDir = bundledOrthancPaths(projectRoot, demo).dir;
    const testDir = bundledOrthancPaths(projectRoot, tests).dir;
    expect(inside(testDir, demoDir)).toBe(false);
    expect(inside(demoDir, testDir)).toBe(false);
    expect(t.StorageDirectory).toBe(path.join(projectRoot, 'var', 'test-orthanc', 'storage'));
    const demoPorts = [d.HttpPort, d.DicomPort, demo.server.port];
    for (const port of [t.HttpPort, t.DicomPort, tests.server.port]) expect(demoPorts).not.toContain(port);
    expect(bundledOrthancPaths(projectRoot, tests).pidFile).not.toBe(bundledOrthancPaths(projectRoot, demo).pidFile);
    if (!process.env.ORTHANC_URL) expect(new URL(tests.orthanc.url).port).toBe(String(t.HttpPort));
  });

  it('the tests\' Orthanc sends its events to the tests\' Sentinel, not to the demo\'s', () => {
    expect(renderSettingsLua(tests)).toContain(`http://127.0.0.1:${TEST_STACK.apiPort}/events/orthanc`);
    expect(renderSettingsLua(tests)).not.toEqual(renderSettingsLua(demo));
  });

  it('each has its own Redis database and key prefix, neither the database 0 every other client defaults to', () => {
    expect(redisDb(demo.redis.url)).not.toBe(0);
    expect(redisDb(tests.redis.url)).not.toBe(0);
    expect(redisDb(tests.redis.url)).not.toBe(redisDb(demo.redis.url));
    expect(tests.redis.prefix).not.toBe(demo.redis.prefix);
  });

  it('each has its own PostgreSQL database', () => {
    expect(new URL(demo.database.url).pathname).toBe('/sentinel');
    expect(new URL(tests.database.url).pathname).toBe('/sentinel_test');
  });

  it('a suite\'s own settings for a section do not undo the tests\' stack (overrides are merged deeply)', () => {
    const e2e = testConfig({ orthanc: { pollIntervalMs: 500 }, redis: { prefix: 'sentinel-test' } });
    expect(e2e.orthanc.pollIntervalMs).toBe(500);
    expect(e2e.orthanc.bundled).toMatchObject(TEST_STACK.orthanc);
    expect(redisDb(e2e.redis.url)).toBe(TEST_STACK.redisDb);
  });
});
