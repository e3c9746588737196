// Polygon to pixels, and pixels to 1-bit frames (PS3.5 8.1.1: little-endian bit order, frames
// packed back to back without padding).

/** Even-odd fill of a polygon, sampled at pixel centres; coordinates in image pixels. */
export function rasterizePolygon(points: Array<{ x: number; y: number }>, rows: number, columns: number): Uint8Array {
  const mask = new Uint8Array(rows * columns);
  if (points.length < 3) return mask;
  const ys = points.map((p) => p.y);
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(rows - 1, Math.ceil(Math.max(...ys)));
  for (let y = y0; y <= y1; y++) {
    const cy = y + 0.5;
    const xs: number[] = [];
    for (let i = 0; i < points.length; i++) {
      const a = points[i]!;
      const b = points[(i + 1) % points.length]!;
      if ((a.y <= cy && b.y > cy) || (b.y <= cy && a.y > cy)) xs.push(a.x + ((cy - a.y) / (b.y - a.y)) * (b.x - a.x));
    }
    xs.sort((p, q) => p - q);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const from = Math.max(0, Math.ceil((xs[k] as number) - 0.5));
      const to = Math.min(columns - 1, Math.floor((xs[k + 1] as number) - 0.5));
      for (let x = from; x <= to; x++) mask[y * columns + x] = 1;
    }
  }
  return mask;
}

export function packBitFrames(frames: Uint8Array[]): Uint8Array {
  const total = frames.reduce((n, f) => n + f.length, 0);
  const out = new Uint8Array(Math.ceil(total / 8) + (Math.ceil(total / 8) % 2));
  let bit = 0;
  for (const f of frames) {
    for (let i = 0; i < f.length; i++, bit++) if (f[i]) out[bit >> 3]! |= 1 << (bit & 7);
  }
  return out;
}
