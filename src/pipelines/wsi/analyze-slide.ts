// Inference over a whole slide, in bounded memory: pick the pyramid level nearest the
// model's pixel spacing, find tissue on a low level, cut the level into model-sized cells,
// visit only tissue cells, decode the next batch while the model runs the current one, and
// build a probability map at cell resolution. Tiles are read through a SlideSource, so the
// same code runs over DICOMweb (the service) or over local files (offline analyze, eval).
import { SentinelError } from '../../errors/errors';
import type { SlideLevel } from '../../wsi/slide';
import { TileBuffers } from '../../wsi/tiles';
import { threshold } from '../../inference/manifest';
import type { LoadedModel, ModelOutputs } from '../../inference/registry';
import { normalizationLuts, packRgb8 } from '../../inference/tensor';
import { categoryOf } from '../common/category';
import type { Category } from '../../domain/findings';
import { type Heatmap, type Region, findRegions, slideScore, smoothMap } from './regions';
import { type TissueMask, detectTissue, tissueCells } from './tissue';

/** What the pipeline reads of a pyramid level: the slide's own level description (wsi/slide.ts), or the same fields of a local image. */
export type SourceLevel = Pick<SlideLevel, 'totalPixelMatrixRows' | 'totalPixelMatrixColumns' | 'tileRows' | 'tileColumns' | 'pixelSpacingMm'>;

export interface SlideSource {
  /** Image (VOLUME) levels, finest first. */
  levels: SourceLevel[];
  /**
   * Decoded RGB tiles (tileRows x tileColumns x 3) of one level; `undefined` for a tile the
   * slide does not have (sparse). Taken from `buffers` where the source can, so that a caller
   * reading many tiles gives back the ones it is done with.
   */
  readTiles(level: number, tiles: Array<{ row: number; column: number }>, buffers?: TileBuffers): Promise<Array<Uint8Array | undefined>>;
}

export interface SlideAnalysis {
  /** Index into source.levels of the analysed level. */
  level: number;
  /** Size of one map cell in pixels of the analysed level, and in mm. */
  cellPx: number;
  cellMm: number;
  heatmap: Heatmap;
  regions: Region[];
  score: number;
  category: Category;
  tissueCells: number;
  tilesAnalysed: number;
  timings: { tissueMs: number; inferenceMs: number; totalMs: number };
}

export interface AnalyzeSlideOptions {
  /** Cells a batch (default CELLS_IN_MODEL split over the model's lanes). */
  batchSize?: number;
  /** Called after each batch with cells done and cells to do. */
  onProgress?: (done: number, total: number) => void | Promise<void>;
  /** Resolution of the view used to find tissue, in its pixels per map cell (default 4). */
  tissuePixelsPerCell?: number;
}

/** The level whose spacing is nearest the target, in log scale (a 2x coarser and a 2x finer level are equally far). */
export function chooseLevelIndex(levels: SourceLevel[], targetMm: number): number {
  let best = 0;
  let bestDistance = Infinity;
  levels.forEach((l, i) => {
    const d = Math.abs(Math.log(l.pixelSpacingMm[1] / targetMm));
    if (d < bestDistance - 1e-9) {
      bestDistance = d;
      best = i;
    }
  });
  return best;
}

/** A whole level as one RGB image (for small, low levels only). */
export async function readWholeLevel(source: SlideSource, index: number, fill: number): Promise<{ width: number; height: number; rgb: Uint8Array }> {
  const level = source.levels[index] as SourceLevel;
  const { totalPixelMatrixRows: height, totalPixelMatrixColumns: width, tileRows, tileColumns } = level;
  const rgb = new Uint8Array(width * height * 3).fill(fill);
  const tiles: Array<{ row: number; column: number }> = [];
  for (let r = 0; r < Math.ceil(height / tileRows); r++) for (let c = 0; c < Math.ceil(width / tileColumns); c++) tiles.push({ row: r, column: c });
  const decoded = await source.readTiles(index, tiles);
  tiles.forEach((t, k) => {
    const tile = decoded[k];
    if (!tile) return;
    for (let y = 0; y < tileRows && t.row * tileRows + y < height; y++) {
      const srcOff = y * tileColumns * 3;
      const n = Math.min(tileColumns, width - t.column * tileColumns) * 3;
      rgb.set(tile.subarray(srcOff, srcOff + n), ((t.row * tileRows + y) * width + t.column * tileColumns) * 3);
    }
  });
  return { width, height, rgb };
}

