// `npm run bench [-- --quick] [--only inference,torch,memory,stack,scaleout] [--json]`: the
// benchmark suite (issue 12). Prints the machine, then each section's figures as a table; with
// --json, one JSON object on stdout (progress on stderr). Figures are ratios measured side by
// side in one run, except memory: absolute rates move up to 3x between these machines. The
// stack sections start the tests' stack and empty its database: never beside `npm test`.
// Needs ../shared/data (the IDC mosaics) for the slide sections.
import fs from 'node:fs';
import os from 'node:os';
import { inferenceCeiling, torchEager } from './inference';
import { slideMemory } from './memory';
import { scaleOut } from './scaleout';
import { stackSections } from './stack-e2e';

type Figures = Record<string, number | string>;

/** The goals of issue 12, each a ratio (or a memory bound) from one run. */
const GOALS: Array<[string, '>=' | '<=' | '<', number]> = [
  ['inference_vs_torch', '>=', 2.0],
  ['gflops_fraction', '>=', 0.85],
  ['wsi_e2e_fraction', '>=', 0.85],
  ['wsi_e2e_fraction_resampled', '>=', 0.70],
  ['mg_latency_ratio', '<=', 1.3],
  ['peak_mem_mb_100k', '<', 1536],
  ['scaleout_2_workers', '>=', 0.9],
];

const SECTIONS = ['inference', 'torch', 'memory', 'stack', 'scaleout'] as const;

function machine(): Figures {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  return {
    date: new Date().toISOString(),
    cpu,
    cores: os.cpus().length,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    load_1min_at_start: Number(os.loadavg()[0]?.toFixed(2)),
    node: process.version,
    onnxruntime_node: (JSON.parse(fs.readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const onlyArg = argv[argv.indexOf('--only') + 1];
  const only = argv.includes('--only') && onlyArg ? onlyArg.split(',') : [...SECTIONS];
  const unknown = only.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`unknown section(s) ${unknown.join(', ')}; the sections are ${SECTIONS.join(', ')}`);
  const say = (line: string): void => { process.stderr.write(`${line}\n`); };
  const figures: Figures = { ...machine(), quick: quick ? 'yes' : 'no' };
  let models: unknown[] = [];
  say(`bench: ${figures.cpu}, ${figures.cores} cores, load ${figures.load_1min_at_start}; sections ${only.join(', ')}${quick ? ' (quick)' : ''}`);
  if (only.includes('inference')) {
    const r = await inferenceCeiling(say, quick);
    Object.assign(figures, r.figures);
    models = r.models;
  }
  if (only.includes('torch')) Object.assign(figures, await torchEager(say, quick));
  if (only.includes('memory')) Object.assign(figures, await slideMemory(say, quick));
  if (only.includes('stack')) Object.assign(figures, await stackSections(say, { quick, threads: 2 }));
  if (only.includes('scaleout')) Object.assign(figures, await scaleOut(say, quick));
  figures.load_1min_at_end = Number(os.loadavg()[0]?.toFixed(2));
  const goals = GOALS.filter(([k]) => typeof figures[k] === 'number').map(([k, op, target]) => {
    const v = figures[k] as number;
    const met = op === '>=' ? v >= target : op === '<=' ? v <= target : v < target;
    return { figure: k, value: v, goal: `${op} ${target}`, met };
  });
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...figures, models, goals })}\n`);
  } else {
    const width = Math.max(...Object.keys(figures).map((k) => k.length));
    for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
    if (models.length) {
      process.stdout.write('\nmodel                  threads  batch  images/s  GFLOP/s  MFLOP/image\n');
      for (const m of models as Array<Record<string, number | string>>) {
        process.stdout.write(`${String(m.model).padEnd(22)} ${String(m.threads).padStart(7)} ${String(m.batch).padStart(6)} ${String(m.images_per_s).padStart(9)} ${String(m.gflops).padStart(8)} ${String(m.mflops_per_image).padStart(12)}\n`);
      }
    }
    process.stdout.write('\ngoal                         value     goal      met\n');
    for (const g of goals) process.stdout.write(`${g.figure.padEnd(28)} ${String(g.value).padStart(8)}  ${g.goal.padEnd(8)}  ${g.met ? 'yes' : 'no'}\n`);
  }
  // The stack's pools and timers would hold the process open.
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
