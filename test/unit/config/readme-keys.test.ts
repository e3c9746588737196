// README's configuration table names every key of config/default.json (and the optional ones
// the schema adds) with its environment variable, so the documentation cannot fall behind.
import fs from 'node:fs';
import path from 'node:path';
import { ENV_MAP, projectRoot } from '../../../src/config/load';

const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
const rows = new Map(readme.split('\n').filter((l) => l.startsWith('| `')).map((l) => {
  const cells = l.split('|').map((c) => c.trim());
  return [cells[1]!.replace(/`/g, ''), cells[3] ?? ''] as const;
}));

function leaves(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

describe("README's configuration table", () => {
  const defaults = JSON.parse(fs.readFileSync(path.join(projectRoot, 'config', 'default.json'), 'utf8'));

  it('has a row for every key of config/default.json, and fhir.token', () => {
    const missing = [...leaves(defaults), 'fhir.token'].filter((k) => !rows.has(k));
    expect(missing).toEqual([]);
  });

  it('gives each environment variable the loader reads on the row of its key', () => {
    const wrong = ENV_MAP.filter(([env, key]) => !(rows.get(key) ?? '').includes(`\`${env}\``)).map(([env, key]) => `${env} -> ${key}`);
    expect(wrong).toEqual([]);
  });
});