/**
 * Math.round of a value in [0, 2^31 - 1.5): the same integer, without Math.round, which V8 made
 * the resize below three times slower (86 us a 67 px cell against 31, side by side in one process). The sum
 * `v + 0.5` can round up to the next integer only when v is just under a half; the check undoes that.
 */
function roundNonNegative(v: number): number {
  const t = (v + 0.5) | 0;
  return t - 0.5 > v ? t - 1 : t;
}

/**
 * Bilinear RGB resize from sw x sh to dw x dh (used when the analysed level's spacing is not the
 * model's), its source positions and weights worked out once: the returned function fills `out`
 * from `src` for every cell of a slide.
 */
export function bilinearResizer(sw: number, sh: number, dw: number, dh: number): (src: Uint8Array, out: Uint8Array) => Uint8Array {
  /** Each output position's two source neighbours (as offsets of `step` bytes a pixel) and their weights. */
  const axis = (s: number, d: number, step: number): { lo: Int32Array; hi: Int32Array; w: Float64Array; w1: Float64Array } => {
    const lo = new Int32Array(d);
    const hi = new Int32Array(d);
    const w = new Float64Array(d);
    const w1 = new Float64Array(d);
    const f = s / d;
    for (let i = 0; i < d; i++) {
      const p = Math.max(0, Math.min(s - 1, (i + 0.5) * f - 0.5));
      const below = Math.floor(p);
      lo[i] = below * step;
      hi[i] = Math.min(s - 1, below + 1) * step;
      w[i] = p - below;
      w1[i] = 1 - (p - below);
    }
    return { lo, hi, w, w1 };
  };
  const xs = axis(sw, dw, 3);
  const ys = axis(sh, dh, sw * 3);
  return (src, out) => {
    for (let y = 0, o = 0; y < dh; y++) {
      const r0 = ys.lo[y] as number;
      const r1 = ys.hi[y] as number;
      const wy = ys.w[y] as number;
      const wy1 = ys.w1[y] as number;
      for (let x = 0; x < dw; x++) {
        const a = r0 + (xs.lo[x] as number);
        const b = r0 + (xs.hi[x] as number);
        const c = r1 + (xs.lo[x] as number);
        const d = r1 + (xs.hi[x] as number);
        const wx = xs.w[x] as number;
        const wx1 = xs.w1[x] as number;
        for (let k = 0; k < 3; k++, o++) {
          const top = (src[a + k] as number) * wx1 + (src[b + k] as number) * wx;
          const bottom = (src[c + k] as number) * wx1 + (src[d + k] as number) * wx;
          out[o] = roundNonNegative(top * wy1 + bottom * wy);
        }
      }
    }
    return out;
  };
}

/** Bilinear RGB resize of one image (bilinearResizer, once). */
export function resizeRgb(src: Uint8Array, sw: number, sh: number, dw: number, dh: number): Uint8Array {
  return bilinearResizer(sw, sh, dw, dh)(src, new Uint8Array(dw * dh * 3));
}

/** Tiles fetched at least this many at a time (while that many are still to come): a PACS such as Orthanc pays for each request by the size of the instance it opens, not by the frames it sends. */
const FETCH_AT_LEAST = 256;

/**
 * Decoded tiles of the analysed level, kept only while cells still need them. The cells are
 * known from the start, so tiles are fetched in the order the cells first need them, at least
 * FETCH_AT_LEAST at a time, ahead of the batch that needs them.
 */
export class TileCache {
  private readonly tiles = new Map<number, Uint8Array | undefined>();
  /** Tiles on their way: a batch waits for them instead of asking again. */
  private readonly loading = new Map<number, Promise<void>>();
  /** Every tile the cells need, in the order they first need it, and how far fetching has gone. */
  private readonly order: Array<{ key: number; row: number; column: number }> = [];
  private fetched = 0;
  /** Tiles dropped go back here, for the next ones fetched. */
  private readonly buffers = new TileBuffers();

