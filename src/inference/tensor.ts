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

/** One interleaved RGB tile (width x height x 3) into slot `index` of a planar NCHW batch. */
export function packRgb8(tile: Uint8Array, luts: Float32Array[], pixelsPerTile: number, out: Float32Array, index: number): void {
  const [r, g, b] = luts as [Float32Array, Float32Array, Float32Array];
  const base = index * 3 * pixelsPerTile;
  const gBase = base + pixelsPerTile;
  const bBase = gBase + pixelsPerTile;
  for (let i = 0, j = 0; i < pixelsPerTile; i++, j += 3) {
    out[base + i] = r[tile[j] as number] as number;
    out[gBase + i] = g[tile[j + 1] as number] as number;
    out[bBase + i] = b[tile[j + 2] as number] as number;
  }
}

/** Interleaved RGB tiles (each width x height x 3) into a planar NCHW batch. */
export function packRgb8Batch(tiles: Uint8Array[], luts: Float32Array[], pixelsPerTile: number, out?: Float32Array): Float32Array {
  const batch = out ?? new Float32Array(tiles.length * 3 * pixelsPerTile);
  tiles.forEach((tile, n) => packRgb8(tile, luts, pixelsPerTile, batch, n));
  return batch;
}
