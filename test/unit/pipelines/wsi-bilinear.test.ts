// The bilinear cell resize of the whole-slide path (a level not at the model's spacing), against
// its definition written out here: each output pixel, sampled at its centre, mixes its four
// source neighbours, first along x and then along y, and is rounded. Random cells, shrinking
// (67 px cells of a 3 um level to the model's 50 px at 4 um), enlarging and one axis only.
import { bilinearResizer } from '../../../src/pipelines/wsi/analyze-slide';

function byDefinition(src: Uint8Array, sw: number, sh: number, dw: number, dh: number): Uint8Array {
  const out = new Uint8Array(dw * dh * 3);
  const at = (i: number, s: number, d: number): [number, number, number] => {
    const p = Math.max(0, Math.min(s - 1, (i + 0.5) * (s / d) - 0.5));
    const lo = Math.floor(p);
    return [lo, Math.min(s - 1, lo + 1), p - lo];
  };
  for (let y = 0; y < dh; y++) {
    const [y0, y1, wy] = at(y, sh, dh);
    for (let x = 0; x < dw; x++) {
      const [x0, x1, wx] = at(x, sw, dw);
      for (let c = 0; c < 3; c++) {
        const v = (yy: number, xx: number): number => src[(yy * sw + xx) * 3 + c] as number;
        const top = v(y0, x0) * (1 - wx) + v(y0, x1) * wx;
        const bottom = v(y1, x0) * (1 - wx) + v(y1, x1) * wx;
        out[(y * dw + x) * 3 + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return out;
}

describe('the whole-slide bilinear cell resize', () => {
  it.each([[67, 67, 50, 50], [50, 50, 67, 67], [67, 67, 67, 50], [5, 3, 2, 7], [1, 1, 4, 4]])('%i x %i to %i x %i: every value as defined', (sw, sh, dw, dh) => {
    let seed = sw * 31 + dh;
    const resize = bilinearResizer(sw, sh, dw, dh);
    const out = new Uint8Array(dw * dh * 3);
    for (let trial = 0; trial < 20; trial++) {
      const src = new Uint8Array(sw * sh * 3).map(() => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16) & 255);
      expect(Buffer.from(resize(src, out)).equals(Buffer.from(byDefinition(src, sw, sh, dw, dh)))).toBe(true);
    }
  });
});
