// One image through one model, for developers who draw the overlay in their own app: a PNG,
// a JPEG or a DICOM image in, scores and findings (outlines as polygons and as SVG paths,
// optionally a mask PNG) out, with the service's own runtime and post-processing and no study
// stored. A DICOM image whose model is a pipeline's own goes through that pipeline's
// analyseImage exactly as a job does; any other image is decoded to display pixels and taken
// through the same functions the pipelines call (detector windows, ultrasound classifier or
// segmenter, density classifier, whole-slide tiles).
import sharp, { type Metadata } from 'sharp';
import { type ParsedDicom, parseDicom, readImageAttributes } from '../dicom/read';
import { decodeFrame } from '../dicom/pixels/decode';
import { luminance8, toDisplayGray8, toRgb8 } from '../dicom/pixels/display';
import type { Category, DensityAssessment, Finding, FindingMeasurement, ImageRef, ImageResult, Point } from '../domain/findings';
import { findingCode } from '../domain/findings';
import type { Code } from '../domain/codes';
import { SentinelError } from '../errors/errors';
import type { LoadedModel } from '../inference/registry';
import { categoryOf, examScoreOf } from '../pipelines/common/category';
import { analyzeMammogram } from '../pipelines/mammography/analyze';
import { classifyDensity } from '../pipelines/mammography/density';
import { PIPELINES } from '../pipelines/registry';
import { analyzeUltrasoundImage } from '../pipelines/ultrasound/analyze';
import { lesionFindings } from '../pipelines/ultrasound/lesions';
import { segmentUltrasound } from '../pipelines/ultrasound/segment';
import { ultrasoundRegionSpacingMm } from '../pipelines/ultrasound';
import { analyzeSlide } from '../pipelines/wsi/analyze-slide';
import { ImageSlideSource } from '../pipelines/wsi/image-source';
import { svgPath } from '../reports/svg/findings';

/** Accepted image types, by Content-Type. */
export const PREDICT_TYPES = ['image/png', 'image/jpeg', 'application/dicom'] as const;
export type PredictType = (typeof PREDICT_TYPES)[number];

/** An image larger than this many pixels is refused (a whole slide goes through the PACS). */
export const MAX_PREDICT_PIXELS = 50_000_000;

export interface PredictOptions {
  /** mm per pixel of a PNG/JPEG (a DICOM image gives its own); without it the model's own spacing is assumed, and said. */
  pixelSpacingMm?: number;
  laterality?: 'L' | 'R';
  /** Also return the findings' mask (or a whole-slide model's map) as a PNG. */
  mask?: boolean;
}

export interface PredictedFinding {
  id: string;
  type: Finding['type'];
  code: Code;
  score: number;
  examScore?: number;
  centre: Point;
  box: Finding['box'];
  /** Closed outline in image pixels (x = column, y = row, origin the top-left corner of the top-left pixel), first point not repeated. */
  polygon: Array<[number, number]>;
  /** The same outline as an SVG path in image pixels. */
  svgPath: string;
  areaMm2?: number;
  measurements?: Array<{ name: string; value: number; unit: string }>;
}

export interface Prediction {
  model: { id: string; version: string; task: string };
  image: { width: number; height: number; pixelSpacingMm?: number; spacingAssumed: boolean; type: PredictType };
  score: number;
  category?: Category;
  examScore?: number;
  classification?: { predicted: string; probabilities: Record<string, number> };
  density?: Pick<DensityAssessment, 'predicted' | 'probabilities' | 'code'>;
  findings: PredictedFinding[];
  mask?: { contentType: 'image/png'; width: number; height: number; base64: string };
  ms: number;
}

interface Decoded {
  width: number;
  height: number;
  /** Display gray values (DICOM: after rescale and VOI; colour by luminance). */
  gray8: Uint8Array;
  /** RGB, for colour models (slides). */
  rgb?: Uint8Array;
  spacingMm?: number;
  laterality?: 'L' | 'R';
  parsed?: ParsedDicom;
}

