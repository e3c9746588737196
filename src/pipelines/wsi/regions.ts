// From a tile-resolution probability map to what a pathologist reads: tumour regions
// (4-connected components of cells at or above the detection threshold) with their outline as
// a polygon along cell edges, their area, their mean and peak probability, and a slide score.
import type { MapPreview } from '../../domain/findings';
import { type LabelStats, connectedComponents, labelStats, polygonArea } from '../common/image-ops';

export interface Heatmap {
  rows: number;
  columns: number;
  /** Probability per cell; NaN where no tissue was analysed. */
  values: Float32Array;
}

export interface Region {
  /** Cells of the region (row * columns + column). */
  cells: number[];
  /** Outer boundary along cell edges, in cell units (x = column, y = row), counter-clockwise on screen; holes are not traced. */
  outline: Array<{ x: number; y: number }>;
  meanProbability: number;
  maxProbability: number;
  /** Centre of mass, in cell units. */
  centre: { x: number; y: number };
  box: { x: number; y: number; width: number; height: number };
}

/** 4-connected components of cells with value >= threshold (NaN never is), largest first. */
export function findRegions(map: Heatmap, threshold: number): Region[] {
  const { rows, columns, values } = map;
  const mask = new Uint8Array(rows * columns);
  for (let k = 0; k < mask.length; k++) mask[k] = (values[k] as number) >= threshold ? 1 : 0;
  const { labels, sizes } = connectedComponents(mask, columns, rows, 4);
  const stats = labelStats(labels, columns, sizes.length, values);
  const regions: Region[] = [];
  for (let id = 1; id < sizes.length; id++) {
    const { members: cells, sum, max, centre, box } = stats[id] as LabelStats;
    regions.push({
      cells,
      outline: traceOutline(labels, id, rows, columns),
      meanProbability: sum / cells.length,
      maxProbability: max,
      centre,
      box,
    });
  }
  return regions.sort((a, b) => b.cells.length - a.cells.length);
}

/**
 * The outer boundary of one labelled component, as corner points in cell units. Boundary
 * edges are directed with the region on their left; they are chained into loops, and the
 * loop enclosing the largest area is the outer one (the others are holes). Collinear points
 * are dropped.
 */
export function traceOutline(label: Int32Array, id: number, rows: number, columns: number): Array<{ x: number; y: number }> {
  const inside = (i: number, j: number): boolean => i >= 0 && j >= 0 && i < rows && j < columns && label[i * columns + j] === id;
  // Edges from corner (x, y) to the next corner, keyed by the start corner; a corner may start
  // two edges where the region touches itself diagonally, so each key holds a list.
  const next = new Map<number, number[]>();
  const key = (x: number, y: number): number => y * (columns + 1) + x;
  const add = (x0: number, y0: number, x1: number, y1: number): void => {
    const k = key(x0, y0);
    const list = next.get(k);
    if (list) list.push(key(x1, y1));
    else next.set(k, [key(x1, y1)]);
  };
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < columns; j++) {
      if (!inside(i, j)) continue;
      // Screen coordinates (y down); with the region on the left of each edge the walk is
      // counter-clockwise on screen.
      if (!inside(i - 1, j)) add(j + 1, i, j, i); // top edge, right to left
      if (!inside(i, j - 1)) add(j, i, j, i + 1); // left edge, downwards
      if (!inside(i + 1, j)) add(j, i + 1, j + 1, i + 1); // bottom edge, left to right
      if (!inside(i, j + 1)) add(j + 1, i + 1, j + 1, i); // right edge, upwards
    }
  }
  const loops: Array<Array<{ x: number; y: number }>> = [];
  for (;;) {
    const startEntry = next.entries().next();
    if (startEntry.done) break;
    const start = startEntry.value[0];
    const loop: number[] = [];
    let at = start;
    for (;;) {
      const list = next.get(at);
      if (!list || list.length === 0) break;
      const to = list.shift() as number;
      if (list.length === 0) next.delete(at);
      loop.push(at);
      at = to;
      if (at === start) break;
    }
    loops.push(loop.map((k) => ({ x: k % (columns + 1), y: Math.floor(k / (columns + 1)) })));
  }
  let best: Array<{ x: number; y: number }> = [];
  let bestArea = -Infinity;
  for (const loop of loops) {
    const a = polygonArea(loop);
    if (a > bestArea) {
      bestArea = a;
      best = loop;
    }
  }
  return dropCollinear(best);
}

