// SEG pixels: polygons written straight into 1-bit frames must be, bit for bit, the byte
// masks packed as PS3.5 8.1.1 says (little-endian bit order: pixel i of the frames, counted
// back to back, is bit i % 8 of byte i / 8; padded to an even length). The packing is done
// here by that definition, one pixel at a time, over random polygons on sizes whose frames do
// not start on a byte, with runs that start and end inside a byte, span many, or fit in one.
import { polygonBitFrames, rasterizePolygon } from '../../../src/reports/seg/raster';

function packedByDefinition(masks: Uint8Array[]): Uint8Array {
  const total = masks.reduce((n, m) => n + m.length, 0);
  const bytes = Math.ceil(total / 8);
  const out = new Uint8Array(bytes + (bytes % 2));
  let i = 0;
  for (const m of masks) for (const v of m) {
    if (v) out[i >> 3]! |= 1 << (i % 8);
    i++;
  }
  return out;
}

/** A deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function polygon(next: () => number, rows: number, columns: number): Array<{ x: number; y: number }> {
  const [cx, cy, r] = [next() * columns, next() * rows, 0.5 + next() * Math.max(rows, columns) * 0.6];
  const n = 3 + Math.floor(next() * 9);
  // Some points outside the image, some angles out of order (self-crossing outlines).
  return Array.from({ length: n }, (_, k) => {
    const a = (k / n) * 2 * Math.PI + (next() - 0.5) * 2;
    const d = r * (0.2 + next());
    return { x: cx + d * Math.cos(a), y: cy + d * Math.sin(a) };
  });
}

describe('polygonBitFrames', () => {
  it.each([[300, 256], [7, 13], [33, 9], [1, 1], [64, 40]])('equals the byte masks packed by definition, %i x %i', (rows, columns) => {
    const next = random(rows * 1000 + columns);
    for (let trial = 0; trial < 40; trial++) {
      const polygons = Array.from({ length: 1 + Math.floor(next() * 4) }, () => polygon(next, rows, columns));
      const expected = packedByDefinition(polygons.map((p) => rasterizePolygon(p, rows, columns)));
      expect(Buffer.from(polygonBitFrames(polygons, rows, columns)).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('sets nothing for a polygon of fewer than three points or outside the image, and its frame is still there', () => {
    const out = polygonBitFrames([[{ x: 1, y: 1 }, { x: 5, y: 5 }], [{ x: -9, y: -9 }, { x: -2, y: -9 }, { x: -5, y: -2 }]], 4, 8);
    expect(out).toEqual(new Uint8Array(8));
  });

  it('a full frame has every bit of its own and none of the next', () => {
    const square = [{ x: -1, y: -1 }, { x: 9, y: -1 }, { x: 9, y: 4 }, { x: -1, y: 4 }];
    expect(Array.from(polygonBitFrames([square, []], 3, 7))).toEqual([0xff, 0xff, 0x1f, 0, 0, 0]);
  });
});