async function decode(bytes: Uint8Array, type: PredictType): Promise<Decoded> {
  if (type === 'application/dicom') {
    const parsed = parseDicom(bytes);
    if (!parsed.hasPixelData) throw new SentinelError('bad_request', 'the DICOM object has no Pixel Data (7FE0,0010)');
    const desc = parsed.pixelDescription();
    if (desc.rows * desc.columns > MAX_PREDICT_PIXELS) throw new SentinelError('too_large', `a ${desc.columns} x ${desc.rows} image is larger than ${MAX_PREDICT_PIXELS} pixels; a whole slide goes through the PACS`);
    const attrs = readImageAttributes(parsed);
    const frame = await decodeFrame(parsed.frames()[0] as Uint8Array, parsed.transferSyntaxUid, desc);
    let gray8: Uint8Array;
    let rgb: Uint8Array | undefined;
    if (desc.samplesPerPixel === 3) {
      rgb = toRgb8(frame);
      gray8 = luminance8(rgb);
    } else {
      gray8 = toDisplayGray8(frame, attrs);
    }
    const spacing = attrs.pixelSpacingMm;
    return { width: desc.columns, height: desc.rows, gray8, rgb, spacingMm: spacing && Math.abs(spacing[0] - spacing[1]) < 1e-6 ? spacing[0] : undefined, laterality: attrs.laterality, parsed };
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch {
    throw new SentinelError('bad_request', `the body is not a ${type === 'image/png' ? 'PNG' : 'JPEG'} image that can be read`);
  }
  const format = type === 'image/png' ? 'png' : 'jpeg';
  if (meta.format !== format) throw new SentinelError('bad_request', `the body is ${meta.format ? `a ${meta.format.toUpperCase()} image` : 'not an image'}, but Content-Type says ${type}`);
  if (!meta.width || !meta.height) throw new SentinelError('bad_request', 'the image gives no size');
  if (meta.width * meta.height > MAX_PREDICT_PIXELS) throw new SentinelError('too_large', `a ${meta.width} x ${meta.height} image is larger than ${MAX_PREDICT_PIXELS} pixels; a whole slide goes through the PACS`);
  const rgbRaw = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const rgb = new Uint8Array(rgbRaw.data.buffer, rgbRaw.data.byteOffset, rgbRaw.info.width * rgbRaw.info.height * 3);
  // Gray as the training scripts and `sentinel eval` read PNGs: one channel kept as it is, colour by luminance.
  const gray = meta.channels && meta.channels <= 2
    ? new Uint8Array((await sharp(bytes).extractChannel(0).raw().toBuffer()))
    : luminance8(rgb);
  return { width: meta.width, height: meta.height, gray8: gray, rgb };
}

function refOf(d: Decoded): ImageRef {
  return d.parsed
    ? { studyInstanceUid: d.parsed.studyInstanceUid, seriesInstanceUid: d.parsed.seriesInstanceUid, sopInstanceUid: d.parsed.sopInstanceUid, sopClassUid: d.parsed.sopClassUid, rows: d.height, columns: d.width }
    : { studyInstanceUid: '2.25.0', seriesInstanceUid: '2.25.0', sopInstanceUid: '2.25.0', sopClassUid: '', rows: d.height, columns: d.width };
}

async function maskPng(pixels: Uint8Array, width: number, height: number): Promise<NonNullable<Prediction['mask']>> {
  const png = await sharp(Buffer.from(pixels), { raw: { width, height, channels: 1 } }).png().toBuffer();
  return { contentType: 'image/png', width, height, base64: png.toString('base64') };
}

/** Filled polygons as a 0/255 mask (even-odd rule at pixel centres). */
export function rasterise(polygons: ReadonlyArray<readonly Point[]>, width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  for (const poly of polygons) {
    if (poly.length < 3) continue;
    for (let y = 0; y < height; y++) {
      const cy = y + 0.5;
      const xs: number[] = [];
      for (let i = 0; i < poly.length; i++) {
        const a = poly[i] as Point;
        const b = poly[(i + 1) % poly.length] as Point;
        if ((a.y <= cy && b.y > cy) || (b.y <= cy && a.y > cy)) xs.push(a.x + ((cy - a.y) / (b.y - a.y)) * (b.x - a.x));
      }
      xs.sort((p, q) => p - q);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        for (let x = Math.max(0, Math.ceil((xs[k] as number) - 0.5)); x < Math.min(width, Math.ceil((xs[k + 1] as number) - 0.5)); x++) mask[y * width + x] = 255;
      }
    }
  }
  return mask;
}

function findingOut(f: Finding, manifest: LoadedModel['manifest']): PredictedFinding {
  const examScore = examScoreOf(f.score, manifest);
  return {
    id: f.trackingId,
    type: f.type,
    code: findingCode(f),
    score: f.score,
    ...(examScore !== undefined ? { examScore } : {}),
    centre: f.centre,
    box: f.box,
    polygon: f.contour.map((p) => [p.x, p.y]),
    svgPath: svgPath(f.contour),
    ...(f.areaMm2 !== undefined ? { areaMm2: f.areaMm2 } : {}),
    ...(f.measurements ? { measurements: f.measurements.map((m: FindingMeasurement) => ({ name: m.concept.CodeMeaning, value: m.value, unit: m.unit.CodeValue })) } : {}),
  };
}

