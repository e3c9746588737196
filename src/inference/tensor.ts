// Packing pixels into the model's NCHW float32 input through one lookup table per channel
// (value * scale, then (v - mean) / std), into a buffer that is allocated once per batch.
import type { ModelManifest } from './manifest';

export function normalizationLuts(manifest: ModelManifest): Float32Array[] {
  const { scale, mean, std } = manifest.input.normalization;
  return mean.map((m, c) => {
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = (v * scale - m) / (std[c] as number);
    return lut;
  });
}

/** One grayscale image (width x height, row-major) into slot `index` of a batch. */
export function packGray8(pixels: Uint8Array, lut: Float32Array, out: Float32Array, index = 0): Float32Array {
  const base = index * pixels.length;
  for (let i = 0; i < pixels.length; i++) out[base + i] = lut[pixels[i] as number] as number;
  return out;
}

/** Interleaved RGB tiles (each width x height x 3) into a planar NCHW batch. */
export function packRgb8Batch(tiles: Uint8Array[], luts: Float32Array[], pixelsPerTile: number, out?: Float32Array): Float32Array {
  const batch = out ?? new Float32Array(tiles.length * 3 * pixelsPerTile);
  const [r, g, b] = luts as [Float32Array, Float32Array, Float32Array];
  tiles.forEach((tile, n) => {
    const base = n * 3 * pixelsPerTile;
    for (let i = 0; i < pixelsPerTile; i++) {
      batch[base + i] = r[tile[3 * i] as number] as number;
      batch[base + pixelsPerTile + i] = g[tile[3 * i + 1] as number] as number;
      batch[base + 2 * pixelsPerTile + i] = b[tile[3 * i + 2] as number] as number;
    }
  });
  return batch;
}