  constructor(private readonly source: SlideSource, private readonly index: number, private readonly level: SourceLevel, private readonly size: number, cells: Array<{ x: number; y: number }>) {
    const seen = new Set<number>();
    for (const cell of cells) {
      this.tilesOf(cell, (key, row, column) => {
        if (seen.has(key)) return;
        seen.add(key);
        this.order.push({ key, row, column });
      });
    }
  }

  private key(row: number, column: number): number {
    return row * 1_000_000 + column;
  }

  private tilesOf(cell: { x: number; y: number }, visit: (key: number, row: number, column: number) => void): void {
    const { tileRows, tileColumns, totalPixelMatrixRows, totalPixelMatrixColumns } = this.level;
    const r0 = Math.floor(cell.y / tileRows);
    const r1 = Math.floor((Math.min(cell.y + this.size, totalPixelMatrixRows) - 1) / tileRows);
    const c0 = Math.floor(cell.x / tileColumns);
    const c1 = Math.floor((Math.min(cell.x + this.size, totalPixelMatrixColumns) - 1) / tileColumns);
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) visit(this.key(r, c), r, c);
  }

  /** Every tile these cells need, fetched (with the next ones in order, up to FETCH_AT_LEAST) unless cached or on its way. */
  async load(cells: Array<{ x: number; y: number }>): Promise<void> {
    const want = new Map<number, { row: number; column: number }>();
    const waits = new Set<Promise<void>>();
    for (const cell of cells) {
      this.tilesOf(cell, (k, row, column) => {
        const coming = this.loading.get(k);
        if (coming) waits.add(coming);
        else if (!this.tiles.has(k)) want.set(k, { row, column });
      });
    }
    if (want.size > 0) {
      for (; this.fetched < this.order.length && want.size < FETCH_AT_LEAST; this.fetched++) {
        const next = this.order[this.fetched] as { key: number; row: number; column: number };
        if (!this.loading.has(next.key) && !this.tiles.has(next.key)) want.set(next.key, next);
      }
      const list = [...want.values()];
      const fetched = this.source.readTiles(this.index, list, this.buffers).then((decoded) => {
        list.forEach((t, i) => this.tiles.set(this.key(t.row, t.column), decoded[i]));
      }).finally(() => {
        for (const k of want.keys()) this.loading.delete(k);
      });
      for (const k of want.keys()) this.loading.set(k, fetched);
      waits.add(fetched);
    }
    await Promise.all(waits);
  }

  /**
   * The size x size RGB cell at (x, y) into `out`, `fill` outside the slide or where tiles are
   * absent (for a cell to be resized; `pack` serves the others). Each run is copied through a
   * view of the tile: a byte loop allocated nothing but took twice as long (12 us a 67 px cell
   * against 24-30, measured alone).
   */
  cut(x: number, y: number, size: number, fill: number, out: Uint8Array): Uint8Array {
    const { tileRows, tileColumns, totalPixelMatrixRows, totalPixelMatrixColumns } = this.level;
    out.fill(fill);
    for (let yy = 0; yy < size && y + yy < totalPixelMatrixRows; yy++) {
      const gy = y + yy;
      const tr = Math.floor(gy / tileRows);
      const ty = gy - tr * tileRows;
      let xx = 0;
      while (xx < size && x + xx < totalPixelMatrixColumns) {
        const gx = x + xx;
        const tc = Math.floor(gx / tileColumns);
        const tx = gx - tc * tileColumns;
        const n = Math.min(size - xx, tileColumns - tx, totalPixelMatrixColumns - gx);
        const tile = this.tiles.get(this.key(tr, tc));
        if (tile) out.set(tile.subarray((ty * tileColumns + tx) * 3, (ty * tileColumns + tx + n) * 3), (yy * size + xx) * 3);
        xx += n;
      }
    }
    return out;
  }

  /**
   * The size x size cell at (x, y) straight into slot `index` of a planar NCHW batch through the
   * channels' lookup tables: packRgb8 of `cut`, without the cell between them and without a view
   * a run (the views were 9 in 10 of the bytes a slide's scoring allocated; a fifth less time a
   * cell, measured alone). It walks the tiles as `cut` does, inline: through a shared walker
   * with a callback it was slower than the two steps it replaces (CPU profile).
   */
  pack(x: number, y: number, size: number, fill: number, luts: Float32Array[], out: Float32Array, index: number): void {
    const { tileRows, tileColumns, totalPixelMatrixRows, totalPixelMatrixColumns } = this.level;
    const [r, g, b] = luts as [Float32Array, Float32Array, Float32Array];
    const plane = size * size;
    const base = index * 3 * plane;
    for (let yy = 0; yy < size; yy++) {
      const gy = y + yy;
      const tr = Math.floor(gy / tileRows);
      const ty = gy - tr * tileRows;
      let o = base + yy * size;
      let xx = 0;
      while (xx < size) {
        const gx = x + xx;
        const tc = Math.floor(gx / tileColumns);
        const tx = gx - tc * tileColumns;
        const inside = gy < totalPixelMatrixRows && gx < totalPixelMatrixColumns;
        const n = inside ? Math.min(size - xx, tileColumns - tx, totalPixelMatrixColumns - gx) : size - xx;
        const tile = inside ? this.tiles.get(this.key(tr, tc)) : undefined;
        if (tile) {
          for (let i = 0, j = (ty * tileColumns + tx) * 3; i < n; i++, o++, j += 3) {
            out[o] = r[tile[j] as number] as number;
            out[o + plane] = g[tile[j + 1] as number] as number;
            out[o + 2 * plane] = b[tile[j + 2] as number] as number;
          }
        } else {
          out.fill(r[fill] as number, o, o + n);
          out.fill(g[fill] as number, o + plane, o + plane + n);
          out.fill(b[fill] as number, o + 2 * plane, o + 2 * plane + n);
          o += n;
        }
        xx += n;
      }
    }
  }

  /** Forget tiles entirely above `y` (cells are visited row by row). */
  dropAbove(y: number): void {
    const lastRow = Math.floor(y / this.level.tileRows) - 1;
    for (const [k, tile] of this.tiles) {
      if (Math.floor(k / 1_000_000) > lastRow) continue;
      this.tiles.delete(k);
      this.buffers.give(tile);
    }
  }
}

