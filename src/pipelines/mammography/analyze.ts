// One mammogram in, one ImageResult out: resample to the model's spacing, slide the model
// over the image in half-overlapping windows, max-merge the heatmaps, keep only what lies
// on the breast, and turn each connected region above the detection threshold into a
// finding in SOURCE pixel coordinates. Everything model-specific comes from the manifest;
// a model that takes a pair (manifest `input.views` 'pair') gets, beside each window of the
// film, the same window of the other breast's film of the view, mirrored.
import type { LoadedModel, ModelOutputs } from '../../inference/registry';
import { threshold } from '../../inference/manifest';
import { SentinelError } from '../../errors/errors';
import { normalizationLuts, packGray8 } from '../../inference/tensor';
import type { Finding, FindingType, ImageRef, ImageResult } from '../../domain/findings';
import { type GrayImage, connectedComponents, convexHull, polygonArea, resampleToSpacing, resize } from '../common/image-ops';
import { findBreastRegion } from './breast-region';
import { stageTimer } from '../../metrics/metrics';

export interface MammogramInput {
  ref: ImageRef;
  /** rows x columns display values, bright = dense. */
  gray8: Uint8Array;
  /** [row, column] mm; absent: the model's own spacing is assumed (and said in the result). */
  pixelSpacingMm?: [number, number];
  laterality?: 'L' | 'R';
  view?: string;
  /** The other breast's film of the same view, for a pair model; without one the film is its own partner. */
  partner?: MammogramFilm;
}

export interface MammogramFilm {
  gray8: Uint8Array;
  rows: number;
  columns: number;
  pixelSpacingMm?: [number, number];
}

export interface FindingIds {
  newUid: () => string;
  nextTrackingId: () => string;
}