function dropCollinear(points: Array<{ x: number; y: number }>): Array<{ x: number; y: number }> {
  if (points.length < 4) return points;
  const out: Array<{ x: number; y: number }> = [];
  for (let i = 0; i < points.length; i++) {
    const prev = points[(i - 1 + points.length) % points.length] as { x: number; y: number };
    const p = points[i] as { x: number; y: number };
    const nxt = points[(i + 1) % points.length] as { x: number; y: number };
    if ((p.x - prev.x) * (nxt.y - p.y) - (p.y - prev.y) * (nxt.x - p.x) !== 0) out.push(p);
  }
  return out;
}

/**
 * Gaussian smoothing of the map over analysed cells (kernel truncated at 2 sigma): each cell
 * becomes the weighted mean of the analysed cells around it, cells without tissue neither
 * count nor change. Tumour is spatially coherent and single tiles are noisy, so a model's
 * manifest may ask for this (sigma chosen on its validation slides).
 */
export function smoothMap(map: Heatmap, sigmaCells: number): Heatmap {
  const { rows, columns, values } = map;
  const r = Math.ceil(2 * sigmaCells);
  const w: number[] = [];
  for (let d = -r; d <= r; d++) w.push(Math.exp(-(d * d) / (2 * sigmaCells * sigmaCells)));
  // Separable: rows then columns, carrying weighted sums and weights so NaN cells drop out.
  const pass = (num: Float64Array, den: Float64Array, horizontal: boolean): [Float64Array, Float64Array] => {
    const n2 = new Float64Array(num.length);
    const d2 = new Float64Array(num.length);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < columns; j++) {
        let a = 0;
        let b = 0;
        for (let d = -r; d <= r; d++) {
          const y = horizontal ? i : i + d;
          const x = horizontal ? j + d : j;
          if (y < 0 || x < 0 || y >= rows || x >= columns) continue;
          const k = y * columns + x;
          a += (w[d + r] as number) * (num[k] as number);
          b += (w[d + r] as number) * (den[k] as number);
        }
        n2[i * columns + j] = a;
        d2[i * columns + j] = b;
      }
    }
    return [n2, d2];
  };
  const num = new Float64Array(values.length);
  const den = new Float64Array(values.length);
  values.forEach((v, k) => {
    if (!Number.isNaN(v)) {
      num[k] = v;
      den[k] = 1;
    }
  });
  const [n1, d1] = pass(num, den, true);
  const [n2, d2] = pass(n1, d1, false);
  const out = new Float32Array(values.length);
  values.forEach((v, k) => (out[k] = Number.isNaN(v) ? NaN : (n2[k] as number) / (d2[k] as number)));
  return { rows, columns, values: out };
}

/**
 * The slide score: the highest mean probability over a 3 x 3 neighbourhood of analysed cells
 * (a single noisy tile does not make a slide suspicious; a focus of several does).
 */
export function slideScore(map: Heatmap): number {
  const { rows, columns, values } = map;
  let best = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < columns; j++) {
      if (Number.isNaN(values[i * columns + j] as number)) continue;
      let sum = 0;
      let n = 0;
      for (let di = -1; di <= 1; di++) {
        for (let dj = -1; dj <= 1; dj++) {
          const y = i + di;
          const x = j + dj;
          if (y < 0 || x < 0 || y >= rows || x >= columns) continue;
          const v = values[y * columns + x] as number;
          if (Number.isNaN(v)) continue;
          sum += v;
          n++;
        }
      }
      best = Math.max(best, sum / n);
    }
  }
  return best;
}

/**
 * A small copy of the map for a picture of the slide (the study page's thumbnail): at most
 * `maxSide` cells on its long side, each the highest probability of the cells it covers (a
 * hot spot stays visible), as one byte per cell (0-254 for 0-1, 255 where no tissue was
 * analysed), base64; `cellPx` is its cell's size in pixels of the analysed level.
 */
export function mapPreview(map: Heatmap, cellPx: number, maxSide = 256): MapPreview {
  const f = Math.max(1, Math.ceil(Math.max(map.columns, map.rows) / maxSide));
  const columns = Math.ceil(map.columns / f);
  const rows = Math.ceil(map.rows / f);
  const out = new Uint8Array(columns * rows).fill(255);
  for (let r = 0; r < map.rows; r++) {
    for (let c = 0; c < map.columns; c++) {
      const v = map.values[r * map.columns + c] as number;
      if (Number.isNaN(v)) continue;
      const k = Math.floor(r / f) * columns + Math.floor(c / f);
      const byte = Math.round(Math.min(1, Math.max(0, v)) * 254);
      out[k] = out[k] === 255 ? byte : Math.max(out[k] as number, byte);
    }
  }
  return { columns, rows, cellPx: cellPx * f, probability: Buffer.from(out).toString('base64') };
}
