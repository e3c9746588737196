// A whole-slide study, tile by tile: the slide map from analyzeSlide, its tumour regions as
// findings (outline in the analysed level's pixels and in slide coordinates), and everything
// Sentinel hands back: a TILED_SPARSE SEG at one of the slide's own pyramid levels, a
// Comprehensive 3D SR, and the ORU. The slide is read through a SlideSource (DICOMweb in the
// service), so nothing here holds more than the map and a band of tiles.
import type { Config } from '../config/schema';
import { SentinelError } from '../errors/errors';
import type { NaturalizedDataset } from '../dicom/write';
import type { LoadedModel } from '../inference/registry';
import { assertModelFits } from '../pipelines/declarations';
import type { Finding, ImageRef, StudyContext, StudyResult } from '../pipelines/findings';
import { type SlideAnalysis, type SlidePlan, type SlideSource, finishSlide, planSlide, scoreCells } from '../pipelines/wsi/analyze-slide';
import { oruForStudy } from '../reports/hl7/oru-r01';
import { buildSlideSeg } from '../reports/seg/wsi';
import { buildTid1500Report } from '../reports/sr/tid1500';
import type { AnalysisOutput, DicomOutput, SkippedFile } from './analyze-study';

/** What the writers need to know about each level of `source.levels` (same order). */
export interface SlideLevelRef {
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  /** Header of the level's (first) instance, without pixel data. */
  header: NaturalizedDataset;
  /** The stored frame covering a level pixel, when known. */
  frameAt?: (column: number, row: number) => { sopInstanceUid: string; frameNumber: number } | undefined;
}

export interface SlideStudyRequest {
  source: SlideSource;
  levels: SlideLevelRef[];
  frameOfReferenceUid: string;
  /**
   * Slide coordinates (mm) of a point of level `index`, in pixel indices: (0, 0) is the centre
   * of the top left pixel, the Total Pixel Matrix Origin (PS3.3 C.8.12.9.1.1).
   */
  pixelToSlideMm: (index: number, column: number, row: number) => { x: number; y: number; z: number };
  context: StudyContext;
  model: LoadedModel;
  config: Pick<Config, 'hl7' | 'output'>;
  newUid: () => string;
  now: Date;
  onProgress?: (done: number, total: number) => void | Promise<void>;
  /**
   * Scores the plan's tissue cells somewhere else (e.g. ranges on the tiles queue, merged),
   * or returns undefined to have them scored here (the default).
   */
  scoreElsewhere?: (plan: SlidePlan) => Promise<Float32Array> | undefined;
  /** Tracking identifiers start with this (e.g. "S2-" for a study's second slide). */
  trackingPrefix?: string;
  /** Files of the study left out of the slide (reported with the result, see StudySlide). */
  skipped?: SkippedFile[];
}

export interface SlideStudyOutput extends AnalysisOutput {
  analysis: SlideAnalysis;
}

/** The pyramid level for the SEG: the coarsest whose spacing is not coarser than a map cell. */
export function segLevelIndex(levels: SlideSource['levels'], cellMm: number): number {
  let best = 0;
  levels.forEach((l, i) => {
    if (l.pixelSpacingMm[1] <= cellMm * 1.0001 && l.pixelSpacingMm[1] > (levels[best] as typeof l).pixelSpacingMm[1]) best = i;
  });
  return best;
}

