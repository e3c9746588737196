// A reader's correction of an image analysis (mammography, ultrasound): the findings as the
// reader leaves them, each an AI finding with its outline as the reader moved it, or one the
// reader drew; an AI finding not named is one the reader deleted. The AI's scores of the
// study, its breasts and images stand: the reader corrects outlines, not the model.
//
// Pure: the outline in (a polygon or an SVG path), checked against its image, and the
// corrected StudyResult out. correction-service.ts does the I/O around it.
import { Codes } from '../domain/codes';
import type { Finding, FindingMeasurement, FindingType, ImageResult, Point, StudyResult } from '../domain/findings';
import { SentinelError } from '../errors/errors';
import { polygonArea, polygonCentroid } from '../pipelines/common/image-ops';
import { longestDiameter } from '../pipelines/ultrasound/lesions';

/** The most points one outline may have: a hand-drawn outline, not a mask. */
export const MAX_OUTLINE_POINTS = 2000;
/** The most findings one correction may leave. */
export const MAX_FINDINGS = 200;

export interface CorrectedFinding {
  /** The image it lies on. */
  sopInstanceUid: string;
  /** The AI finding (its tracking UID) this outline replaces; absent for a finding the reader drew. */
  trackingUid?: string;
  /** The outline in the image's pixels: [[x, y], ...] or [{x, y}, ...], closed implicitly. */
  polygon?: unknown;
  /** Or the outline as an SVG path of straight lines (M, L, H, V, Z; absolute or relative). */
  path?: unknown;
  /** What a drawn finding is (default: the image's kind, a mass on a mammogram, a lesion on ultrasound). */
  type?: unknown;
}

export interface CorrectionSpacing {
  /** mm per pixel across and down, where the image gives it. */
  dx: number;
  dy: number;
}

const bad = (message: string): SentinelError => new SentinelError('bad_request', message);
const FINDING_TYPES: readonly FindingType[] = ['mass', 'calcification', 'lesion', 'tumor'];

/** An SVG path of straight segments as its points; curves and arcs are refused (a reader's outline has none). */
export function parseSvgPath(d: string): Point[] {
  if (d.length > 100_000) throw bad('the SVG path is longer than 100,000 characters');
  const tokens = d.match(/[a-zA-Z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/g) ?? [];
  const rest = d.replace(/[a-zA-Z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[\s,]/g, '');
  if (rest !== '') throw bad(`the SVG path has characters that are neither commands nor numbers: "${rest.slice(0, 20)}"`);
  const points: Point[] = [];
  let at: Point = { x: 0, y: 0 };
  let command = '';
  let i = 0;
  const number = (): number => {
    const t = tokens[i++];
    const v = t === undefined ? NaN : Number(t);
    if (!Number.isFinite(v)) throw bad(`the SVG path's ${command} command lacks a number`);
    return v;
  };
  while (i < tokens.length) {
    const t = tokens[i] as string;
    if (/[a-zA-Z]/.test(t)) {
      command = t;
      i++;
      if (command === 'Z' || command === 'z') {
        if (points.length > 0) at = points[0] as Point;
        continue;
      }
      if (!'MmLlHhVv'.includes(command)) throw bad(`the SVG path uses "${command}": only straight lines (M, L, H, V, Z) make an outline`);
    } else if (command === '' || command === 'Z' || command === 'z') {
      throw bad('the SVG path must start with M');
    }
    const rel = command === command.toLowerCase();
    const base = rel ? at : { x: 0, y: 0 };
    switch (command.toUpperCase()) {
      case 'M': case 'L': at = { x: base.x + number(), y: base.y + number() }; break;
      case 'H': at = { x: base.x + number(), y: at.y }; break;
      case 'V': at = { x: at.x, y: base.y + number() }; break;
    }
    points.push(at);
    if (points.length > MAX_OUTLINE_POINTS) throw bad(`an outline may have at most ${MAX_OUTLINE_POINTS} points`);
  }
  return points;
}

function polygonPoints(polygon: unknown): Point[] {
  if (!Array.isArray(polygon)) throw bad('polygon must be an array of [x, y] pairs or {x, y} points');
  if (polygon.length > MAX_OUTLINE_POINTS) throw bad(`an outline may have at most ${MAX_OUTLINE_POINTS} points`);
  return polygon.map((p, k) => {
    const x = Array.isArray(p) ? p[0] : (p as { x?: unknown } | null)?.x;
    const y = Array.isArray(p) ? p[1] : (p as { y?: unknown } | null)?.y;
    if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x) || !Number.isFinite(y)) throw bad(`polygon point ${k + 1} is not a pair of numbers`);
    return { x, y };
  });
}

