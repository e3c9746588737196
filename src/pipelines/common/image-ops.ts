// Pure image operations shared by the pipelines: resampling by physical spacing, Otsu
// threshold, connected components, convex hull. Typed arrays in, typed arrays out.

import { type PilFilter, pilResize } from './pil-resample';

export interface GrayImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** A grayscale image resized as PIL's `img.resize((width, height), filter)` on mode L. */
export function pilResizeGray(img: GrayImage, width: number, height: number, filter: PilFilter = 'bilinear'): GrayImage {
  return { width, height, pixels: pilResize(img.pixels, img.width, img.height, 1, width, height, filter) };
}

/** Output sample o covers input [o*f, (o+1)*f): area-weighted when shrinking, linear when enlarging. */
function axisWeights(inSize: number, outSize: number): Array<Array<[number, number]>> {
  const f = inSize / outSize;
  const rows: Array<Array<[number, number]>> = [];
  for (let o = 0; o < outSize; o++) {
    const taps: Array<[number, number]> = [];
    if (f >= 1) {
      const a = o * f;
      const b = a + f;
      for (let i = Math.floor(a); i < Math.min(inSize, Math.ceil(b)); i++) {
        const w = Math.min(b, i + 1) - Math.max(a, i);
        if (w > 0) taps.push([i, w / f]);
      }
    } else {
      const x = Math.min(inSize - 1, Math.max(0, (o + 0.5) * f - 0.5));
      const i0 = Math.floor(x);
      const i1 = Math.min(inSize - 1, i0 + 1);
      taps.push([i0, 1 - (x - i0)]);
      if (i1 !== i0) taps.push([i1, x - i0]);
    }
    rows.push(taps);
  }
  return rows;
}

export function resize(img: GrayImage, width: number, height: number): GrayImage {
  const wx = axisWeights(img.width, width);
  const wy = axisWeights(img.height, height);
  const tmp = new Float32Array(width * img.height);
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width;
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (const [i, w] of wx[x] as Array<[number, number]>) s += (img.pixels[row + i] as number) * w;
      tmp[y * width + x] = s;
    }
  }
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const taps = wy[y] as Array<[number, number]>;
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (const [i, w] of taps) s += (tmp[i * width + x] as number) * w;
      out[y * width + x] = Math.max(0, Math.min(255, Math.round(s)));
    }
  }
  return { width, height, pixels: out };
}

/**
 * To the model's pixel spacing: shrinking averages the source pixels exactly as Pillow's BOX
 * filter does (how the training scripts prepared their inputs, so the model sees the same
 * pixels); enlarging is bilinear.
 */
export function resampleToSpacing(img: GrayImage, from: [number, number], to: number): GrayImage {
  const width = Math.max(1, Math.round((img.width * from[1]) / to));
  const height = Math.max(1, Math.round((img.height * from[0]) / to));
  if (width === img.width && height === img.height) return img;
  if (width <= img.width && height <= img.height) return pilResizeGray(img, width, height, 'box');
  return resize(img, width, height);
}

export function otsuThreshold(pixels: Uint8Array): number {
  const hist = new Float64Array(256);
  for (let i = 0; i < pixels.length; i++) hist[pixels[i] as number]! += 1;
  const total = pixels.length;
  let sumAll = 0;
  for (let v = 0; v < 256; v++) sumAll += v * (hist[v] as number);
  let wB = 0;
  let sumB = 0;
  let best = 0;
  let threshold = 0;
  for (let t = 0; t < 256; t++) {
    wB += hist[t] as number;
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += t * (hist[t] as number);
    const between = wB * wF * (sumB / wB - (sumAll - sumB) / wF) ** 2;
    if (between > best) {
      best = between;
      threshold = t;
    }
  }
  return threshold;
}

/** 8- (or 4-) connected components of a binary mask: labels (0 = none) and the size of each. */
export function connectedComponents(mask: Uint8Array, width: number, height: number, connectivity: 4 | 8 = 8): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(width * height);
  const sizes: number[] = [0];
  const stack: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = sizes.length;
    let size = 0;
    labels[start] = label;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop() as number;
      size++;
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width || (connectivity === 4 && dx !== 0 && dy !== 0)) continue;
          const q = ny * width + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = label;
            stack.push(q);
          }
        }
      }
    }
    sizes.push(size);
  }
  return { labels, sizes };
}

/** One labelled component: its pixels, centre of mass and box, and the sum and maximum of a value map over it. */
export interface LabelStats {
  /** Row-major indices of its pixels, ascending. */
  members: number[];
  /** Centre of mass of its pixel centres (x = column + 0.5, y = row + 0.5). */
  centre: { x: number; y: number };
  /** Bounding box along pixel edges. */
  box: { x: number; y: number; width: number; height: number };
  /** Over `values` (0 without one). */
  sum: number;
  max: number;
}

/** Every label 1..count-1 of a label image in one pass (index 0 and labels without a pixel: undefined). */
export function labelStats(labels: Int32Array, width: number, count: number, values?: Float32Array): Array<LabelStats | undefined> {
  const acc = Array.from({ length: count }, () => ({ members: [] as number[], cx: 0, cy: 0, x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity, sum: 0, max: 0 }));
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as number;
    if (l <= 0 || l >= count) continue;
    const a = acc[l] as (typeof acc)[number];
    const x = i % width;
    const y = (i - x) / width;
    a.members.push(i);
    a.cx += x + 0.5;
    a.cy += y + 0.5;
    if (x < a.x0) a.x0 = x;
    if (y < a.y0) a.y0 = y;
    if (x > a.x1) a.x1 = x;
    if (y > a.y1) a.y1 = y;
    if (values) {
      const v = values[i] as number;
      a.sum += v;
      a.max = Math.max(a.max, v);
    }
  }
  return acc.map((a, l) => (l === 0 || a.members.length === 0 ? undefined : {
    members: a.members,
    centre: { x: a.cx / a.members.length, y: a.cy / a.members.length },
    box: { x: a.x0, y: a.y0, width: a.x1 - a.x0 + 1, height: a.y1 - a.y0 + 1 },
    sum: a.sum,
    max: a.max,
  }));
}

/** Convex hull (Andrew's monotone chain), counter-clockwise, no repeated end point. */
export function convexHull(points: Array<{ x: number; y: number }>): Array<{ x: number; y: number }> {
  const pts = [...new Map(points.map((p) => [`${p.x},${p.y}`, p])).values()].sort((a, b) => a.x - b.x || a.y - b.y);
  if (pts.length < 3) return pts;
  const cross = (o: { x: number; y: number }, a: { x: number; y: number }, b: { x: number; y: number }): number =>
    (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
  const lower: Array<{ x: number; y: number }> = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Array<{ x: number; y: number }> = [];
  for (const p of [...pts].reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}

export function polygonArea(points: Array<{ x: number; y: number }>): number {
  let a = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const q = points[(i + 1) % points.length]!;
    a += p.x * q.y - q.x * p.y;
  }
  return Math.abs(a) / 2;
}

/** The area centroid of a simple polygon, whichever way it winds (NaN for one with no area). */
export function polygonCentroid(points: Array<{ x: number; y: number }>): { x: number; y: number } {
  let a = 0;
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const q = points[(i + 1) % points.length]!;
    const c = p.x * q.y - q.x * p.y;
    a += c;
    cx += (p.x + q.x) * c;
    cy += (p.y + q.y) * c;
  }
  return { x: cx / (3 * a), y: cy / (3 * a) };
}
