// `npm run bench [-- --quick] [--only inference,torch] [--json]`: the benchmark suite (issue 12).
// Prints the machine (date, CPU, cores, 1-minute load average), then each section's figures and
// tables, then the goals that the figures measured can be judged against; with --json, exactly
// one JSON object on stdout (progress on stderr). --quick runs the sections that fit in under a
// minute (inference, torch); the others take minutes even when quick and run with --quick only
// when --only names them.
// Goals are ratios measured side by side in one run: absolute rates move up to 3x between the
// machines here. A figure taken while the machine was busy says so (`under_load`): the load
// average at the start and end of each section is kept with it.
import fs from 'node:fs';
import os from 'node:os';
import type { Figures, SectionResult } from './section';
import { SECTIONS } from './sections';

/** The goals of issue 12: a figure, how it compares, its target. */
const GOALS: Array<[string, '>=' | '<=' | '<', number]> = [
  ['inference_vs_torch', '>=', 2.0],
  ['gflops_fraction', '>=', 0.85],
  ['wsi_e2e_fraction', '>=', 0.85],
  ['wsi_e2e_fraction_resampled', '>=', 0.70],
  ['mg_latency_ratio', '<=', 1.3],
  ['peak_mem_mb_100k', '<', 1536],
  ['scaleout_2_workers', '>=', 0.9],
];

/** A 1-minute load average above this (per core) means others were using the machine. */
const BUSY_LOAD_PER_CORE = 0.25;

const load1 = (): number => Number((os.loadavg()[0] ?? 0).toFixed(2));

function machine(quick: boolean): Figures {
  return {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    load_1min_at_start: load1(),
    node: process.version,
    onnxruntime_node: (JSON.parse(fs.readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version,
    mode: quick ? 'quick' : 'full',
  };
}

/** A wrong command line: said in one line, without a stack. */
class UsageError extends Error {}

function parseArgs(argv: string[]): { json: boolean; quick: boolean; only: string[]; skipped: string[] } {
  const names = SECTIONS.map((s) => s.name);
  const quick = argv.includes('--quick');
  // --quick alone: the sections that fit in a minute; --only runs what it names.
  let only = SECTIONS.filter((s) => !quick || s.quick !== false).map((s) => s.name);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--json' || a === '--quick') continue;
    if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      only = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = only.filter((s) => !names.includes(s));
      if (unknown.length || only.length === 0) throw new UsageError(`unknown section(s) ${unknown.join(', ') || '(none given)'}; the sections are ${names.join(', ')}`);
      continue;
    }
    throw new UsageError(`unknown argument ${a}; usage: npm run bench -- [--quick] [--only ${names.join(',')}] [--json]`);
  }
  return { json: argv.includes('--json'), quick, only, skipped: names.filter((n) => !only.includes(n)) };
}

function table(columns: string[], rows: Array<Array<string | number>>): string {
  const cells = [columns, ...rows.map((r) => r.map(String))];
  const widths = columns.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  return cells.map((r) => r.map((v, c) => (typeof rows[0]?.[c] === 'number' ? v.padStart(widths[c] ?? 0) : v.padEnd(widths[c] ?? 0))).join('  ').trimEnd()).join('\n');
}

interface SectionRun extends SectionResult { title: string; seconds: number; load_1min_at_start: number; load_1min_at_end: number; under_load: boolean }

async function main(): Promise<void> {
  const { json, quick, only, skipped } = parseArgs(process.argv.slice(2));
  const say = (line: string): void => { process.stderr.write(`${line}\n`); };
  const head = machine(quick);
  const cores = Number(head.cores);
  const busy = (l: number): boolean => l > BUSY_LOAD_PER_CORE * cores;
  say(`bench ${head.date}: ${head.cpu}, ${head.cores} cores, 1-minute load ${head.load_1min_at_start}${busy(Number(head.load_1min_at_start)) ? ' (UNDER LOAD: figures are not from a quiet machine)' : ''}; sections ${only.join(', ')}${quick ? ' (quick)' : ''}${skipped.length ? `; not run: ${skipped.join(', ')}` : ''}`);
  const sections: Record<string, SectionRun> = {};
  const figures: Figures = {};
  for (const s of SECTIONS.filter((x) => only.includes(x.name))) {
    say(`== ${s.name}: ${s.title}`);
    const l0 = load1();
    const t0 = performance.now();
    const r = await s.run({ quick, say });
    const l1 = load1();
    sections[s.name] = { title: s.title, ...r, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)), load_1min_at_start: l0, load_1min_at_end: l1, under_load: busy(l0) || busy(l1) };
    Object.assign(figures, r.figures);
  }
  const underLoad = busy(Number(head.load_1min_at_start)) || Object.values(sections).some((s) => s.under_load);
  const goals = GOALS.filter(([k]) => typeof figures[k] === 'number').map(([k, op, target]) => {
    const v = figures[k] as number;
    return { figure: k, value: v, goal: `${op} ${target}`, met: op === '>=' ? v >= target : op === '<=' ? v <= target : v < target };
  });
  const out = { machine: { ...head, load_1min_at_end: load1(), under_load: underLoad }, figures, goals, sections, not_run: skipped };
  if (json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const print = (s: string): void => { process.stdout.write(`${s}\n`); };
  print(`Sentinel benchmark, ${head.date}${quick ? ' (quick)' : ''}`);
  print(`machine: ${head.cpu}, ${head.cores} cores, ${head.memory_gib} GiB; node ${head.node}, onnxruntime-node ${head.onnxruntime_node}`);
  print(`1-minute load average: ${head.load_1min_at_start} at start, ${out.machine.load_1min_at_end} at end${underLoad ? ' -- UNDER LOAD: other work shared these cores, figures are low' : ''}`);
  for (const [name, s] of Object.entries(sections)) {
    print(`\n## ${name}: ${s.title} (${s.seconds} s, load ${s.load_1min_at_start} -> ${s.load_1min_at_end}${s.under_load ? ', under load' : ''})`);
    print(table(['figure', 'value'], Object.entries(s.figures)));
    for (const t of s.tables ?? []) print(`\n${t.title}\n${table(t.columns, t.rows)}`);
    for (const n of s.notes ?? []) print(`note: ${n}`);
  }
  if (skipped.length) print(`\nnot run: ${skipped.join(', ')}${quick ? ' (minutes even when quick: name them in --only)' : ''}`);
  if (goals.length) print(`\n## goals\n${table(['figure', 'value', 'goal', 'met'], goals.map((g) => [g.figure, g.value, g.goal, g.met ? 'yes' : 'NO']))}`);
}

main().then(
  // onnxruntime's thread pools and any section's pools would hold the process open.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof UsageError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