export interface MammogramAnalysis extends ImageResult {
  spacingAssumed: boolean;
  breastFraction: number;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

// Each film at the model's spacing, resampled once though it is analysed as itself and as its
// partner's second channel: keyed by its display pixels, which live as long as the study's films.
const atSpacing = new WeakMap<Uint8Array, Map<string, GrayImage>>();

/** A film's display pixels at the model's spacing (PIL BOX when shrinking, as in training), once per film and spacing. */
export function filmAtSpacing(img: GrayImage, from: [number, number], to: number): GrayImage {
  const key = `${from[0]} ${from[1]} ${to} ${img.width} ${img.height}`;
  let byKey = atSpacing.get(img.pixels);
  if (!byKey) atSpacing.set(img.pixels, (byKey = new Map()));
  let out = byKey.get(key);
  if (!out) byKey.set(key, (out = resampleToSpacing(img, from, to)));
  return out;
}

/** A film at the model's spacing (a film that gives no spacing is taken to be at it): how every caller asks, so each finds the one resample. */
export function filmAtModelSpacing(film: MammogramFilm, target: number): GrayImage {
  return filmAtSpacing({ width: film.columns, height: film.rows, pixels: film.gray8 }, film.pixelSpacingMm ?? [target, target], target);
}

/** Window origins along one axis: half-overlapping, the last flush with the end. */
export function windowOrigins(size: number, window: number): number[] {
  if (size <= window) return [0];
  const step = Math.max(1, Math.floor(window / 2));
  const out: number[] = [];
  for (let o = 0; o + window < size; o += step) out.push(o);
  out.push(size - window);
  return out;
}

function findingType(className: string | undefined): FindingType {
  if (className === 'mass' || className === 'calcification') return className;
  return 'lesion';
}

export async function analyzeMammogram(input: MammogramInput, model: LoadedModel, ids: FindingIds): Promise<MammogramAnalysis> {
  const m = model.manifest;
  const endPreprocess = stageTimer('mammography', 'preprocess');
  const { height: ih, width: iw } = m.input;
  // The model's own spacing is a fact of its manifest; an image without a spacing is taken to be at it.
  const target = m.input.pixelSpacingMm;
  if (!target) throw new SentinelError('unsupported', `model ${m.id} gives no input.pixelSpacingMm in its manifest: a mammography detector runs at a known spacing`);
  const source: [number, number] = input.pixelSpacingMm ?? [target, target];
  const img = filmAtModelSpacing({ gray8: input.gray8, rows: input.ref.rows, columns: input.ref.columns, pixelSpacingMm: input.pixelSpacingMm }, target);
  const breast = findBreastRegion(img);

  const xs = windowOrigins(img.width, iw);
  const ys = windowOrigins(img.height, ih);
  const windows = ys.flatMap((y) => xs.map((x) => ({ x, y })));
  const lut = normalizationLuts(m)[0] as Float32Array;
  const planes = m.input.views === 'pair' ? [img, partnerPlane(input.partner, img, target)] : [img];
  const batch = new Float32Array(windows.length * planes.length * iw * ih);
  const crop = new Uint8Array(iw * ih);
  windows.forEach((w, n) => {
    planes.forEach((plane, c) => {
      crop.fill(0);
      for (let r = 0; r < ih && w.y + r < plane.height; r++) {
        const from = (w.y + r) * plane.width + w.x;
        crop.set(plane.pixels.subarray(from, from + Math.min(iw, plane.width - w.x)), r * iw);
      }
      packGray8(crop, lut, batch, n * planes.length + c);
    });
  });
  endPreprocess();
  const outputs: ModelOutputs = await model.run(batch, windows.length);
  const endPostprocess = stageTimer('mammography', 'postprocess');

  const heatOut = outputs.lesion_heatmap;
  const heatSpec = m.outputs.find((o) => o.role === 'lesion_heatmap');
  const findings: Finding[] = [];
  let heatMax = 0;
  if (heatOut && heatSpec) {
    const { grids, gw, gh, stride } = stitchHeatmap(heatOut, windows, ih, img.width, img.height);
    for (const [c, grid] of grids.entries()) {
      suppressOutsideBreast(grid, gw, gh, stride, breast.mask, img);
      for (let i = 0; i < grid.length; i++) heatMax = Math.max(heatMax, grid[i] as number);
      findings.push(...componentsToFindings(grid, gw, gh, stride, threshold(m, 'detection'), findingType(heatSpec.classes[c]), input, img, target, source, ids));
    }
  }
  const imageScoreOut = outputs.image_score;
  const score = imageScoreOut ? Math.max(...Array.from(imageScoreOut.data)) : heatMax;
  findings.sort((a, b) => b.score - a.score);
  endPostprocess();
  return {
    image: input.ref,
    laterality: input.laterality,
    view: input.view,
    score,
    findings,
    spacingAssumed: input.pixelSpacingMm === undefined,
    breastFraction: breast.fraction,
    // Back to the film's own pixels from the model's spacing.
    breastOutline: breast.outline.map((p) => ({ x: round1(p.x * (input.ref.columns / img.width)), y: round1(p.y * (input.ref.rows / img.height)) })),
  };
}

/**
 * A pair model's second channel: the other breast's film at the model's spacing, mirrored
 * left to right and brought to the film's size; the film itself (unmirrored) without one.
 */
export function partnerPlane(partner: MammogramFilm | undefined, film: GrayImage, target: number): GrayImage {
  if (!partner) return film;
  let img = filmAtModelSpacing(partner, target);
  const mirrored = new Uint8Array(img.pixels.length);
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width;
    for (let x = 0; x < img.width; x++) mirrored[row + x] = img.pixels[row + img.width - 1 - x] as number;
  }
  img = { width: img.width, height: img.height, pixels: mirrored };
  return img.width === film.width && img.height === film.height ? img : resize(img, film.width, film.height);
}

function suppressOutsideBreast(grid: Float32Array, gw: number, gh: number, stride: number, mask: Uint8Array, img: GrayImage): void {
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      let inside = false;
      for (let y = gy * stride; y < Math.min(img.height, (gy + 1) * stride) && !inside; y++) {
        for (let x = gx * stride; x < Math.min(img.width, (gx + 1) * stride); x++) {
          if (mask[y * img.width + x]) {
            inside = true;
            break;
          }
        }
      }
      if (!inside) grid[gy * gw + gx] = 0;
    }
  }
}