export async function analyzeSlideStudy(req: SlideStudyRequest): Promise<SlideStudyOutput> {
  const { source, levels, model } = req;
  // First of all: a model for another pipeline would read tiles for nothing, then score them wrongly.
  assertModelFits('wsi', model.manifest);
  if (levels.length !== source.levels.length) throw new SentinelError('internal', 'slide level references do not match the slide source');
  const startedAt = Date.now();
  const plan = await planSlide(source, model);
  let probabilities: Float32Array;
  let inferenceMs = 0;
  const elsewhere = req.scoreElsewhere?.(plan);
  if (elsewhere) {
    probabilities = await elsewhere;
  } else {
    ({ probabilities, inferenceMs } = await scoreCells(source, model, plan, plan.todo, { onProgress: req.onProgress }));
  }
  const analysis = finishSlide(plan, probabilities, model.manifest, { inferenceMs, startedAt });
  const manifest = model.manifest;
  const level = source.levels[analysis.level] as SlideSource['levels'][number];
  const ref = levels[analysis.level] as SlideLevelRef;
  const image: ImageRef = {
    studyInstanceUid: req.context.studyInstanceUid,
    seriesInstanceUid: ref.seriesInstanceUid,
    sopInstanceUid: ref.sopInstanceUid,
    sopClassUid: ref.sopClassUid,
    rows: level.totalRows,
    columns: level.totalColumns,
  };
  const minCells = manifest.thresholds.minRegionCells ?? 2;
  const cellArea = analysis.cellMm ** 2;
  let n = 0;
  const findings: Finding[] = analysis.regions.filter((r) => r.cells.length >= minCells).map((r) => {
    const contour = r.outline.map((p) => ({ x: p.x * analysis.cellPx, y: p.y * analysis.cellPx }));
    return {
      trackingId: `${req.trackingPrefix ?? ''}T${++n}`,
      trackingUid: req.newUid(),
      type: 'tumor',
      score: r.meanProbability,
      image,
      centre: { x: r.centre.x * analysis.cellPx, y: r.centre.y * analysis.cellPx },
      contour,
      box: { x: r.box.x * analysis.cellPx, y: r.box.y * analysis.cellPx, width: r.box.width * analysis.cellPx, height: r.box.height * analysis.cellPx },
      areaMm2: r.cells.length * cellArea,
      // Outline points are pixel corners; pixel (c, r) is centred at c + 0.5, r + 0.5 of them.
      slide: { frameOfReferenceUid: req.frameOfReferenceUid, contourMm: contour.map((p) => req.pixelToSlideMm(analysis.level, p.x - 0.5, p.y - 0.5)) },
    };
  });
  const result: StudyResult = {
    studyInstanceUid: req.context.studyInstanceUid,
    pipeline: 'wsi',
    model: { id: manifest.id, version: manifest.version, name: manifest.name },
    score: analysis.score,
    category: analysis.category,
    breasts: {},
    images: [{ image, score: analysis.score, findings }],
  };

  const algorithm = { name: manifest.name, version: manifest.version, modelId: manifest.id };
  const dicom: DicomOutput[] = [];
  const segIndex = segLevelIndex(source.levels, analysis.cellMm);
  const segLevel = source.levels[segIndex] as SlideSource['levels'][number];
  const segRef = levels[segIndex] as SlideLevelRef;
  const segSeries = req.newUid();
  const segUid = req.newUid();
  const seg = buildSlideSeg({
    level: {
      source: segRef.header,
      sopClassUid: segRef.sopClassUid,
      sopInstanceUid: segRef.sopInstanceUid,
      seriesInstanceUid: segRef.seriesInstanceUid,
      totalRows: segLevel.totalRows,
      totalColumns: segLevel.totalColumns,
      pixelSpacingMm: segLevel.pixelSpacingMm,
      sourceFrameAt: segRef.frameAt,
    },
    heatmap: { ...analysis.heatmap, cellMm: analysis.cellMm },
    toSlideMm: (c, r) => req.pixelToSlideMm(segIndex, c, r),
    trackingUid: req.newUid(),
    series: { seriesInstanceUid: segSeries, seriesNumber: req.config.output.seriesNumber, instanceNumber: 1, sopInstanceUid: segUid },
    algorithm,
    now: req.now,
  });
  if (seg) dicom.push({ label: 'SEG', sopInstanceUid: segUid, seriesInstanceUid: segSeries, bytes: seg });

  const srSeries = req.newUid();
  const srUid = req.newUid();
  dicom.push({
    label: 'SR',
    sopInstanceUid: srUid,
    seriesInstanceUid: srSeries,
    bytes: buildTid1500Report({
      sources: [ref.header],
      result,
      series: { seriesInstanceUid: srSeries, seriesNumber: req.config.output.seriesNumber + 1, instanceNumber: 1, sopInstanceUid: srUid },
      algorithm,
      now: req.now,
    }),
  });

  const hl7 = oruForStudy(result, req.context, req.config.hl7, req.now);
  return { result, context: req.context, dicom, hl7, skipped: req.skipped ?? [], analysis };
}

/**
 * A study holding several slides (several frames of reference): each slide analysed as above,
 * then one result for the study: the highest slide score and its category, every slide's
 * findings, every SEG and SR, and one ORU.
 */
export async function analyzeSlidesStudy(requests: SlideStudyRequest[]): Promise<AnalysisOutput> {
  const first = requests[0];
  if (!first) throw new SentinelError('bad_request', 'the study holds no slide');
  if (requests.length === 1) return analyzeSlideStudy(first);
  const outs: SlideStudyOutput[] = [];
  for (const [i, req] of requests.entries()) outs.push(await analyzeSlideStudy({ ...req, trackingPrefix: `S${i + 1}-` }));
  const top = outs.reduce((a, b) => (b.result.score > a.result.score ? b : a));
  const result: StudyResult = { ...top.result, images: outs.flatMap((o) => o.result.images) };
  return {
    result,
    context: first.context,
    dicom: outs.flatMap((o) => o.dicom),
    hl7: oruForStudy(result, first.context, first.config.hl7, first.now),
    skipped: outs.flatMap((o) => o.skipped),
  };
}