/** Where the model will look: the analysed level, its cell grid, and the tissue cells to visit. */
export interface SlidePlan {
  level: number;
  cellPx: number;
  cellMm: number;
  rows: number;
  columns: number;
  /** Cell indices (row * columns + column) with tissue, in row-major order. */
  todo: number[];
  tissueMs: number;
}

function checkModel(model: LoadedModel): { modelSize: number; pixelSpacingMm: number } {
  const manifest = model.manifest;
  const { width: modelSize, height: modelHeight, pixelSpacingMm, channels } = manifest.input;
  if (channels !== 3 || modelSize !== modelHeight) throw new SentinelError('unsupported', `model ${manifest.id} is not a square RGB tile classifier`);
  if (!pixelSpacingMm) throw new SentinelError('unsupported', `model ${manifest.id} has no pixel spacing in its manifest`);
  if (!manifest.outputs.some((o) => o.role === 'tile_probability')) throw new SentinelError('unsupported', `model ${manifest.id} has no tile_probability output`);
  return { modelSize, pixelSpacingMm };
}

export async function planSlide(source: SlideSource, model: LoadedModel, opts: Pick<AnalyzeSlideOptions, 'tissuePixelsPerCell'> = {}): Promise<SlidePlan> {
  const t0 = Date.now();
  const { modelSize, pixelSpacingMm } = checkModel(model);
  if (source.levels.length === 0) throw new SentinelError('bad_request', 'the slide has no image level');
  const fill = model.manifest.thresholds.backgroundValue ?? 255;
  const index = chooseLevelIndex(source.levels, pixelSpacingMm);
  const level = source.levels[index] as SourceLevel;
  // A cell covers one model input: modelSize pixels at the model's spacing.
  const cellPx = Math.max(1, Math.round((modelSize * pixelSpacingMm) / level.pixelSpacingMm[1]));
  const rows = Math.ceil(level.totalPixelMatrixRows / cellPx);
  const columns = Math.ceil(level.totalPixelMatrixColumns / cellPx);

  // Tissue on the coarsest level that still gives about 4 pixels per cell (bounded memory
  // whatever the slide's size); the analysed level itself when no coarser one is fine enough.
  const minWidth = Math.min(level.totalPixelMatrixColumns, columns * (opts.tissuePixelsPerCell ?? 4));
  let tissueIndex = index;
  for (let i = source.levels.length - 1; i > index; i--) {
    if ((source.levels[i] as SourceLevel).totalPixelMatrixColumns >= minWidth) {
      tissueIndex = i;
      break;
    }
  }
  const view = await readWholeLevel(source, tissueIndex, fill);
  const mask: TissueMask = detectTissue(view);
  const tissue = tissueCells(mask, { rows, columns, cellPx, levelWidth: level.totalPixelMatrixColumns, levelHeight: level.totalPixelMatrixRows });
  const todo: number[] = [];
  for (let k = 0; k < tissue.length; k++) if (tissue[k]) todo.push(k);
  return { level: index, cellPx, cellMm: cellPx * level.pixelSpacingMm[1], rows, columns, todo, tissueMs: Date.now() - t0 };
}

