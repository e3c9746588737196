// Benchmark section: scale-out on the same 2 cores. The load test (test/load/loadtest.ts: the
// stack, one `sentinel serve`, W `sentinel worker` processes, N two-image mammography studies)
// runs twice on the same batch size: 1 worker with 2 onnxruntime threads, then 2 workers with
// 1 thread each. `scaleout_2_workers` is the second's throughput over the first's.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

interface LoadResult { studies_per_min: number; p50_s: number; p95_s: number; lost: number; duplicates: number; peak_rss_mb: number }

/** The load test as this file was built: compiled JavaScript next to it, or TypeScript through the test register. */
async function loadtest(args: string[]): Promise<LoadResult> {
  const compiled = __filename.endsWith('.js');
  const script = path.join(__dirname, '..', 'load', compiled ? 'loadtest.js' : 'loadtest.ts');
  const node = compiled ? [script] : ['-r', path.join(__dirname, '..', 'support', 'ts-register.js'), script];
  const { stdout } = await run(process.execPath, [...node, '--json', ...args], { maxBuffer: 64 * 1024 * 1024, timeout: 3_600_000 });
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as LoadResult;
}

export async function scaleOut(say: (line: string) => void, quick: boolean): Promise<Record<string, number>> {
  const studies = quick ? 6 : 40;
  const one = await loadtest(['--studies', String(studies), '--workers', '1', '--threads', '2']);
  say(`scale-out: 1 worker x 2 threads: ${one.studies_per_min} studies/min (p50 ${one.p50_s} s)`);
  const two = await loadtest(['--studies', String(studies), '--workers', '2', '--threads', '1']);
  say(`scale-out: 2 workers x 1 thread: ${two.studies_per_min} studies/min (p50 ${two.p50_s} s)`);
  if (one.lost + one.duplicates + two.lost + two.duplicates > 0) throw new Error('the load test lost or duplicated a study');
  return {
    scaleout_studies: studies,
    scaleout_1x2_studies_per_min: one.studies_per_min,
    scaleout_2x1_studies_per_min: two.studies_per_min,
    scaleout_2_workers: Number((two.studies_per_min / one.studies_per_min).toFixed(3)),
    scaleout_peak_rss_mb_1x2: one.peak_rss_mb,
    scaleout_peak_rss_mb_2x1: two.peak_rss_mb,
  };
}
