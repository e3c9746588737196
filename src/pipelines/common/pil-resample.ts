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
 * A BOX filter's coefficients are 1/n over a run of n taps and 0 elsewhere, so each output is
 * ONE/2 + weight * (the sum of its run), the same integers as the multiply-add over every tap,
 * with one multiply per output instead of one per tap.
 */
interface Runs {
  start: Int32Array;
  length: Int32Array;
  weight: Int32Array;
}

function boxRuns(c: Coeffs, outSize: number): Runs {
  const runs = { start: new Int32Array(outSize), length: new Int32Array(outSize), weight: new Int32Array(outSize) };
  for (let o = 0; o < outSize; o++) {
    const base = o * c.ksize;
    const taps = c.bounds[o * 2 + 1] as number;
    let first = 0;
    while (first < taps && c.kk[base + first] === 0) first++;
    let last = taps;
    while (last > first && c.kk[base + last - 1] === 0) last--;
    const weight = first < last ? (c.kk[base + first] as number) : 0;
    for (let x = first; x < last; x++) {
      if (c.kk[base + x] !== weight) throw new SentinelError('internal', 'pilResize: a BOX filter with unequal taps');
    }
    runs.start[o] = (c.bounds[o * 2] as number) + first;
    runs.length[o] = last - first;
    runs.weight[o] = weight;
  }
  return runs;
}

/**
 * The horizontal pass over `rows` rows of one channel (samples `channels` apart): the
 * multiply-add over each output's taps, or for a BOX filter the sum of its run.
 */
function horizontalPass(src: Uint8Array, dst: Uint8Array, c: Coeffs, runs: Runs | undefined, width: number, outWidth: number, rows: number, channels: number): void {
  for (let y = 0; y < rows; y++) {
    const inRow = y * width * channels;
    const outRow = y * outWidth * channels;
    for (let o = 0; o < outWidth; o++) {
      let ss = ONE / 2;
      if (runs) {
        let sum = 0;
        const end = inRow + ((runs.start[o] as number) + (runs.length[o] as number)) * channels;
        for (let i = inRow + (runs.start[o] as number) * channels; i < end; i += channels) sum += src[i] as number;
        ss += sum * (runs.weight[o] as number);
      } else {
        const first = inRow + (c.bounds[o * 2] as number) * channels;
        const taps = c.bounds[o * 2 + 1] as number;
        const kb = o * c.ksize;
        for (let x = 0; x < taps; x++) ss += (src[first + x * channels] as number) * (c.kk[kb + x] as number);
      }
      dst[outRow + o * channels] = clip8(ss);
    }
  }
}

/**
 * The vertical pass, row by row: each output row accumulates its input rows (`rowLength`
 * samples each, all channels at once), weighted per row, or for a BOX filter summed and
 * weighted once. Input row r of the coefficients is row r - rowOffset of `src`.
 */
function verticalPass(src: Uint8Array, dst: Uint8Array, c: Coeffs, runs: Runs | undefined, rowLength: number, outHeight: number, rowOffset: number): void {
  const acc = new Float64Array(rowLength);
  for (let yy = 0; yy < outHeight; yy++) {
    acc.fill(0);
    const outRow = yy * rowLength;
    if (runs) {
      const first = (runs.start[yy] as number) - rowOffset;
      for (let r = first; r < first + (runs.length[yy] as number); r++) {
        const row = r * rowLength;
        for (let x = 0; x < rowLength; x++) acc[x] = (acc[x] as number) + (src[row + x] as number);
      }
      const weight = runs.weight[yy] as number;
      for (let x = 0; x < rowLength; x++) dst[outRow + x] = clip8(ONE / 2 + (acc[x] as number) * weight);
    } else {
      const first = (c.bounds[yy * 2] as number) - rowOffset;
      const taps = c.bounds[yy * 2 + 1] as number;
      for (let t = 0; t < taps; t++) {
        const row = (first + t) * rowLength;
        const k = c.kk[yy * c.ksize + t] as number;
        for (let x = 0; x < rowLength; x++) acc[x] = (acc[x] as number) + (src[row + x] as number) * k;
      }
      for (let x = 0; x < rowLength; x++) dst[outRow + x] = clip8(ONE / 2 + (acc[x] as number));
    }
  }
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
  const runsOf = (c: Coeffs, size: number): Runs | undefined => (filter === 'box' ? boxRuns(c, size) : undefined);

  let src = pixels;
  let rowOffset = 0;
  if (needH) {
    // Only the input rows the vertical pass will read.
    const first = vert.bounds[0] as number;
    const last = (vert.bounds[outHeight * 2 - 2] as number) + (vert.bounds[outHeight * 2 - 1] as number);
    const rows = needV ? last - first : height;
    const y0 = needV ? first : 0;
    const tmp = new Uint8Array(outWidth * rows * channels);
    const runs = runsOf(horiz, outWidth);
    for (let c = 0; c < channels; c++) horizontalPass(pixels.subarray(y0 * width * channels + c), tmp.subarray(c), horiz, runs, width, outWidth, rows, channels);
    src = tmp;
    rowOffset = needV ? first : 0;
  }
  if (!needV) return src;
  const rowLength = (needH ? outWidth : width) * channels;
  const out = new Uint8Array(rowLength * outHeight);
  verticalPass(src, out, vert, runsOf(vert, outHeight), rowLength, outHeight, rowOffset);
  return out;
}