/** Batches prepared ahead of the ones the model runs: fetch and decode overlap inference (which runs in its own threads). */
const READ_AHEAD = 2;

/**
 * Cells in the model at once, by default: one batch of 256, or 128 in each of two lanes. Each
 * lane's session keeps the memory its batch needs, so 256 a lane took the 100,000 x 80,000
 * synthetic slide from 706 MB to 1,067 at its peak, and ran no faster (2,408-2,456 tiles/s
 * against 2,531-2,537, alternating runs).
 */
const CELLS_IN_MODEL = 256;

/**
 * The model's probability for each of `cells` (a slice of plan.todo, e.g. one sub-job's
 * range), reading only the tiles they need. Up to READ_AHEAD batches are fetched and decoded
 * while the model runs the current ones, one in each of its lanes where it has them
 * (LoadedModel.lanes); each batch is cut and packed in order (so no tile a batch still needs
 * is dropped), into one of a few tensors used in turn. `inferenceMs` is summed over the lanes.
 */
export async function scoreCells(
  source: SlideSource,
  model: LoadedModel,
  plan: Pick<SlidePlan, 'level' | 'cellPx' | 'columns'>,
  cells: number[],
  opts: Pick<AnalyzeSlideOptions, 'batchSize' | 'onProgress'> = {},
): Promise<{ probabilities: Float32Array; inferenceMs: number }> {
  const { modelSize } = checkModel(model);
  const manifest = model.manifest;
  const fill = manifest.thresholds.backgroundValue ?? 255;
  const level = source.levels[plan.level] as SourceLevel;
  const { cellPx, columns } = plan;
  const luts = normalizationLuts(manifest);
  const at = (k: number): { x: number; y: number } => ({ x: (k % columns) * cellPx, y: Math.floor(k / columns) * cellPx });
  const cache = new TileCache(source, plan.level, level, cellPx, cells.map(at));
  const pixels = modelSize * modelSize;
  const probabilities = new Float32Array(cells.length);
  const cell = new Uint8Array(cellPx * cellPx * 3);
  const resize = cellPx === modelSize ? undefined : bilinearResizer(cellPx, cellPx, modelSize, modelSize);
  const resized = new Uint8Array(pixels * 3);
  const lanes = model.lanes ?? { count: 1, run: (batch: Float32Array, n: number) => model.run(batch, n) };
  const batchSize = opts.batchSize ?? Math.ceil(CELLS_IN_MODEL / lanes.count);
  // A tensor is packed again only once its batch's run has returned: the ones running, the ones ahead, one more.
  const tensors = Array.from({ length: READ_AHEAD + lanes.count + 1 }, () => new Float32Array(Math.min(batchSize, cells.length) * 3 * pixels));

  type Batch = { start: number; n: number; tensor: Float32Array };
  const prepare = async (start: number, previous: Promise<Batch> | undefined): Promise<Batch> => {
    const batch = cells.slice(start, start + batchSize).map(at);
    await Promise.all([cache.load(batch), previous]);
    const tensor = tensors[(start / batchSize) % tensors.length] as Float32Array;
    batch.forEach(({ x, y }, n) => {
      if (resize) packRgb8(resize(cache.cut(x, y, cellPx, fill, cell), resized), luts, pixels, tensor, n);
      else cache.pack(x, y, cellPx, fill, luts, tensor, n);
    });
    const first = batch[0];
    if (first) cache.dropAbove(first.y);
    return { start, n: batch.length, tensor };
  };

  let inferenceMs = 0;
  let done = 0;
  const ahead: Array<Promise<Batch>> = [];
  let queued = 0;
  const readAhead = (): void => {
    while (ahead.length < READ_AHEAD && queued < cells.length) {
      const next = prepare(queued, ahead[ahead.length - 1]);
      // Handled where it is awaited; a failure while an earlier batch runs must not go unhandled meanwhile.
      next.catch(() => undefined);
      ahead.push(next);
      queued += batchSize;
    }
  };
  const scored = async (batch: Batch, out: ModelOutputs): Promise<void> => {
    const probs = out.tile_probability?.data;
    if (!probs) throw new SentinelError('internal', `model ${manifest.id} returned no tile_probability`);
    probabilities.set(probs.subarray(0, batch.n), batch.start);
    done += batch.n;
    await opts.onProgress?.(done, cells.length);
  };
  // Batches in the model, oldest first: a new one is sent when a lane is free.
  const running: Array<Promise<void>> = [];
  readAhead();
  while (ahead.length > 0 || running.length > 0) {
    if (ahead.length === 0 || running.length >= lanes.count) {
      await running.shift();
      continue;
    }
    const batch = await (ahead.shift() as Promise<Batch>);
    const t = Date.now();
    const run = lanes.run(batch.tensor, batch.n).then((out) => {
      inferenceMs += Date.now() - t;
      return scored(batch, out);
    });
    // Handled where it is awaited, as the batches ahead are.
    run.catch(() => undefined);
    running.push(run);
    readAhead();
  }
  return { probabilities, inferenceMs };
}

