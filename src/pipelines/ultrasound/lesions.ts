// Ultrasound lesion findings from the segmenter's mask: each kept component outlined along its
// pixel edges, with its centre, box, score (the image's suspicion score from the classifier:
// what the exam score's scale was measured on), the segmenter's mean lesion probability inside
// it, area and longest diameter: in mm where the image carries a calibrated ultrasound region (the first
// region of the Sequence of Ultrasound Regions in cm, PS3.3 C.8.5.5), in pixels, and said so
// by the unit, where not.
import { type Code, Codes } from '../../domain/codes';
import type { Finding, FindingMeasurement, ImageRef, Point } from '../../domain/findings';
import type { FindingIds } from '../definition';
import { traceOutline } from '../wsi/regions';
import type { UltrasoundSegmentation } from './segment';

/** The longest distance between two points of an outline (its Feret diameter). */
export function longestDiameter(points: Point[], dx = 1, dy = 1): number {
  let best = 0;
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const a = points[i] as Point;
      const b = points[j] as Point;
      best = Math.max(best, Math.hypot((a.x - b.x) * dx, (a.y - b.y) * dy));
    }
  }
  return best;
}

export function lesionFindings(seg: UltrasoundSegmentation, ref: ImageRef, imageScore: number, spacingMm: { dx: number; dy: number } | undefined, ids: FindingIds, code?: Code): Finding[] {
  const { width, labels, probability } = seg;
  return seg.components.map((c) => {
    let sx = 0;
    let sy = 0;
    let sp = 0;
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] !== c.label) continue;
      const x = i % width;
      const y = (i - x) / width;
      sx += x + 0.5;
      sy += y + 0.5;
      sp += probability[i] as number;
      if (x < x0) x0 = x;
      if (y < y0) y0 = y;
      if (x > x1) x1 = x;
      if (y > y1) y1 = y;
    }
    const contour = traceOutline(labels, c.label, seg.height, width);
    const measurements: FindingMeasurement[] = [
      ...(spacingMm
        ? [{ concept: Codes.longAxis, value: longestDiameter(contour, spacingMm.dx, spacingMm.dy), unit: Codes.millimetre }]
        : [{ concept: Codes.area, value: c.area, unit: Codes.squarePixels }, { concept: Codes.longAxis, value: longestDiameter(contour), unit: Codes.pixels }]),
      { concept: Codes.lesionProbability, value: sp / c.area, unit: Codes.ratio },
    ];
    return {
      trackingId: ids.nextTrackingId(),
      trackingUid: ids.newUid(),
      type: 'lesion' as const,
      ...(code ? { code } : {}),
      score: imageScore,
      image: ref,
      centre: { x: sx / c.area, y: sy / c.area },
      contour,
      box: { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 },
      ...(spacingMm ? { areaMm2: c.area * spacingMm.dx * spacingMm.dy } : {}),
      measurements,
    };
  });
}
