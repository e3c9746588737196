// IDC tile classification, evaluated as models/training/train_idc.py evaluated it:
// - pathology/idc-slides: SLIDE.jpg mosaics and patches.csv (slide,x,y,label); each labelled
//   50 x 50 patch is cut back out at its x,y from the mosaic padded right and below with the
//   background colour (a patch at the edge is completed with it);
// - pathology/idc-patches: SLIDE/LABEL/*.png, 50 x 50 RGB; a smaller patch (slide edge) is
//   put at the top-left of a tile filled with the background colour.
// Tiles go through the manifest's normalisation to the model in batches; the metrics are
// tile-level at the manifest's `detection` threshold (common.binary_metrics).
import type { Progress } from './progress';
import fs from 'node:fs';
import { threshold } from '../inference/manifest';
import path from 'node:path';
import type { LoadedModel } from '../inference/registry';
import { normalizationLuts, packRgb8Batch } from '../inference/tensor';
import { readCsv } from './csv';
import { EvalError } from './errors';
import { decodeRgb8 } from './images';
import { type BinaryMetrics, binaryMetrics } from './metrics';

/** The data set's patch size (the release cut slides into 50 x 50 patches). */
export const IDC_TILE = 50;
/** The mosaics' fill colour, used when the manifest does not give `backgroundValue`. */
export const IDC_BACKGROUND = 242;

export interface IdcScores {
  labels: boolean[];
  scores: number[];
  slides: string[];
}

export interface IdcOptions {
  /** Only these slide ids (a split of the model's split file); all slides when absent. */
  slides?: Set<string>;
  batchSize?: number;
  /** Folders done of folders to do (idc-slides, idc-patches). */
  progress?: Progress;
}

/** Collects tiles and runs them through the model `batchSize` at a time. */
class TileScorer {
  private readonly luts: Float32Array[];
  private readonly pending: Uint8Array[] = [];
  private readonly batch: Float32Array;
  readonly result: IdcScores = { labels: [], scores: [], slides: [] };

  constructor(private readonly model: LoadedModel, private readonly batchSize: number) {
    this.luts = normalizationLuts(model.manifest);
    this.batch = new Float32Array(batchSize * 3 * IDC_TILE * IDC_TILE);
  }

  async add(tile: Uint8Array, label: boolean, slide: string): Promise<void> {
    this.pending.push(tile);
    this.result.labels.push(label);
    this.result.slides.push(slide);
    if (this.pending.length >= this.batchSize) await this.flush();
  }

  async flush(): Promise<void> {
    const n = this.pending.length;
    if (n === 0) return;
    packRgb8Batch(this.pending, this.luts, IDC_TILE * IDC_TILE, this.batch);
    const out = (await this.model.run(this.batch, n)).tile_probability;
    if (!out) throw new EvalError(`model ${this.model.manifest.id} has no tile_probability output`);
    // [N, 1]: one probability per tile.
    const per = out.data.length / n;
    for (let i = 0; i < n; i++) this.result.scores.push(out.data[i * per] as number);
    this.pending.length = 0;
  }
}

function checkModel(model: LoadedModel): void {
  const { input, outputs, id } = model.manifest;
  if (input.channels !== 3 || input.width !== IDC_TILE || input.height !== IDC_TILE) {
    throw new EvalError(`model ${id} takes ${input.channels} x ${input.height} x ${input.width} inputs; IDC tiles are 3 x ${IDC_TILE} x ${IDC_TILE} (RGB)`);
  }
  if (!outputs.some((o) => o.role === 'tile_probability')) throw new EvalError(`model ${id} has no tile_probability output`);
}

function background(model: LoadedModel): number {
  return model.manifest.thresholds.backgroundValue ?? IDC_BACKGROUND;
}

function parseLabel(value: string, where: string): boolean {
  if (value === '0') return false;
  if (value === '1') return true;
  throw new EvalError(`${where}: label "${value}" is neither 0 nor 1`);
}

function requireDir(dir: string, what: string): void {
  if (!fs.existsSync(dir)) throw new EvalError(`${dir} does not exist (expected ${what})`);
  if (!fs.statSync(dir).isDirectory()) throw new EvalError(`${dir} is not a folder (expected ${what})`);
}

const SLIDES_LAYOUT = 'a folder like pathology/idc-slides: SLIDE.jpg mosaics and patches.csv (slide,x,y,label)';
const PATCHES_LAYOUT = 'a folder like pathology/idc-patches: SLIDE/LABEL/*.png with LABEL 0 or 1';

/** Cut one tile at (x, y) of an RGB image, completing what lies outside with `fill`. */
export function cutTile(rgb: Uint8Array, width: number, height: number, x: number, y: number, fill: number, size = IDC_TILE): Uint8Array {
  const tile = new Uint8Array(size * size * 3).fill(fill);
  const w = Math.max(0, Math.min(size, width - x));
  for (let r = 0; r < size && y + r < height; r++) {
    if (w === 0 || y + r < 0) continue;
    const from = ((y + r) * width + x) * 3;
    tile.set(rgb.subarray(from, from + w * 3), r * size * 3);
  }
  return tile;
}

