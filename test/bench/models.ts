// The shipped models as the service runs them: Sentinel's own ModelRegistry over
// onnxruntime-node (manifest checked, sha256 checked, one session per model, intra-op threads
// as configured), and the timing loop the inference sections share.
import path from 'node:path';
import { projectRoot } from '../../src/config/load';
import type { ModelRegistry } from '../../src/inference/registry';

export const MODELS_DIR = path.join(projectRoot, 'models');
export const TILE_MODEL = 'idc-tile-classifier';

export function onnxFile(registry: ModelRegistry, id: string): string {
  return path.join(registry.dir, registry.get(id).manifest.file);
}

/** Values per input of a model, as the registry packs them (NCHW). */
export function inputSize(registry: ModelRegistry, id: string): number {
  const { channels, height, width } = registry.get(id).manifest.input;
  return channels * height * width;
}

/** Inputs in the normalised range the models see (about -2..2), fixed by a seed. */
export function randomInputs(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

/**
 * Batch sizes to sweep: powers of two from 1 to 256, none whose one call exceeds `maxFlopsPerCall`
 * (a batch of 256 whole ultrasound images would take minutes a call here); --quick keeps 1 and
 * 64 (or the largest allowed), with a lower cap.
 */
export function batchSizes(flopsPerImage: number, quick: boolean): number[] {
  const cap = quick ? 1e10 : 4.2e10;
  const all = [1, 2, 4, 8, 16, 32, 64, 128, 256].filter((b) => b === 1 || b * flopsPerImage <= cap);
  if (!quick) return all;
  return [...new Set([1, Math.min(64, all[all.length - 1] ?? 1)])];
}

/** Images/s of one model through the registry at one batch size: one warm call, then at least 2 calls and `seconds`. */
export async function imagesPerSecond(registry: ModelRegistry, id: string, batch: number, seconds: number): Promise<number> {
  const input = randomInputs(batch * inputSize(registry, id), batch);
  await registry.run(id, input, batch);
  let n = 0;
  const t0 = performance.now();
  while (n < 2 * batch || performance.now() - t0 < seconds * 1000) {
    await registry.run(id, input, batch);
    n += batch;
  }
  return n / ((performance.now() - t0) / 1000);
}
