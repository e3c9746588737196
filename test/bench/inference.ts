// Benchmark sections: the inference ceiling and the seeds' stack.
// - Each shipped model alone through Sentinel's own runtime (ModelRegistry over onnxruntime-node,
//   the call a job makes), over batch sizes and 1 or 2 intra-op threads: the best images/s and
//   the GFLOP/s it achieves, FLOPs counted from the graph (inference.py flops);
// - the machine's fp32 matrix-multiply rate in the same run: numpy (OpenBLAS, 2 threads) and an
//   onnxruntime MatMul graph; the best of the two is the machine's rate;
// - the tile classifier in PyTorch eager on CPU (Debian's python3-torch), the training script's
//   own network with the shipped weights, checked against onnxruntime's output first.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { projectRoot } from '../../src/config/load';
import { ModelRegistry } from '../../src/inference/registry';

const run = promisify(execFile);
const SCRIPT = path.join(projectRoot, 'test', 'bench', 'inference.py');
const MODELS = path.join(projectRoot, 'models');
const TILE_MODEL = 'idc-tile-classifier';

async function python<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  const { stdout } = await run('/usr/bin/python3', [SCRIPT, ...args], { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024, timeout: 1_800_000 });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as T;
}

/** Images/s of one model through the registry at one batch size, for about `seconds`. */
async function rate(registry: ModelRegistry, id: string, batch: number, seconds: number): Promise<number> {
  const model = registry.model(id);
  const { channels, height, width } = model.manifest.input;
  const input = new Float32Array(batch * channels * height * width).map(() => Math.random() * 2 - 1);
  await model.run(input, batch); // warm
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000 || n < 2 * batch) {
    await model.run(input, batch);
    n += batch;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function onnxruntimeMatmul(n: number, threads: number): Promise<number> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-bench-')), 'matmul.onnx');
  await python(['make-matmul', file, String(n)]);
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const a = new ort.Tensor('float32', new Float32Array(n * n).map(() => Math.random()), [n, n]);
  await session.run({ A: a });
  const reps = Math.max(3, Math.round(2e10 / (2 * n ** 3)));
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await session.run({ A: a });
  const gflops = (2 * n ** 3 * reps) / ((performance.now() - t0) / 1000) / 1e9;
  await session.release();
  return gflops;
}

export interface ModelCeiling { model: string; batch: number; threads: number; images_per_s: number; gflops: number; mflops_per_image: number }