/** From the plan and every tissue cell's probability to the map and regions (smoothed if the manifest says so), score and category. */
export function finishSlide(plan: SlidePlan, probabilities: Float32Array, manifest: LoadedModel['manifest'], timings: { inferenceMs: number; startedAt: number }): SlideAnalysis {
  const values = new Float32Array(plan.rows * plan.columns).fill(NaN);
  plan.todo.forEach((k, i) => (values[k] = probabilities[i] as number));
  const raw: Heatmap = { rows: plan.rows, columns: plan.columns, values };
  const sigma = manifest.postprocessing?.mapSmoothingSigmaCells;
  const heatmap = sigma ? smoothMap(raw, sigma) : raw;
  // The score keeps its own 3 x 3 mean over the raw map: the category thresholds were set for it.
  const score = plan.todo.length > 0 ? slideScore(raw) : 0;
  return {
    level: plan.level,
    cellPx: plan.cellPx,
    cellMm: plan.cellMm,
    heatmap,
    regions: findRegions(heatmap, threshold(manifest, 'detection')),
    score,
    category: categoryOf(score, manifest),
    tissueCells: plan.todo.length,
    tilesAnalysed: plan.todo.length,
    timings: { tissueMs: plan.tissueMs, inferenceMs: timings.inferenceMs, totalMs: Date.now() - timings.startedAt },
  };
}

export async function analyzeSlide(source: SlideSource, model: LoadedModel, opts: AnalyzeSlideOptions = {}): Promise<SlideAnalysis> {
  const startedAt = Date.now();
  const plan = await planSlide(source, model, opts);
  const { probabilities, inferenceMs } = await scoreCells(source, model, plan, plan.todo, opts);
  return finishSlide(plan, probabilities, model.manifest, { inferenceMs, startedAt });
}
