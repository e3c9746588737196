// Tissue detection on a low-resolution view of the slide: Otsu's threshold on saturation.
// H&E tissue is coloured, glass and mosaic fill are grey or white, so saturation separates
// them without any model; only tiles with tissue are sent to the tile classifier.
import { otsuThreshold } from '../common/image-ops';

export interface RgbImage {
  width: number;
  height: number;
  /** width * height * 3, RGB, row-major. */
  rgb: Uint8Array;
}

export interface TissueMask {
  width: number;
  height: number;
  /** 1 = tissue. */
  mask: Uint8Array;
  /** The saturation threshold used (0..255). */
  threshold: number;
}

/**
 * Tissue where saturation exceeds Otsu's threshold (never below `minSaturation`, so a slide
 * that is all glass does not become all tissue) and the pixel is not near-white.
 */
export function detectTissue(image: RgbImage, opts: { minSaturation?: number; maxBrightness?: number } = {}): TissueMask {
  const n = image.width * image.height;
  const sat = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = image.rgb[3 * i] as number;
    const g = image.rgb[3 * i + 1] as number;
    const b = image.rgb[3 * i + 2] as number;
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    // Math.round(255 * (max - min) / max) in integers: (2a + b) / 2b, truncated, rounds a / b
    // half up exactly for these sizes, and V8 compiles it to integer work (Math.round it does not).
    sat[i] = max === 0 ? 0 : ((510 * (max - min) + max) / (2 * max)) | 0;
  }
  const threshold = Math.max(otsuThreshold(sat), opts.minSaturation ?? 20);
  const maxBrightness = opts.maxBrightness ?? 250;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const bright = Math.min(image.rgb[3 * i] as number, image.rgb[3 * i + 1] as number, image.rgb[3 * i + 2] as number);
    mask[i] = (sat[i] as number) > threshold && bright < maxBrightness ? 1 : 0;
  }
  return { width: image.width, height: image.height, mask, threshold };
}

/**
 * Which cells of a grid over the slide hold tissue: a cell is kept when at least `minFraction`
 * of the mask pixels it covers are tissue. The mask covers the whole slide at any scale.
 */
export function tissueCells(mask: TissueMask, grid: { rows: number; columns: number; cellPx: number; levelWidth: number; levelHeight: number }, minFraction = 0.1): Uint8Array {
  const cells = new Uint8Array(grid.rows * grid.columns);
  const sx = mask.width / grid.levelWidth;
  const sy = mask.height / grid.levelHeight;
  for (let i = 0; i < grid.rows; i++) {
    const y0 = Math.floor(i * grid.cellPx * sy);
    const y1 = Math.max(y0 + 1, Math.min(mask.height, Math.ceil((i + 1) * grid.cellPx * sy)));
    for (let j = 0; j < grid.columns; j++) {
      const x0 = Math.floor(j * grid.cellPx * sx);
      const x1 = Math.max(x0 + 1, Math.min(mask.width, Math.ceil((j + 1) * grid.cellPx * sx)));
      let on = 0;
      let all = 0;
      for (let y = y0; y < y1 && y < mask.height; y++) {
        for (let x = x0; x < x1 && x < mask.width; x++) {
          on += mask.mask[y * mask.width + x] as number;
          all++;
        }
      }
      if (all > 0 && on / all >= minFraction) cells[i * grid.columns + j] = 1;
    }
  }
  return cells;
}
