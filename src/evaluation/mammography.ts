// Mammography lesion detection on a mini-MIAS-like folder (images/NAME.png, 8-bit, 0.2 mm
// pixels; truth.csv), evaluated as models/training/train_mg.py evaluated it, but through
// Sentinel's own pipeline: every film goes through analyzeMammogram (resampling to the
// model's spacing, windows, model, heatmap merge) as an MLO image at 0.2 mm/pixel.
// - Image score (image AUC; abnormal = any row other than NORM, ARCH/ASYM included): the
//   pipeline's image score.
// - FROC: the pipeline thresholds its findings once, at the manifest's `detection`, which
//   gives one FROC point (reported as `pipeline_at_detection`), not a curve. So the curve is
//   traced as train_mg.py traces it, on the heatmap, at its 49 thresholds 0.02 ... 0.98: the
//   heatmap is the one the pipeline computed (the model outputs captured from the model call
//   inside analyzeMammogram, windows max-merged as the pipeline merges them), and the
//   detections are train_mg.detections: per class, 4-connected regions of cells >= threshold,
//   centred on their highest cell, no breast mask. (The pipeline's findings also drop cells
//   off the breast and join diagonal neighbours; train_mg.py did neither, and the model
//   card's figures are train_mg.py's. Re-running the pipeline's own post-processing at each
//   threshold gives a curve within 0.04 FP/image of this one with the same sensitivities,
//   at 15 times the cost.)
// - Counting (train_mg.froc, model card): targets are CIRC/SPIC/MISC/CALC circles; a
//   detection whose centre is inside a target circle is a hit (never a false positive); one
//   inside an ARCH/ASYM circle only is not counted; any other is a false positive. The three
//   diffuse CALC films without a circle are abnormal images with nothing to find.
// - One known difference from training: analyzeMammogram resamples 0.2 -> 0.8 mm by area
//   averaging rounded once, train_mg.py by PIL's BOX resize rounded after each pass, so about
//   one pixel in nine is one gray level apart. On the validation split this moves the image
//   AUC from 0.6823 to 0.6840 and single FROC points by up to 2 false positives in 50 films;
//   fed PIL's pixels, this code reproduces the metrics file exactly.
import type { Progress } from './progress';
import { type ScoreScale, scoreScale } from './calibration';
import fs from 'node:fs';
import { threshold } from '../inference/manifest';
import path from 'node:path';
import type { LoadedModel, ModelOutputs } from '../inference/registry';
import { analyzeMammogram, stitchHeatmap, windowOrigins } from '../pipelines/mammography/analyze';
import { readCsv } from './csv';
import { EvalError } from './errors';
import { decodeGray8 } from './images';
import { type Circle, type FrocImage, frocPoint, linspace, rocAuc, sensitivityAtFp } from './metrics';

/** mini-MIAS: 200 micron pixels. */
export const MIAS_SPACING_MM = 0.2;
/** Abnormalities that are lesions to find (mass: CIRC, SPIC, MISC; calcification: CALC). */
export const TARGET_KINDS = new Set(['CIRC', 'SPIC', 'MISC', 'CALC']);
/** Abnormalities that are neither lesions nor background. */
export const IGNORED_KINDS = new Set(['ARCH', 'ASYM']);
/** train_mg.py's FROC thresholds: linspace(0.02, 0.3, 15) then linspace(0.32, 0.98, 34). */
export const FROC_THRESHOLDS = [...linspace(0.02, 0.3, 15), ...linspace(0.32, 0.98, 34)];

export interface MiasLesion extends Circle {
  kind: string;
}

export interface MiasRecord {
  image: string;
  patient: string;
  laterality?: 'L' | 'R';
  abnormal: boolean;
  lesions: MiasLesion[];
}

const LAYOUT = 'a folder like mammography/mini-mias: images/NAME.png and truth.csv (image,patient,laterality,abnormality,x,y_from_top,radius)';

