// The house's rules, checked on every test run, by dependency-cruiser reading the imports of
// src/ (type-only imports included): no import circle, every folder of src/ is a room of
// src/README.md's room table, and no room imports one listed below it (the table goes from
// the ground floor up). The table is read from the README itself, so the README and the
// code cannot drift apart.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

/** The rooms of src/README.md's table, ground floor first ("`config/`" -> "config"). */
export function roomTable(readme: string): string[] {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Rooms')) ?? '';
  return section.split('\n')
    .map((line) => /^\|\s*`([a-z0-9-]+)\/`\s*\|/.exec(line)?.[1])
    .filter((room): room is string => room !== undefined);
}

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: Array<{ name: string }>;
}

function cruise(rooms: string[]): Violation[] {
  const climbing = rooms.slice(0, -1).map((room, i) => ({
    name: `climbs-from-${room}`,
    comment: `${room}/ may import only the rooms above it in src/README.md's table`,
    severity: 'error',
    from: { path: `^src/${room}/` },
    to: { path: `^src/(${rooms.slice(i + 1).join('|')})/` },
  }));
  const config = {
    forbidden: [
      { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
      { name: 'not-a-room', comment: 'every folder of src/ is a room of src/README.md\'s table', severity: 'error', from: { path: '^src/', pathNot: `^src/(${rooms.join('|')})/` }, to: {} },
      ...climbing,
    ],
    options: {
      tsPreCompilationDeps: true,
      tsConfig: { fileName: path.join(root, 'tsconfig.json') },
      doNotFollow: { path: 'node_modules' },
      exclude: { path: '\\.d\\.ts$' },
    },
  };
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-rooms-')), 'rules.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const run = spawnSync(process.execPath, [path.join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'), 'src', '--config', file, '--output-type', 'json'],
    { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (!run.stdout) throw new Error(`dependency-cruiser did not run: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

const describeViolation = (v: Violation): string =>
  `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (circle: ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`;

describe('the rooms of src/README.md hold', () => {
  const rooms = roomTable(fs.readFileSync(path.join(root, 'src/README.md'), 'utf8'));

  it('the table names every folder of src/ once', () => {
    const folders = fs.readdirSync(path.join(root, 'src'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect([...rooms].sort()).toEqual(folders);
    expect(new Set(rooms).size).toBe(rooms.length);
  });

  it('no import circle, and no import climbing the table', () => {
    expect(cruise(rooms).map(describeViolation)).toEqual([]);
  }, 120_000);

  it('the check can fail: a room table turned upside down is climbed everywhere', () => {
    const violations = cruise([...rooms].reverse());
    expect(violations.some((v) => v.rule.name === 'climbs-from-config' || v.rule.name.startsWith('climbs-from-'))).toBe(true);
    expect(violations.length).toBeGreaterThan(20);
  }, 120_000);
});
