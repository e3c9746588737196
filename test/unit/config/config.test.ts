import { Writable } from 'node:stream';
import { envLayer, loadConfig, mergeLayers, validateConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';

describe('configuration', () => {
  it('loads config/default.json and lets environment variables override it', () => {
    const config = loadConfig({ env: { SENTINEL_PORT: '9999', DATABASE_URL: 'postgres://u@db.example:5432/x', SENTINEL_API_TOKENS: 'a-token-of-enough-length, another-long-token-here' } });
    expect(config.server.port).toBe(9999);
    expect(config.database.url).toBe('postgres://u@db.example:5432/x');
    expect(config.auth.apiTokens).toEqual(['a-token-of-enough-length', 'another-long-token-here']);
    expect(config.routing.rules.map((r) => r.pipeline)).toContain('mammography');
  });

  it('lists every problem at once, each with its path', () => {
    const raw = mergeLayers(
      loadConfig({ env: {} }) as unknown as Record<string, unknown>,
      { server: { port: 70000 }, database: { url: 'not a url' }, auth: { apiTokens: ['short'] } },
    );
    const result = validateConfig(raw);
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems.some((p) => p.startsWith('server.port'))).toBe(true);
    expect(problems.some((p) => p.startsWith('database.url'))).toBe(true);
    expect(problems.some((p) => p.startsWith('auth.apiTokens.0') && p.includes('16 characters'))).toBe(true);
  });

  it('a non-numeric port from the environment is an error, not a silent default', () => {
    expect(() => loadConfig({ env: { SENTINEL_PORT: 'eighty' } })).toThrow(/server\.port/);
  });

  it('ignores empty environment variables', () => {
    expect(envLayer({ DATABASE_URL: '' })).toEqual({});
  });
});

describe('logging', () => {
  it('never writes patient names or IDs, even when they slip into a logged object', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    const log = createLogger('info', sink);
    log.info({ studyInstanceUid: '1.2.3', PatientName: 'Doe^Jane', context: { patientId: 'MRN-123', AccessionNumber: 'ACC9' } }, 'analysed');
    const text = lines.join('');
    expect(text).toContain('1.2.3');
    expect(text).not.toMatch(/Doe|MRN-123|ACC9/);
  });
});
