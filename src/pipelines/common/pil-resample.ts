// Pillow's Image.resize for 8-bit images (libImaging/Resample.c), reproduced bit for bit, so
// that a model trained on PIL-resized images sees the same pixels here: convolution
// coefficients in double, turned into 22-bit fixed point, a horizontal pass then a vertical
// pass, each rounded and clipped to 8 bits. Only what the training scripts use: the whole
// image (no box), filters BILINEAR (triangle) and BOX, 1 to 4 interleaved channels.
import { SentinelError } from '../../errors/errors';
export type PilFilter = 'bilinear' | 'box';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

const FILTERS: Record<PilFilter, { support: number; fn: (x: number) => number }> = {
  bilinear: {
    support: 1,
    fn: (x) => {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
};

interface Coeffs {
  /** First input index and number of taps, per output sample. */
  bounds: Int32Array;
  /** ksize fixed-point coefficients per output sample. */
  kk: Int32Array;
  ksize: number;
}

/** precompute_coeffs + normalize_coeffs_8bpc for the whole axis (in0 = 0, in1 = inSize). */
function coefficients(inSize: number, outSize: number, filter: PilFilter): Coeffs {
  const { support: base, fn } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = Math.max(1, scale);
  const support = base * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    k.fill(0);
    for (let x = 0; x < xmax; x++) {
      const w = fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      if (ww !== 0) k[x] = (k[x] as number) / ww;
    }
    for (let x = 0; x < ksize; x++) {
      const v = k[x] as number;
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
}

/**
 * Resize interleaved 8-bit pixels (`channels` per pixel) as PIL's Image.resize(size, filter)
 * does for mode L (1 channel) or RGB/RGBA (3/4 channels, each channel independently).
 */
export function pilResize(pixels: Uint8Array, width: number, height: number, channels: number, outWidth: number, outHeight: number, filter: PilFilter): Uint8Array {
  if (pixels.length !== width * height * channels) throw new SentinelError('internal', `pilResize: ${pixels.length} bytes for ${width} x ${height} x ${channels}`);
  if (outWidth === width && outHeight === height) return pixels.slice();
  const needH = outWidth !== width;
  const needV = outHeight !== height;
  const vert = coefficients(height, outHeight, filter);
  const horiz = coefficients(width, outWidth, filter);

  let src = pixels;
  let srcWidth = width;
  let rowOffset = 0;
  if (needH) {
    // Only the input rows the vertical pass will read.
    const first = vert.bounds[0] as number;
    const last = (vert.bounds[outHeight * 2 - 2] as number) + (vert.bounds[outHeight * 2 - 1] as number);
    const rows = needV ? last - first : height;
    const y0 = needV ? first : 0;
    const tmp = new Uint8Array(outWidth * rows * channels);
    for (let yy = 0; yy < rows; yy++) {
      const inRow = (yy + y0) * width * channels;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = horiz.bounds[xx * 2] as number;
        const xmax = horiz.bounds[xx * 2 + 1] as number;
        const kb = xx * horiz.ksize;
        for (let c = 0; c < channels; c++) {
          let ss = ONE / 2;
          for (let x = 0; x < xmax; x++) ss += (pixels[inRow + (x + xmin) * channels + c] as number) * (horiz.kk[kb + x] as number);
          tmp[(yy * outWidth + xx) * channels + c] = clip8(ss);
        }
      }
    }
    src = tmp;
    srcWidth = outWidth;
    rowOffset = needV ? first : 0;
  }
  if (!needV) return src;
  const out = new Uint8Array(outWidth * outHeight * channels);
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = (vert.bounds[yy * 2] as number) - rowOffset;
    const ymax = vert.bounds[yy * 2 + 1] as number;
    const kb = yy * vert.ksize;
    for (let xx = 0; xx < outWidth; xx++) {
      for (let c = 0; c < channels; c++) {
        let ss = ONE / 2;
        for (let y = 0; y < ymax; y++) ss += (src[((y + ymin) * srcWidth + xx) * channels + c] as number) * (vert.kk[kb + y] as number);
        out[(yy * outWidth + xx) * channels + c] = clip8(ss);
      }
    }
  }
  return out;
}
