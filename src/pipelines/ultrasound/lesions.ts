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
import { type LabelStats, labelStats } from '../common/image-ops';
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
  const stats = labelStats(labels, width, Math.max(0, ...seg.components.map((c) => c.label)) + 1, probability);
  return seg.components.map((c) => {
    const { centre, box, sum: sp } = stats[c.label] as LabelStats;
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
      centre,
      contour,
      box,
      ...(spacingMm ? { areaMm2: c.area * spacingMm.dx * spacingMm.dy } : {}),
      measurements,
    };
  });
}
