// A whole-slide study, tile by tile: each slide (study-slides.ts) through the pipeline (its
// tissue cells scored by the caller's strategy), its tumour regions as findings (outline in
// the analysed level's pixels and in slide coordinates), and the objects Sentinel hands back:
// a TILED_SPARSE SEG at one of the slide's own pyramid levels and a Comprehensive 3D SR.
// Nothing here holds more than the map and a band of tiles.
import type { Config } from '../config/schema';
import { studyContextFromJson } from '../dicom/study-context';
import type { DicomwebClient } from '../dicomweb/client';
import { type DocumentRef, type Finding, type ImageRef, type SegmentRef, type SkippedFile, type StudyContext, type StudyResult, findingTypeCode } from '../domain/findings';
import { SopClass } from '../dicom/uid';
import { type Output, output } from '../domain/outputs';
import { SentinelError } from '../errors/errors';
import type { LoadedModel } from '../inference/registry';
import { withExamScores } from '../pipelines/common/category';
import type { CellScoring, TilePipeline } from '../pipelines/definition';
import type { SlideAnalysis, SlideSource } from '../pipelines/wsi/analyze-slide';
import { mapPreview } from '../pipelines/wsi/regions';
import { type LevelRef, buildSlideSeg } from '../reports/seg/wsi';
import { buildTid1500Report, tid1500SopClass } from '../reports/sr/tid1500';
import { type Slide } from '../wsi/slide';
import { type StudyAnalysis } from './study-analysis';
import { type StudySlide, pixelToSlideMm, slideLevelRefs, slideSource } from './study-slides';

/** Everything analyzeSlideStudy needs about a described slide, its frames read through `client`. */
function slideStudyRequest(
  slide: Slide & { skipped?: SkippedFile[] },
  client: Pick<DicomwebClient, 'retrieveFrames'>,
  rest: Pick<SlideStudyRequest, 'pipeline' | 'model' | 'config' | 'newUid' | 'now' | 'onProgress' | 'scoring'>,
): SlideStudyRequest {
  if (!slide.frameOfReferenceUid) throw new SentinelError('bad_request', 'the slide has no FrameOfReferenceUID: its results could not be placed on it');
  const first = slide.levels[0];
  if (!first) throw new SentinelError('bad_request', 'the slide has no image level');
  return {
    ...rest,
    source: slideSource(client, slide),
    levels: slideLevelRefs(slide),
    frameOfReferenceUid: slide.frameOfReferenceUid,
    pixelToSlideMm: pixelToSlideMm(slide),
    context: studyContextFromJson(first.instances[0]?.dataset ?? {}, slide.studyInstanceUid),
    skipped: slide.skipped ?? [],
  };
}

interface SlideStudyRequest {
  pipeline: TilePipeline;
  source: SlideSource;
  /** What the writers reference of each level of `source.levels` (same order). */
  levels: LevelRef[];
  frameOfReferenceUid: string;
  /**
   * Slide coordinates (mm) of a point of level `index`, in pixel indices: (0, 0) is the centre
   * of the top left pixel, the Total Pixel Matrix Origin (PS3.3 C.8.12.9.1.1).
   */
  pixelToSlideMm: (index: number, column: number, row: number) => { x: number; y: number; z: number };
  context: StudyContext;
  model: LoadedModel;
  config: Pick<Config, 'output'>;
  newUid: () => string;
  now: Date;
  onProgress?: (done: number, total: number) => void | Promise<void>;
  /** How the slide's tissue cells are scored (here, or spread over workers by the caller). */
  scoring: CellScoring;
  /** Tracking identifiers start with this (e.g. "S2-" for a study's second slide). */
  trackingPrefix?: string;
  /** Files of the study left out of the slide (reported with the result, see StudySlide). */
  skipped?: SkippedFile[];
  /** The earlier SR of this slide that this one replaces (re-analysis). */
  predecessor?: DocumentRef;
}