export async function predict(bytes: Uint8Array, type: PredictType, model: LoadedModel, opts: PredictOptions = {}): Promise<Prediction> {
  const started = Date.now();
  if (bytes.length === 0) throw new SentinelError('bad_request', `the body is empty: send the image itself as ${type}`);
  const m = model.manifest;
  const d = await decode(bytes, type);
  let next = 0;
  const ids = { newUid: () => `2.25.${Date.now()}${++next}`, nextTrackingId: () => `F${++next}` };
  const spacing = d.spacingMm ?? opts.pixelSpacingMm;
  const laterality = d.laterality ?? opts.laterality;
  const ref = refOf(d);
  let image: ImageResult | undefined;
  let density: Prediction['density'];
  let mask: Uint8Array | undefined;
  let maskSize = { width: d.width, height: d.height };

  const own = d.parsed ? PIPELINES.find((p) => p.input === 'instances' && p.task === m.task && p.modality === m.modality) : undefined;
  if (own && own.input === 'instances' && d.parsed) {
    // As a job analyses it: the pipeline's own reading of the DICOM image.
    image = await own.analyseImage(d.parsed, model, ids, {}, [d.parsed]);
  } else {
    switch (m.task) {
      case 'mammography-lesion-detection':
        image = await analyzeMammogram({ ref, gray8: d.gray8, pixelSpacingMm: spacing ? [spacing, spacing] : undefined, laterality }, model, ids);
        break;
      case 'ultrasound-classification':
        image = await analyzeUltrasoundImage({ ref, gray8: d.gray8, width: d.width, height: d.height, laterality }, model);
        break;
      case 'ultrasound-segmentation': {
        const seg = await segmentUltrasound({ gray8: d.gray8, width: d.width, height: d.height }, model);
        let peak = 0;
        for (const v of seg.probability) peak = Math.max(peak, v);
        const calibrated = d.parsed ? ultrasoundRegionSpacingMm(d.parsed) : spacing ? { dx: spacing, dy: spacing } : undefined;
        const code = m.outputs.find((o) => o.role === 'segmentation_probability')?.findingCode;
        image = { image: ref, score: peak, findings: lesionFindings(seg, ref, peak, calibrated, ids, code) };
        mask = seg.mask.map((v) => (v ? 255 : 0));
        break;
      }
      case 'mammography-density': {
        const a = await classifyDensity({ gray8: d.gray8, width: d.width, height: d.height }, model);
        density = { predicted: a.predicted, probabilities: a.probabilities, ...(a.code ? { code: a.code } : {}) };
        image = { image: ref, score: a.probabilities[a.predicted] ?? 0, findings: [], classification: { predicted: a.predicted, probabilities: a.probabilities } };
        break;
      }
      case 'wsi-tile-classification': {
        if (!d.rgb) throw new SentinelError('bad_request', 'a tile classifier needs a colour (RGB) image');
        const target = m.input.pixelSpacingMm ?? 0.004;
        const source = await ImageSlideSource.fromPixels(d.rgb, d.width, d.height, spacing ?? target);
        const slide = await analyzeSlide(source, model, {});
        // Map cells to the image's pixels: the analysed level's cell, scaled back to level 0.
        const level = source.levels[slide.level] as { totalPixelMatrixColumns: number; totalPixelMatrixRows: number };
        const sx = (slide.cellPx * d.width) / level.totalPixelMatrixColumns;
        const sy = (slide.cellPx * d.height) / level.totalPixelMatrixRows;
        const code = m.outputs.find((o) => o.role === 'tile_probability')?.findingCode;
        const findings: Finding[] = slide.regions.map((r) => {
          const contour = r.outline.map((p) => ({ x: Math.min(d.width, p.x * sx), y: Math.min(d.height, p.y * sy) }));
          return {
            trackingId: ids.nextTrackingId(), trackingUid: ids.newUid(), type: 'tumor', ...(code ? { code } : {}), score: r.maxProbability, image: ref,
            centre: { x: r.centre.x * sx, y: r.centre.y * sy }, contour,
            box: { x: r.box.x * sx, y: r.box.y * sy, width: r.box.width * sx, height: r.box.height * sy },
            areaMm2: r.cells.length * slide.cellMm * slide.cellMm,
          };
        });
        image = { image: ref, score: slide.score, findings };
        const cells = new Uint8Array(slide.heatmap.values.length);
        slide.heatmap.values.forEach((v, i) => (cells[i] = Number.isNaN(v) ? 0 : Math.round(v * 255)));
        mask = cells;
        maskSize = { width: slide.heatmap.columns, height: slide.heatmap.rows };
        break;
      }
    }
  }
  if (!image) throw new SentinelError('unsupported', `model ${m.id} (task ${m.task}) cannot be run on one image`);
  const hasCategory = ['detection', 'high', 'intermediate'].every((k) => m.thresholds[k] !== undefined);
  const examScore = examScoreOf(image.score, m);
  if (opts.mask && !mask) mask = rasterise(image.findings.map((f) => f.contour), d.width, d.height);
  return {
    model: { id: m.id, version: m.version, task: m.task },
    image: { width: d.width, height: d.height, ...(spacing ? { pixelSpacingMm: spacing } : {}), spacingAssumed: spacing === undefined && m.input.pixelSpacingMm !== undefined, type },
    score: image.score,
    ...(hasCategory ? { category: categoryOf(image.score, m) } : {}),
    ...(examScore !== undefined ? { examScore } : {}),
    ...(image.classification ? { classification: image.classification } : {}),
    ...(density ? { density } : {}),
    findings: image.findings.map((f) => findingOut(f, m)),
    ...(opts.mask && mask ? { mask: await maskPng(mask, maskSize.width, maskSize.height) } : {}),
    ms: Date.now() - started,
  };
}