async function scoreSlides(dir: string, scorer: TileScorer, fill: number, only?: Set<string>): Promise<void> {
  requireDir(dir, SLIDES_LAYOUT);
  const csv = path.join(dir, 'patches.csv');
  if (!fs.existsSync(csv)) throw new EvalError(`${csv} not found (expected ${SLIDES_LAYOUT})`);
  const bySlide = new Map<string, Array<{ x: number; y: number; label: boolean }>>();
  readCsv(csv, ['slide', 'x', 'y', 'label']).forEach((r, i) => {
    const where = `${csv}:${i + 2}`;
    const x = Number(r.x);
    const y = Number(r.y);
    if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0) throw new EvalError(`${where}: x,y must be non-negative integers`);
    const slide = r.slide as string;
    if (only && !only.has(slide)) return;
    let rows = bySlide.get(slide);
    if (!rows) bySlide.set(slide, (rows = []));
    rows.push({ x, y, label: parseLabel(r.label as string, where) });
  });
  const missing = [...bySlide.keys()].filter((s) => !fs.existsSync(path.join(dir, `${s}.jpg`)));
  if (missing.length) throw new EvalError(`${dir}: patches.csv names slide(s) without a mosaic: ${missing.map((s) => `${s}.jpg`).join(', ')}`);
  for (const [slide, rows] of [...bySlide.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const img = await decodeRgb8(path.join(dir, `${slide}.jpg`));
    for (const { x, y, label } of rows) await scorer.add(cutTile(img.rgb8, img.width, img.height, x, y, fill), label, slide);
  }
}

async function scorePatches(dir: string, scorer: TileScorer, fill: number, only?: Set<string>): Promise<void> {
  requireDir(dir, PATCHES_LAYOUT);
  let laidOut = false;
  for (const slide of fs.readdirSync(dir).sort()) {
    if (!fs.statSync(path.join(dir, slide)).isDirectory()) continue;
    for (const label of ['0', '1']) {
      const d = path.join(dir, slide, label);
      if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) continue;
      const names = fs.readdirSync(d).filter((f) => f.toLowerCase().endsWith('.png')).sort();
      if (names.length) laidOut = true;
      if (only && !only.has(slide)) continue;
      for (const name of names) {
        const img = await decodeRgb8(path.join(d, name));
        await scorer.add(cutTile(img.rgb8, img.width, img.height, 0, 0, fill), label === '1', slide);
      }
    }
  }
  if (!laidOut) throw new EvalError(`no SLIDE/0/*.png or SLIDE/1/*.png in ${dir} (expected ${PATCHES_LAYOUT})`);
}

export type IdcSource = { kind: 'slides' | 'patches'; dir: string };

/** The folders of a combined evaluation: `dir` holds idc-slides/ and/or idc-patches/ (like pathology/). */
export function combinedSources(dir: string): IdcSource[] {
  requireDir(dir, 'a folder like pathology/ holding idc-slides/ and/or idc-patches/');
  const sources: IdcSource[] = [];
  if (fs.existsSync(path.join(dir, 'idc-slides'))) sources.push({ kind: 'slides', dir: path.join(dir, 'idc-slides') });
  if (fs.existsSync(path.join(dir, 'idc-patches'))) sources.push({ kind: 'patches', dir: path.join(dir, 'idc-patches') });
  if (!sources.length) throw new EvalError(`${dir} holds neither idc-slides/ nor idc-patches/ (expected a folder like pathology/)`);
  return sources;
}

/** Score every labelled tile of the sources (slides first, then patch sets, as train_idc.py loads them). */
export async function scoreIdc(sources: IdcSource[], model: LoadedModel, opts: IdcOptions = {}): Promise<IdcScores> {
  checkModel(model);
  const scorer = new TileScorer(model, opts.batchSize ?? 256);
  const fill = background(model);
  for (const [k, s] of sources.entries()) {
    if (s.kind === 'slides') await scoreSlides(s.dir, scorer, fill, opts.slides);
    else await scorePatches(s.dir, scorer, fill, opts.slides);
    opts.progress?.(k + 1, sources.length);
  }
  await scorer.flush();
  return scorer.result;
}

export interface IdcResult extends Omit<BinaryMetrics, 'accuracy' | 'threshold'> {
  task: string;
  model: string;
}

export async function evaluateIdc(task: string, sources: IdcSource[], model: LoadedModel, opts: IdcOptions = {}): Promise<IdcResult> {
  const scored = await scoreIdc(sources, model, opts);
  if (scored.labels.length === 0) throw new EvalError(`no tiles to evaluate in ${sources.map((s) => s.dir).join(' and ')}${opts.slides ? ' for the split asked' : ''}`);
  const m = binaryMetrics(scored.labels, scored.scores, threshold(model.manifest, 'detection'));
  return {
    task,
    model: model.manifest.id,
    n: m.n,
    auc: m.auc,
    balanced_accuracy: m.balanced_accuracy,
    f1: m.f1,
    sensitivity: m.sensitivity,
    specificity: m.specificity,
  };
}
