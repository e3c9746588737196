// Benchmark section: the whole-slide path's peak memory and time on synthetic slides
// (wsi-scale.ts: a virtual pyramid of real H&E JPEG tiles, decoded by Sentinel each time), one
// slide per child process so each peak (VmHWM) is that slide's alone: 100,000 x 80,000 and
// 50,000 x 40,000 pixels with a full pyramid (a level at the model's spacing), and the large one
// with 40x and 10x only. Memory must stay below 1536 MB and flat in slide size.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

interface SlideRun { tissueCells: number; seconds: number; modelTilesPerSecond: number; peakRssMiB: number }

async function slide(args: string[]): Promise<SlideRun> {
  const compiled = __filename.endsWith('.js');
  const script = path.join(__dirname, compiled ? 'wsi-scale.js' : 'wsi-scale.ts');
  const node = compiled ? [script] : ['-r', path.join(__dirname, '..', 'support', 'ts-register.js'), script];
  const { stdout } = await run(process.execPath, [...node, '--json', ...args], { timeout: 3_600_000 });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as SlideRun;
}

export async function slideMemory(say: (line: string) => void, quick: boolean): Promise<Record<string, number>> {
  const [w, h] = quick ? [50_000, 40_000] : [100_000, 80_000];
  const large = await slide(['--width', String(w), '--height', String(h), '--pyramid', 'full']);
  const small = await slide(['--width', String(w / 2), '--height', String(h / 2), '--pyramid', 'full']);
  const sparse = await slide(['--width', String(w), '--height', String(h), '--pyramid', 'sparse']);
  say(`synthetic slides: ${w} x ${h} ${large.peakRssMiB} MiB, ${w / 2} x ${h / 2} ${small.peakRssMiB} MiB, ${w} x ${h} without a level at the model spacing ${sparse.peakRssMiB} MiB`);
  const tag = quick ? '50k' : '100k';
  return {
    [`peak_mem_mb_${tag}`]: large.peakRssMiB,
    [`peak_mem_mb_${quick ? '25k' : '50k'}`]: small.peakRssMiB,
    [`peak_mem_mb_${tag}_resampled`]: sparse.peakRssMiB,
    [`synthetic_${tag}_tiles_per_s`]: large.modelTilesPerSecond,
    [`synthetic_${tag}_resampled_tiles_per_s`]: sparse.modelTilesPerSecond,
    [`synthetic_${tag}_tissue_cells`]: large.tissueCells,
    [`synthetic_${tag}_seconds`]: large.seconds,
  };
}
