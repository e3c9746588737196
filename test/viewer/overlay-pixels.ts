// Whether an overlay is really drawn where the finding is, from the screenshot itself: a
// mammogram is grey (R = G = B), so a pixel whose channels differ is the viewer's coloured
// overlay. Each finding's box (projected onto the screen by the viewer's own transform)
// should be mostly coloured, and the coloured pixels should lie in those boxes.
import sharp from 'sharp';

export interface Rect { x0: number; y0: number; x1: number; y1: number }

export interface OverlayVerdict {
  /** Per expected box: the fraction of its pixels that are coloured. */
  covered: number[];
  /** Of all coloured pixels in the searched area, the fraction inside an expected box (grown by `margin`). */
  inside: number;
  coloured: number;
}

const COLOURED = 24;

export async function judgeOverlay(png: Buffer, area: Rect, boxes: Rect[], margin = 6): Promise<OverlayVerdict> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number): boolean => {
    if (x < 0 || y < 0 || x >= info.width || y >= info.height) return false;
    const i = (y * info.width + x) * info.channels;
    const r = data[i] ?? 0;
    const g = data[i + 1] ?? 0;
    const b = data[i + 2] ?? 0;
    return Math.max(r, g, b) - Math.min(r, g, b) > COLOURED;
  };
  const round = (r: Rect): Rect => ({ x0: Math.floor(r.x0), y0: Math.floor(r.y0), x1: Math.ceil(r.x1), y1: Math.ceil(r.y1) });
  const covered = boxes.map(round).map((b) => {
    let n = 0;
    let hit = 0;
    for (let y = b.y0; y <= b.y1; y++) for (let x = b.x0; x <= b.x1; x++, n++) if (at(x, y)) hit++;
    return n === 0 ? 0 : hit / n;
  });
  const grown = boxes.map(round).map((b) => ({ x0: b.x0 - margin, y0: b.y0 - margin, x1: b.x1 + margin, y1: b.y1 + margin }));
  const a = round(area);
  let coloured = 0;
  let inside = 0;
  for (let y = a.y0; y <= a.y1; y++) {
    for (let x = a.x0; x <= a.x1; x++) {
      if (!at(x, y)) continue;
      coloured++;
      if (grown.some((g) => x >= g.x0 && x <= g.x1 && y >= g.y0 && y <= g.y1)) inside++;
    }
  }
  return { covered, inside: coloured === 0 ? 0 : inside / coloured, coloured };
}