/** The finding's outline, checked: three points or more, inside its image, enclosing an area. */
export function outlineOf(f: CorrectedFinding, image: { columns: number; rows: number }): Point[] {
  if ((f.polygon === undefined) === (f.path === undefined)) throw bad('give each finding its outline as either polygon or path');
  let points = f.path !== undefined
    ? (typeof f.path === 'string' ? parseSvgPath(f.path) : (() => { throw bad('path must be an SVG path string'); })())
    : polygonPoints(f.polygon);
  // A closing point repeating the first is the same outline.
  const [first, last] = [points[0], points[points.length - 1]];
  if (points.length > 1 && first && last && first.x === last.x && first.y === last.y) points = points.slice(0, -1);
  if (points.length < 3) throw bad('an outline needs at least three points');
  const outside = points.find((p) => p.x < 0 || p.y < 0 || p.x > image.columns || p.y > image.rows);
  if (outside) throw bad(`outline point (${outside.x}, ${outside.y}) lies outside the ${image.columns} x ${image.rows} image`);
  if (polygonArea(points) < 1) throw bad('the outline encloses no area');
  return points.map((p) => ({ x: Math.round(p.x * 100) / 100, y: Math.round(p.y * 100) / 100 }));
}

/** Centre (area centroid), box, and the measurements an outline gives on its image. */
function shape(contour: Point[], spacing: CorrectionSpacing | undefined, pipeline: string): Pick<Finding, 'centre' | 'box' | 'areaMm2' | 'measurements'> {
  const xs = contour.map((p) => p.x);
  const ys = contour.map((p) => p.y);
  const x = Math.min(...xs), y = Math.min(...ys);
  const area = polygonArea(contour);
  const measurements: FindingMeasurement[] | undefined = pipeline !== 'ultrasound' ? undefined : spacing
    ? [{ concept: Codes.longAxis, value: longestDiameter(contour, spacing.dx, spacing.dy), unit: Codes.millimetre }]
    : [{ concept: Codes.area, value: area, unit: Codes.squarePixels }, { concept: Codes.longAxis, value: longestDiameter(contour), unit: Codes.pixels }];
  return {
    centre: polygonCentroid(contour),
    box: { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y },
    ...(spacing ? { areaMm2: area * spacing.dx * spacing.dy } : {}),
    ...(measurements ? { measurements } : {}),
  };
}

export interface CorrectionContext {
  newUid: () => string;
  /** Each image's pixel spacing, where it has one. */
  spacing: ReadonlyMap<string, CorrectionSpacing | undefined>;
}

/**
 * The original result with the reader's findings in place of the AI's: each named AI finding
 * keeps its identity, kind and scores with the reader's outline; each drawn one gets a new
 * tracking UID, an "R" identifier and its image's AI score; every other AI finding is gone.
 */
export function applyCorrection(original: StudyResult, corrected: CorrectedFinding[], ctx: CorrectionContext): StudyResult {
  if (!Array.isArray(corrected)) throw bad('findings must be an array (an empty one deletes every AI finding)');
  if (corrected.length > MAX_FINDINGS) throw bad(`a correction may leave at most ${MAX_FINDINGS} findings`);
  const images = new Map(original.images.map((i) => [i.image.sopInstanceUid, i]));
  const ai = new Map(original.images.flatMap((i) => i.findings).map((f) => [f.trackingUid, f]));
  const used = new Set<string>();
  let drawn = 0;
  const findings = corrected.map((c, k): Finding => {
    const where = `finding ${k + 1}`;
    if (typeof c !== 'object' || c === null) throw bad(`${where} is not an object`);
    const image = typeof c.sopInstanceUid === 'string' ? images.get(c.sopInstanceUid) : undefined;
    if (!image) throw bad(`${where}: image ${String(c.sopInstanceUid)} is not one of the analysis's images`);
    let contour: Point[];
    try {
      contour = outlineOf(c, image.image);
    } catch (err) {
      throw err instanceof SentinelError ? bad(`${where}: ${err.message}`) : err;
    }
    const measured = shape(contour, ctx.spacing.get(image.image.sopInstanceUid), original.pipeline);
    if (c.trackingUid !== undefined) {
      const f = typeof c.trackingUid === 'string' ? ai.get(c.trackingUid) : undefined;
      if (!f) throw bad(`${where}: ${String(c.trackingUid)} is not a finding of the analysis corrected`);
      if (f.image.sopInstanceUid !== image.image.sopInstanceUid) throw bad(`${where}: finding ${f.trackingId} lies on another image`);
      if (used.has(f.trackingUid)) throw bad(`${where}: finding ${f.trackingId} is given twice`);
      used.add(f.trackingUid);
      // Area and measurements belong to the old outline: only the new one's are kept.
      const kept: Finding = { ...f };
      delete kept.areaMm2;
      delete kept.measurements;
      return { ...kept, contour, ...measured, reader: 'edited' };
    }
    const type = c.type ?? (original.pipeline === 'ultrasound' ? 'lesion' : 'mass');
    if (!FINDING_TYPES.includes(type as FindingType)) throw bad(`${where}: type must be one of ${FINDING_TYPES.join(', ')}`);
    return {
      trackingId: `R${++drawn}`,
      trackingUid: ctx.newUid(),
      type: type as FindingType,
      score: image.score,
      ...(image.examScore !== undefined ? { examScore: image.examScore } : {}),
      image: image.image,
      contour,
      ...measured,
      reader: 'drawn',
    };
  });
  return {
    ...original,
    images: original.images.map((i): ImageResult => ({ ...i, findings: findings.filter((f) => f.image.sopInstanceUid === i.image.sopInstanceUid) })),
  };
}
