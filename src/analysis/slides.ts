// A whole-slide study, tile by tile. Its slides described from DICOM JSON metadata (no
// pixels): from the PACS (VL Whole Slide Microscopy series over DICOMweb) or from local Part
// 10 files; a SlideSource that fetches only the tiles asked for (several frames per request,
// stored transfer syntax); each slide through the pipeline (its tissue cells scored by the
// caller's strategy), its tumour regions as findings (outline in the analysed level's pixels
// and in slide coordinates), and the objects Sentinel hands back: a TILED_SPARSE SEG at one of
// the slide's own pyramid levels and a Comprehensive 3D SR. Nothing here holds more than the
// map and a band of tiles.
import dcmjs from 'dcmjs';
import type { Config } from '../config/schema';
import { SopClass } from '../dicom/uid';
import type { NaturalizedDataset } from '../dicom/write';
import type { DicomwebClient } from '../dicomweb/client';
import { type Finding, type ImageRef, type SkippedFile, type StudyContext, type StudyResult, findingTypeCode } from '../domain/findings';
import { type Output, output } from '../domain/outputs';
import { SentinelError } from '../errors/errors';
import type { LoadedModel } from '../inference/registry';
import type { CellScoring, PipelineDefinition, TilePipeline } from '../pipelines/definition';
import { sopClassNotRead } from '../pipelines/registry';
import type { SlideAnalysis, SlideSource } from '../pipelines/wsi/analyze-slide';
import { type LevelRef, buildSlideSeg } from '../reports/seg/wsi';
import { buildTid1500Report } from '../reports/sr/tid1500';
import { type Slide, type SlideLevel, describeSlide, groupSlides } from '../wsi/slide';
import { Tag } from '../dicom/tags';
import { studyContextFromJson } from '../dicom/study-context';
import { isMissing, readTiles } from '../wsi/tiles';
import { type DicomJson, str } from '../dicom/json';
import { part10ToDicomJson } from '../dicom/part10';
import { type StudyAnalysis, nothingToAnalyse } from './study-analysis';
import { parseForPipeline, reasonOf } from './instances';

/** Elements never copied into a writer's header: pixels, bulk data, per-frame geometry. */
const HEAVY = new Set(['7FE00010', '52009230', '00282000', '00880200']);

/** The naturalized header of a level's first instance, from its DICOM JSON metadata. */
export function headerOf(level: SlideLevel): NaturalizedDataset {
  const json = level.instances[0]?.dataset;
  if (!json) throw new SentinelError('bad_request', `slide level ${level.index} has no instance`);
  const light: DicomJson = {};
  for (const [tag, el] of Object.entries(json)) {
    const t = tag.toUpperCase();
    if (HEAVY.has(t) || t.startsWith('0002') || el.BulkDataURI !== undefined || el.InlineBinary !== undefined) continue;
    light[t] = el;
  }
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(light);
}

/**
 * A slide of a study. The study's files left out of every slide ride on its first slide, so
 * that the study's one result lists them once, whichever path (PACS or local files) read it.
 */
export type StudySlide = Slide & { skipped: SkippedFile[] };

/**
 * The study's instances as slides (one per frame of reference, in frame of reference order,
 * so that every worker numbers a study's slides alike). Objects the whole slide pipeline does
 * not read (a SEG, an annotation, a stray image) and slides that cannot be described are
 * skipped with their reasons; a study with no slide left fails for good.
 */
export function slidesOfStudy(instances: DicomJson[], pipeline: PipelineDefinition, skipped: SkippedFile[] = []): StudySlide[] {
  const read: DicomJson[] = [];
  for (const ds of instances) {
    const notRead = sopClassNotRead(pipeline, str(ds, Tag.SOPClassUID));
    if (notRead) skipped.push({ sopInstanceUid: str(ds, Tag.SOPInstanceUID), reason: notRead });
    else read.push(ds);
  }
  const slides: Slide[] = [];
  for (const group of groupSlides(read)) {
    try {
      slides.push(describeSlide(group));
    } catch (err) {
      const frameOfReference = str(group[0], Tag.FrameOfReferenceUID);
      skipped.push({ reason: `the slide${frameOfReference ? ` in frame of reference ${frameOfReference}` : ''} (${group.length} instance(s)) was not analysed: ${reasonOf(err)}` });
    }
  }
  if (slides.length === 0) throw nothingToAnalyse(pipeline, skipped);
  slides.sort((a, b) => (a.frameOfReferenceUid ?? '').localeCompare(b.frameOfReferenceUid ?? ''));
  return slides.map((slide, i) => Object.assign(slide, { skipped: i === 0 ? skipped : [] }));
}

/** Every instance of the study's series of the pipeline's modalities (SM), described as slides. */
export async function describeStudySlides(dicomweb: Pick<DicomwebClient, 'searchSeries' | 'seriesMetadata'>, studyInstanceUid: string, pipeline: PipelineDefinition): Promise<StudySlide[]> {
  const series = (await dicomweb.searchSeries(studyInstanceUid)).filter((s) => pipeline.modalities.includes(s.modality));
  if (series.length === 0) throw new SentinelError('not_found', 'no slide series in the study');
  const instances: DicomJson[] = [];
  for (const s of series) instances.push(...(await dicomweb.seriesMetadata(studyInstanceUid, s.seriesInstanceUid)));
  return slidesOfStudy(instances, pipeline);
}

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

/**
 * Slides given as local Part 10 files (offline analyze): described from their headers, frames
 * served from memory. A file is read for its frames only once its SOP class says it is a
 * slide, so a foreign object (e.g. a SEG) never fails the study; one whose frames cannot be
 * read is skipped, and the slide is analysed from the levels that remain.
 */
