// Where the breast is: Otsu threshold, then the largest connected component. Film labels,
// markers and scanner artefacts are not connected to the breast and are left out, so no
// finding is reported on them.
import { type GrayImage, connectedComponents, convexHull, otsuThreshold } from '../common/image-ops';

export interface BreastRegion {
  mask: Uint8Array;
  box: { x: number; y: number; width: number; height: number };
  /** Fraction of the image that is breast. */
  fraction: number;
  /** The breast's outline (pectoral muscle included): the convex hull of the region, in pixel-edge coordinates. */
  outline: Array<{ x: number; y: number }>;
}

export function findBreastRegion(img: GrayImage): BreastRegion {
  const t = otsuThreshold(img.pixels);
  const binary = new Uint8Array(img.pixels.length);
  for (let i = 0; i < binary.length; i++) binary[i] = (img.pixels[i] as number) > t ? 1 : 0;
  const { labels, sizes } = connectedComponents(binary, img.width, img.height);
  let best = 0;
  for (let l = 1; l < sizes.length; l++) if ((sizes[l] as number) > (sizes[best] ?? 0)) best = l;
  const mask = new Uint8Array(binary.length);
  // Each row's first and last breast pixel, by their outer edges: enough for the hull.
  const rowStart = new Int32Array(img.height).fill(-1);
  const rowEnd = new Int32Array(img.height).fill(-1);
  let x0 = img.width, y0 = img.height, x1 = -1, y1 = -1;
  if (best > 0) {
    for (let i = 0; i < mask.length; i++) {
      if (labels[i] !== best) continue;
      mask[i] = 1;
      const x = i % img.width;
      const y = (i - x) / img.width;
      if (rowStart[y] === -1) rowStart[y] = x;
      rowEnd[y] = x;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return {
    mask,
    box: best > 0 ? { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 } : { x: 0, y: 0, width: 0, height: 0 },
    fraction: (sizes[best] ?? 0) / mask.length,
    outline: outlineOf(rowStart, rowEnd),
  };
}

function outlineOf(rowStart: Int32Array, rowEnd: Int32Array): Array<{ x: number; y: number }> {
  const edges: Array<{ x: number; y: number }> = [];
  rowStart.forEach((start, y) => {
    if (start < 0) return;
    const end = (rowEnd[y] as number) + 1;
    edges.push({ x: start, y }, { x: start, y: y + 1 }, { x: end, y }, { x: end, y: y + 1 });
  });
  return convexHull(edges);
}