function componentsToFindings(
  grid: Float32Array, gw: number, gh: number, stride: number, threshold: number, type: FindingType,
  input: MammogramInput, img: GrayImage, target: number, source: [number, number], ids: FindingIds,
): Finding[] {
  const binary = new Uint8Array(grid.length);
  for (let i = 0; i < grid.length; i++) binary[i] = (grid[i] as number) >= threshold ? 1 : 0;
  const { labels, sizes } = connectedComponents(binary, gw, gh);
  // Heatmap cell → source pixel: cell * stride model pixels, each target/source mm wide.
  const sx = (stride * target) / source[1];
  const sy = (stride * target) / source[0];
  const clampX = (v: number): number => Math.max(0, Math.min(input.ref.columns, v));
  const clampY = (v: number): number => Math.max(0, Math.min(input.ref.rows, v));
  const out: Finding[] = [];
  for (let label = 1; label < sizes.length; label++) {
    let best = -1;
    let bestV = -1;
    const corners: Array<{ x: number; y: number }> = [];
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] !== label) continue;
      const v = grid[i] as number;
      if (v > bestV) {
        bestV = v;
        best = i;
      }
      const cx = i % gw;
      const cy = (i - cx) / gw;
      corners.push({ x: cx, y: cy }, { x: cx + 1, y: cy }, { x: cx, y: cy + 1 }, { x: cx + 1, y: cy + 1 });
    }
    const hull = convexHull(corners).map((p) => ({ x: clampX(p.x * sx), y: clampY(p.y * sy) }));
    const bx = best % gw;
    const by = (best - bx) / gw;
    const xsH = hull.map((p) => p.x);
    const ysH = hull.map((p) => p.y);
    const box = { x: Math.min(...xsH), y: Math.min(...ysH), width: Math.max(...xsH) - Math.min(...xsH), height: Math.max(...ysH) - Math.min(...ysH) };
    out.push({
      trackingId: ids.nextTrackingId(),
      trackingUid: ids.newUid(),
      type,
      score: bestV,
      image: input.ref,
      centre: { x: clampX((bx + 0.5) * sx), y: clampY((by + 0.5) * sy) },
      contour: hull,
      box,
      areaMm2: input.pixelSpacingMm ? polygonArea(hull) * source[0] * source[1] : undefined,
    });
  }
  void img;
  return out;
}

/**
 * The windows' heatmaps ([N, C, h, w], stride = input size / h) put back on the resampled
 * image's grid, overlapping windows merged by maximum: one grid per class.
 */
export function stitchHeatmap(
  heat: { dims: number[]; data: Float32Array },
  windows: Array<{ x: number; y: number }>,
  inputSize: number,
  width: number,
  height: number,
): { grids: Float32Array[]; gw: number; gh: number; stride: number } {
  const [, channels = 1, hh = 1, hw = 1] = heat.dims;
  const stride = inputSize / hh;
  const gw = Math.ceil(width / stride);
  const gh = Math.ceil(height / stride);
  const grids: Float32Array[] = [];
  for (let c = 0; c < channels; c++) {
    const grid = new Float32Array(gw * gh);
    windows.forEach((w, n) => {
      const base = (n * channels + c) * hh * hw;
      for (let r = 0; r < hh; r++) {
        const gy = Math.floor(w.y / stride) + r;
        if (gy >= gh) break;
        for (let q = 0; q < hw; q++) {
          const gx = Math.floor(w.x / stride) + q;
          if (gx >= gw) break;
          const v = heat.data[base + r * hw + q] as number;
          if (v > (grid[gy * gw + gx] as number)) grid[gy * gw + gx] = v;
        }
      }
    });
    grids.push(grid);
  }
  return { grids, gw, gh, stride };
}