export async function inferenceCeiling(say: (line: string) => void, quick: boolean): Promise<{ figures: Record<string, number>; models: ModelCeiling[] }> {
  const numpy = await python<{ best_gflops: number }>(['matmul'], { OPENBLAS_NUM_THREADS: '2' });
  const ortMatmul = Math.max(await onnxruntimeMatmul(1024, 2), quick ? 0 : await onnxruntimeMatmul(2048, 2));
  const machine = Math.max(numpy.best_gflops, ortMatmul);
  say(`fp32 matrix multiply: numpy ${numpy.best_gflops.toFixed(0)} GFLOP/s, onnxruntime ${ortMatmul.toFixed(0)} GFLOP/s`);
  const manifests = fs.readdirSync(MODELS).filter((f) => f.endsWith('.json') && !f.includes('.metrics.') && !f.includes('.split.'));
  const models: ModelCeiling[] = [];
  const seconds = quick ? 0.5 : 2;
  for (const threads of [1, 2]) {
    const registry = await ModelRegistry.load(MODELS, { intraOpNumThreads: threads });
    try {
      for (const file of manifests) {
        const id = file.replace(/\.json$/, '');
        const { flops_per_image: flops } = await python<{ flops_per_image: number }>(['flops', path.join(MODELS, `${id}.onnx`)]);
        // Batches up to about 50 GFLOP a call (512 tiles of 50 x 50; a few whole ultrasound images).
        const largest = Math.max(1, Math.min(512, 2 ** Math.floor(Math.log2(5e10 / flops))));
        const batches = [...new Set([1, 4, 16, 64, 128, 256, 512].filter((b) => b <= largest && (!quick || b >= largest / 8)).concat(largest))];
        let best = { batch: 0, ips: 0 };
        for (const b of batches) {
          const ips = await rate(registry, id, b, seconds);
          if (ips > best.ips) best = { batch: b, ips };
        }
        models.push({ model: id, batch: best.batch, threads, images_per_s: Math.round(best.ips * 10) / 10, gflops: Math.round((best.ips * flops) / 1e8) / 10, mflops_per_image: Math.round(flops / 1e5) / 10 });
      }
    } finally {
      await registry.close();
    }
  }
  const bestOf = (id: string): ModelCeiling => models.filter((m) => m.model === id).reduce((a, b) => (b.images_per_s > a.images_per_s ? b : a));
  const tile = bestOf(TILE_MODEL);
  say(`tile model in Sentinel: ${tile.images_per_s} tiles/s (batch ${tile.batch}, ${tile.threads} threads), ${tile.gflops} GFLOP/s`);
  return {
    figures: {
      machine_matmul_gflops: Math.round(machine),
      numpy_matmul_gflops: Math.round(numpy.best_gflops),
      onnxruntime_matmul_gflops: Math.round(ortMatmul),
      tile_model_images_per_s: tile.images_per_s,
      tile_model_best_batch: tile.batch,
      tile_model_best_threads: tile.threads,
      tile_model_gflops: tile.gflops,
      gflops_fraction: Math.round((tile.gflops / machine) * 1000) / 1000,
    },
    models,
  };
}

/** The tile classifier in PyTorch eager against Sentinel's path, same batch sizes, 2 threads each. */
export async function torchEager(say: (line: string) => void, quick: boolean): Promise<Record<string, number>> {
  const registry = await ModelRegistry.load(MODELS, { intraOpNumThreads: 2 });
  try {
    const model = registry.model(TILE_MODEL);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-bench-torch-'));
    const n = 8;
    const x = new Float32Array(n * 3 * 50 * 50).map(() => Math.random() * 4 - 2);
    const y = (await model.run(x, n)).tile_probability?.data;
    if (!y) throw new Error('the tile model gave no tile_probability');
    fs.writeFileSync(path.join(dir, 'in.f32'), Buffer.from(x.buffer));
    fs.writeFileSync(path.join(dir, 'out.f32'), Buffer.from(new Float32Array(Array.from(y).slice(0, n)).buffer));
    const batches = quick ? [64, 256] : [64, 128, 256, 512];
    const torch = await python<{ max_abs_diff_vs_onnx: number; images_per_s: Record<string, number>; best_images_per_s: number }>(
      ['torch', path.join(MODELS, `${TILE_MODEL}.onnx`), batches.join(','), path.join(dir, 'in.f32'), path.join(dir, 'out.f32')], { TORCH_THREADS: '2', OMP_NUM_THREADS: '2' });
    if (!(torch.max_abs_diff_vs_onnx < 1e-4)) throw new Error(`the torch network differs from the shipped graph by ${torch.max_abs_diff_vs_onnx}`);
    let sentinel = 0;
    for (const b of batches) sentinel = Math.max(sentinel, await rate(registry, TILE_MODEL, b, quick ? 0.5 : 2));
    say(`tile model: Sentinel ${sentinel.toFixed(0)} tiles/s, PyTorch eager ${torch.best_images_per_s.toFixed(0)} tiles/s (outputs agree to ${torch.max_abs_diff_vs_onnx.toExponential(1)})`);
    return {
      torch_tiles_per_s: Math.round(torch.best_images_per_s),
      sentinel_tiles_per_s: Math.round(sentinel),
      torch_max_abs_diff: torch.max_abs_diff_vs_onnx,
      inference_vs_torch: Math.round((sentinel / torch.best_images_per_s) * 1000) / 1000,
    };
  } finally {
    await registry.close();
  }
}