/** truth.csv, one record per image (train_mg.load), optionally only the given patients. */
export function readMiniMias(dir: string, patients?: Set<string>): MiasRecord[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new EvalError(`${dir} is not a folder (expected ${LAYOUT})`);
  const csv = path.join(dir, 'truth.csv');
  if (!fs.existsSync(csv)) throw new EvalError(`${csv} not found (expected ${LAYOUT})`);
  const byImage = new Map<string, MiasRecord>();
  readCsv(csv, ['image', 'patient', 'laterality', 'abnormality', 'x', 'y_from_top', 'radius']).forEach((r) => {
    const image = r.image as string;
    let rec = byImage.get(image);
    if (!rec) {
      const lat = r.laterality;
      rec = { image, patient: r.patient as string, laterality: lat === 'L' || lat === 'R' ? lat : undefined, abnormal: false, lesions: [] };
      byImage.set(image, rec);
    }
    if (r.abnormality !== 'NORM') rec.abnormal = true;
    if (r.x && r.radius) rec.lesions.push({ kind: r.abnormality as string, x: Number(r.x), y: Number(r.y_from_top), r: Number(r.radius) });
  });
  const records = [...byImage.values()].filter((r) => !patients || patients.has(r.patient)).sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : 0));
  const missing = records.filter((r) => !fs.existsSync(path.join(dir, 'images', `${r.image}.png`))).map((r) => r.image);
  if (missing.length) throw new EvalError(`${dir}/images: truth.csv lists image(s) without a PNG: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  return records;
}

/** The merged heatmap of one image, in cells of `cellPx` source pixels. */
export interface Heatmap {
  classes: number;
  width: number;
  height: number;
  /** classes x height x width. */
  data: Float32Array;
  cellPx: number;
}

/**
 * Rebuild the heatmap analyzeMammogram built from the outputs of its one model call: the
 * same resampled size, window origins and max-merge as src/pipelines/mammography/analyze.ts.
 */
function mergeHeatmap(outputs: ModelOutputs, model: LoadedModel, rows: number, columns: number, sourceMm: number): Heatmap {
  const m = model.manifest;
  const heat = outputs.lesion_heatmap;
  if (!heat) throw new EvalError(`model ${m.id} has no lesion_heatmap output`);
  const target = m.input.pixelSpacingMm ?? sourceMm;
  const imgW = Math.max(1, Math.round((columns * sourceMm) / target));
  const imgH = Math.max(1, Math.round((rows * sourceMm) / target));
  const xs = windowOrigins(imgW, m.input.width);
  const ys = windowOrigins(imgH, m.input.height);
  const windows = ys.flatMap((y) => xs.map((x) => ({ x, y })));
  const { grids, gw, gh, stride } = stitchHeatmap(heat, windows, m.input.height, imgW, imgH);
  const channels = grids.length;
  const data = new Float32Array(channels * gw * gh);
  grids.forEach((g, c) => data.set(g, c * gw * gh));
  return { classes: channels, width: gw, height: gh, data, cellPx: (stride * target) / sourceMm };
}

/**
 * train_mg.detections: per class, 4-connected regions of cells >= threshold (compared in
 * float32, as numpy does), each centred on its highest cell (the first in row order on
 * ties), centre in source pixels.
 */
export function heatmapDetections(h: Heatmap, threshold: number): Array<{ x: number; y: number; score: number; cls: number }> {
  const t = Math.fround(threshold);
  const n = h.width * h.height;
  const out: Array<{ x: number; y: number; score: number; cls: number }> = [];
  const seen = new Uint8Array(n);
  const stack: number[] = [];
  for (let c = 0; c < h.classes; c++) {
    const plane = h.data.subarray(c * n, (c + 1) * n);
    seen.fill(0);
    for (let start = 0; start < n; start++) {
      if (seen[start] || (plane[start] as number) < t) continue;
      seen[start] = 1;
      stack.push(start);
      let best = start;
      while (stack.length) {
        const p = stack.pop() as number;
        const v = plane[p] as number;
        if (v > (plane[best] as number) || (v === plane[best] && p < best)) best = p;
        const x = p % h.width;
        const neighbours = [x > 0 ? p - 1 : -1, x < h.width - 1 ? p + 1 : -1, p - h.width, p + h.width];
        for (const q of neighbours) {
          if (q < 0 || q >= n || seen[q] || (plane[q] as number) < t) continue;
          seen[q] = 1;
          stack.push(q);
        }
      }
      const bx = best % h.width;
      const by = (best - bx) / h.width;
      out.push({ x: (bx + 0.5) * h.cellPx, y: (by + 0.5) * h.cellPx, score: plane[best] as number, cls: c });
    }
  }
  return out;
}

export interface ScoredFilm {
  record: MiasRecord;
  /** The pipeline's image score. */
  score: number;
  /** The pipeline's findings at the manifest's detection threshold (centres, source pixels). */
  findings: Array<{ x: number; y: number; score: number }>;
  heatmap: Heatmap;
}

/**
 * The other film of the woman (mini-MIAS: one MLO film per breast), the partner a pair
 * model is given; undefined for a single-image model or a woman with one film.
 */
export function miasPartner(record: MiasRecord, records: readonly MiasRecord[]): MiasRecord | undefined {
  return records.find((r) => r !== record && r.patient === record.patient && r.laterality !== undefined && record.laterality !== undefined && r.laterality !== record.laterality);
}

/** One film (with its partner, for a pair model) through analyzeMammogram, keeping the heatmap the pipeline computed. */
export async function scoreFilm(dir: string, record: MiasRecord, model: LoadedModel, partner?: MiasRecord): Promise<ScoredFilm> {
  const img = await decodeGray8(path.join(dir, 'images', `${record.image}.png`));
  const other = partner && model.manifest.input.views === 'pair' ? await decodeGray8(path.join(dir, 'images', `${partner.image}.png`)) : undefined;
  let captured: ModelOutputs | undefined;
  const capturing: LoadedModel = {
    manifest: model.manifest,
    run: async (batch, n) => (captured = await model.run(batch, n)),
  };
  let uid = 0;
  const analysis = await analyzeMammogram({
    ref: { studyInstanceUid: '2.25.1', seriesInstanceUid: '2.25.2', sopInstanceUid: `2.25.3.${record.image.replace(/\D/g, '') || '0'}`, sopClassUid: '1.2.840.10008.5.1.4.1.1.1.2', rows: img.height, columns: img.width },
    gray8: img.gray8,
    pixelSpacingMm: [MIAS_SPACING_MM, MIAS_SPACING_MM],
    laterality: record.laterality,
    view: 'MLO',
    partner: other ? { gray8: other.gray8, rows: other.height, columns: other.width, pixelSpacingMm: [MIAS_SPACING_MM, MIAS_SPACING_MM] } : undefined,
  }, capturing, { newUid: () => `2.25.9.${++uid}`, nextTrackingId: () => `F${uid}` });
  if (!captured) throw new EvalError(`model ${model.manifest.id} was not run on ${record.image}`);
  return {
    record,
    score: analysis.score,
    findings: analysis.findings.map((f) => ({ x: f.centre.x, y: f.centre.y, score: f.score })),
    heatmap: mergeHeatmap(captured, model, img.height, img.width, MIAS_SPACING_MM),
  };
}

export function frocImage(record: MiasRecord, detections: Array<{ x: number; y: number }>): FrocImage {
  return {
    targets: record.lesions.filter((l) => TARGET_KINDS.has(l.kind)),
    ignored: record.lesions.filter((l) => IGNORED_KINDS.has(l.kind)),
    detections,
  };
}

export interface MammographyResult {
  task: string;
  model: string;
  n_images: number;
  image_auc: number;
  lesion_sensitivity_at_1fp: number;
  froc: Array<[number, number]>;
  /**
   * The pipeline's own findings (analyzeMammogram at the manifest's `detection` threshold,
   * breast mask and all) counted by the same rules: the operating point the service reports.
   */
  pipeline_at_detection: { threshold: number; fp_per_image: number; sensitivity: number };
  /** The deciles of the films' scores: the exam score's scale when taken on the validation split. */
  exam_score_scale: ScoreScale;
}

export async function evaluateMiniMias(task: string, dir: string, model: LoadedModel, opts: { patients?: Set<string>; progress?: Progress } = {}): Promise<MammographyResult> {
  const m = model.manifest;
  if (m.input.channelOrder !== 'GRAY') throw new EvalError(`model ${m.id} takes ${m.input.channelOrder} input; mammograms are gray`);
  if (!m.outputs.some((o) => o.role === 'lesion_heatmap')) throw new EvalError(`model ${m.id} has no lesion_heatmap output`);
  const records = readMiniMias(dir, opts.patients);
  if (!records.length) throw new EvalError(`no films to evaluate in ${dir}${opts.patients ? ' for the split asked' : ''}`);
  const films: ScoredFilm[] = [];
  // A pair model sees each film with the woman's other film; the split keeps a woman's films together.
  for (const r of records) {
    films.push(await scoreFilm(dir, r, model, miasPartner(r, records)));
    opts.progress?.(films.length, records.length);
  }
  const froc = FROC_THRESHOLDS.map((t): [number, number] => {
    const p = frocPoint(films.map((f) => frocImage(f.record, heatmapDetections(f.heatmap, t))));
    return [p.fpPerImage, p.sensitivity];
  });
  const atDetection = frocPoint(films.map((f) => frocImage(f.record, f.findings)));
  return {
    task,
    model: m.id,
    n_images: films.length,
    image_auc: rocAuc(films.map((f) => f.record.abnormal), films.map((f) => f.score)),
    lesion_sensitivity_at_1fp: sensitivityAtFp(froc, 1),
    froc,
    pipeline_at_detection: { threshold: threshold(m, 'detection'), fp_per_image: atDetection.fpPerImage, sensitivity: atDetection.sensitivity },
    exam_score_scale: scoreScale('film', films.map((f) => f.score)),
  };
}