export function localSlides(files: Uint8Array[], pipeline: PipelineDefinition): { slides: StudySlide[]; frames: Pick<DicomwebClient, 'retrieveFrames'> } {
  const frames = new Map<string, Uint8Array[]>();
  const metadata: DicomJson[] = [];
  const skipped: SkippedFile[] = [];
  for (const bytes of files) {
    const file = parseForPipeline(bytes, pipeline);
    if ('skipped' in file) {
      skipped.push(file.skipped);
      continue;
    }
    const { parsed } = file;
    try {
      frames.set(parsed.sopInstanceUid, parsed.frames());
      metadata.push(part10ToDicomJson(bytes));
    } catch (err) {
      frames.delete(parsed.sopInstanceUid);
      skipped.push({ sopInstanceUid: parsed.sopInstanceUid, reason: reasonOf(err) });
    }
  }
  return {
    slides: slidesOfStudy(metadata, pipeline, skipped),
    frames: {
      retrieveFrames: (_study: string, _series: string, sop: string, numbers: number[]) => {
        const all = frames.get(sop);
        if (!all) return Promise.reject(new SentinelError('not_found', `no local instance ${sop}`));
        return Promise.resolve(numbers.map((n) => {
          const f = all[n - 1];
          if (!f) throw new SentinelError('bad_request', `instance ${sop} has no frame ${n}`);
          return f;
        }));
      },
    },
  };
}

export function slideSource(client: Pick<DicomwebClient, 'retrieveFrames'>, slide: Slide): SlideSource {
  return {
    levels: slide.levels,
    async readTiles(index, tiles) {
      const level = slide.levels[index];
      if (!level) throw new SentinelError('internal', `no slide level ${index}`);
      return (await readTiles(client, level, tiles)).map((t) => (isMissing(t) ? undefined : t.rgb));
    },
  };
}

export function slideLevelRefs(slide: Slide): LevelRef[] {
  return slide.levels.map((level) => {
    const first = level.instances[0];
    if (!first) throw new SentinelError('bad_request', `slide level ${level.index} has no instance`);
    return {
      sopClassUid: String(headerOf(level).SOPClassUID ?? SopClass.VLWholeSlideMicroscopyImage),
      sopInstanceUid: first.sopInstanceUid,
      seriesInstanceUid: first.seriesInstanceUid,
      source: headerOf(level),
      sourceFrameAt: (column: number, row: number) => {
        const loc = level.frameAt(Math.floor(row / level.tileRows), Math.floor(column / level.tileColumns));
        return loc ? { sopInstanceUid: loc.sopInstanceUid, frameNumber: loc.frameNumber } : undefined;
      },
    };
  });
}

/** Slide coordinates (mm) of a pixel of level `index`, centre convention (see SlideLevel.pixelToSlide). */
export function pixelToSlideMm(slide: Slide): (index: number, column: number, row: number) => { x: number; y: number; z: number } {
  return (index, column, row) => {
    const level = slide.levels[index];
    if (!level) throw new SentinelError('internal', `no slide level ${index}`);
    const p = level.pixelToSlide(column, row);
    return { x: p.xMm, y: p.yMm, z: p.zMm };
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
  const result: StudyResult = {
    studyInstanceUid: req.context.studyInstanceUid,
    pipeline: req.pipeline.name,
    model: { id: manifest.id, version: manifest.version, name: manifest.name },
    score: analysis.score,
    category: analysis.category,
    breasts: {},
    images: [{ image, score: analysis.score, findings }],
  };

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
  if (seg) objects.push(output('dicom', 'SEG', segUid, seg));

  const srSeries = req.newUid();
  const srUid = req.newUid();
  objects.push(output('dicom', 'SR', srUid, buildTid1500Report({
    sources: [ref.source],
    result,
    series: { seriesInstanceUid: srSeries, seriesNumber: req.config.output.seriesNumber + 1, instanceNumber: 1, sopInstanceUid: srUid },
    algorithm,
    reporting: req.pipeline.reporting,
    now: req.now,
  })));
  return { result, context: req.context, objects, skipped: req.skipped ?? [], analysis };
}

/**
 * A study holding several slides (several frames of reference): each slide analysed as above,
 * then one result for the study: the highest slide score and its category, every slide's
 * findings, every SEG and SR.
 */
export async function analyseSlides(req: Omit<SlideStudyRequest, 'source' | 'levels' | 'frameOfReferenceUid' | 'pixelToSlideMm' | 'context' | 'skipped' | 'trackingPrefix'> & {
  slides: StudySlide[];
  frames: Pick<DicomwebClient, 'retrieveFrames'>;
}): Promise<StudyAnalysis> {
  const { slides, frames, ...rest } = req;
  const requests = slides.map((slide) => slideStudyRequest(slide, frames, rest));
  const first = requests[0];
  if (!first) throw new SentinelError('bad_request', 'the study holds no slide');
  if (requests.length === 1) return analyzeSlideStudy(first);
  const outs: SlideStudyOutput[] = [];
  for (const [i, r] of requests.entries()) outs.push(await analyzeSlideStudy({ ...r, trackingPrefix: `S${i + 1}-` }));
  const top = outs.reduce((a, b) => (b.result.score > a.result.score ? b : a));
  return {
    result: { ...top.result, images: outs.flatMap((o) => o.result.images) },
    context: first.context,
    objects: outs.flatMap((o) => o.objects),
    skipped: outs.flatMap((o) => o.skipped),
  };
}
