// Polygon to pixels: as bytes, or straight into 1-bit frames (PS3.5 8.1.1: little-endian bit
// order, frames packed back to back without padding).

/**
 * Each run of pixels inside a polygon (even-odd, sampled at pixel centres; coordinates in
 * image pixels), row by row: `span(y, from, to)` covers columns from..to inclusive.
 */
function polygonSpans(points: ReadonlyArray<{ x: number; y: number }>, rows: number, columns: number, span: (y: number, from: number, to: number) => void): void {
  if (points.length < 3) return;
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
      if (from <= to) span(y, from, to);
    }
  }
}

/** The polygon filled: 1 inside, 0 outside, rows x columns. */
export function rasterizePolygon(points: ReadonlyArray<{ x: number; y: number }>, rows: number, columns: number): Uint8Array {
  const mask = new Uint8Array(rows * columns);
  polygonSpans(points, rows, columns, (y, from, to) => mask.fill(1, y * columns + from, y * columns + to + 1));
  return mask;
}

/** Bits first..last (inclusive) of a little-endian bit string set (by division: a SEG may hold more than 2^31 bits). */
function setBits(out: Uint8Array, first: number, last: number): void {
  const [b0, b1] = [Math.floor(first / 8), Math.floor(last / 8)];
  const head = (0xff << (first % 8)) & 0xff;
  const tail = 0xff >> (7 - (last % 8));
  if (b0 === b1) {
    out[b0]! |= head & tail;
    return;
  }
  out[b0]! |= head;
  out.fill(0xff, b0 + 1, b1);
  out[b1]! |= tail;
}

/**
 * One 1-bit frame of rows x columns per polygon, back to back, padded to an even length:
 * only the polygons' own runs are written, so a frame costs its outline's area, not the
 * image's (a full-field mammogram is 13.6 million pixels for a lesion of a few thousand).
 */
export function polygonBitFrames(polygons: ReadonlyArray<ReadonlyArray<{ x: number; y: number }>>, rows: number, columns: number): Uint8Array {
  const bytes = Math.ceil((polygons.length * rows * columns) / 8);
  const out = new Uint8Array(bytes + (bytes % 2));
  polygons.forEach((points, k) => {
    const frame = k * rows * columns;
    polygonSpans(points, rows, columns, (y, from, to) => setBits(out, frame + y * columns + from, frame + y * columns + to));
  });
  return out;
}