interface SlideStudyOutput extends StudyAnalysis {
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

async function analyzeSlideStudy(req: SlideStudyRequest): Promise<SlideStudyOutput> {
  const { source, levels, model } = req;
  if (levels.length !== source.levels.length) throw new SentinelError('internal', 'slide level references do not match the slide source');
  const analysis = await req.pipeline.analyseSlide(source, model, { frameOfReferenceUid: req.frameOfReferenceUid, scoring: req.scoring, onProgress: req.onProgress });
  const manifest = model.manifest;
  const level = source.levels[analysis.level] as SlideSource['levels'][number];
  const ref = levels[analysis.level] as LevelRef;
  const image: ImageRef = {
    studyInstanceUid: req.context.studyInstanceUid,
    seriesInstanceUid: ref.seriesInstanceUid,
    sopInstanceUid: ref.sopInstanceUid,
    sopClassUid: ref.sopClassUid,
    rows: level.totalPixelMatrixRows,
    columns: level.totalPixelMatrixColumns,
  };
  const findingCode = manifest.outputs.find((o) => o.role === 'tile_probability')?.findingCode;
  const minCells = manifest.thresholds.minRegionCells ?? 2;
  const cellArea = analysis.cellMm ** 2;
  let n = 0;
  const findings: Finding[] = analysis.regions.filter((r) => r.cells.length >= minCells).map((r) => {
    const contour = r.outline.map((p) => ({ x: p.x * analysis.cellPx, y: p.y * analysis.cellPx }));
    return {
      trackingId: `${req.trackingPrefix ?? ''}T${++n}`,
      trackingUid: req.newUid(),
      type: 'tumor',
      ...(findingCode ? { code: findingCode } : {}),
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
  const result: StudyResult = withExamScores({
    studyInstanceUid: req.context.studyInstanceUid,
    pipeline: req.pipeline.name,
    model: { id: manifest.id, version: manifest.version, name: manifest.name },
    score: analysis.score,
    category: analysis.category,
    breasts: {},
    images: [{ image, score: analysis.score, findings, mapPreview: mapPreview(analysis.heatmap, analysis.cellPx) }],
  }, manifest);

  const algorithm = { name: manifest.name, version: manifest.version, modelId: manifest.id };
  const objects: Output[] = [];
  const segIndex = segLevelIndex(source.levels, analysis.cellMm);
  const segLevel = source.levels[segIndex] as SlideSource['levels'][number];
  const segRef = levels[segIndex] as LevelRef;
  const segSeries = req.newUid();
  const segUid = req.newUid();
  const seg = buildSlideSeg({
    level: { ...segRef, totalPixelMatrixRows: segLevel.totalPixelMatrixRows, totalPixelMatrixColumns: segLevel.totalPixelMatrixColumns, pixelSpacingMm: segLevel.pixelSpacingMm },
    heatmap: { ...analysis.heatmap, cellMm: analysis.cellMm },
    toSlideMm: (c, r) => req.pixelToSlideMm(segIndex, c, r),
    trackingUid: req.newUid(),
    finding: findingCode ?? findingTypeCode('tumor'),
    series: { seriesInstanceUid: segSeries, seriesNumber: req.config.output.seriesNumber, instanceNumber: 1, sopInstanceUid: segUid },
    algorithm,
    now: req.now,
  });
  // Every region is drawn from the SEG's one segment, the tumour probability map.
  const segments = new Map<string, SegmentRef>();
  if (seg) {
    objects.push(output('dicom', 'SEG', segUid, seg));
    const segDoc = { studyInstanceUid: result.studyInstanceUid, seriesInstanceUid: segSeries, sopClassUid: SopClass.Segmentation, sopInstanceUid: segUid };
    for (const f of findings) segments.set(f.trackingUid, { seg: segDoc, segmentNumber: 1 });
  }

  const srSeries = req.newUid();
  const srUid = req.newUid();
  objects.push(output('dicom', 'SR', srUid, buildTid1500Report({
    sources: [ref.source],
    result,
    series: { seriesInstanceUid: srSeries, seriesNumber: req.config.output.seriesNumber + 1, instanceNumber: 1, sopInstanceUid: srUid },
    algorithm,
    reporting: req.pipeline.reporting,
    segments,
    skipped: req.skipped ?? [],
    predecessor: req.predecessor,
    now: req.now,
  })));
  const report = { studyInstanceUid: result.studyInstanceUid, seriesInstanceUid: srSeries, sopClassUid: tid1500SopClass(findings), sopInstanceUid: srUid };
  return { result, context: req.context, objects, skipped: req.skipped ?? [], analysis, reports: [report] };
}

/**
 * A study holding several slides (several frames of reference): each slide analysed as above,
 * then one result for the study: the highest slide score and its category, every slide's
 * findings, every SEG and SR.
 */
export async function analyseSlides(req: Omit<SlideStudyRequest, 'source' | 'levels' | 'frameOfReferenceUid' | 'pixelToSlideMm' | 'context' | 'skipped' | 'trackingPrefix' | 'predecessor'> & {
  slides: StudySlide[];
  frames: Pick<DicomwebClient, 'retrieveFrames'>;
  /** The study's earlier SRs this analysis replaces. */
  predecessors?: DocumentRef[];
}): Promise<StudyAnalysis> {
  const { slides, frames, predecessors, ...rest } = req;
  const requests = slides.map((slide) => slideStudyRequest(slide, frames, rest));
  const first = requests[0];
  if (!first) throw new SentinelError('bad_request', 'the study holds no slide');
  // A one-slide study's SR replaces the earlier one-slide SR. (With several slides, the earlier
  // SRs are not told apart by slide here, so none is named: a known gap.)
  if (requests.length === 1) return analyzeSlideStudy({ ...first, ...(predecessors?.length === 1 ? { predecessor: predecessors[0] } : {}) });
  const outs: SlideStudyOutput[] = [];
  for (const [i, r] of requests.entries()) outs.push(await analyzeSlideStudy({ ...r, trackingPrefix: `S${i + 1}-` }));
  const top = outs.reduce((a, b) => (b.result.score > a.result.score ? b : a));
  return {
    result: { ...top.result, images: outs.flatMap((o) => o.result.images) },
    context: first.context,
    objects: outs.flatMap((o) => o.objects),
    skipped: outs.flatMap((o) => o.skipped),
    reports: outs.flatMap((o) => o.reports),
  };
}
