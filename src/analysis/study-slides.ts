// A whole-slide study's slides, described from DICOM JSON metadata (no pixels): from the PACS
// (VL Whole Slide Microscopy series over DICOMweb) or from local Part 10 files; a SlideSource
// that fetches only the tiles asked for (several frames per request, stored transfer syntax);
// and what the writers reference of each level.
import { type DicomJson, str } from '../dicom/json';
import { naturalize, part10ToDicomJson } from '../dicom/part10';
import { Tag } from '../dicom/tags';
import { SopClass } from '../dicom/uid';
import type { NaturalizedDataset } from '../dicom/write';
import type { DicomwebClient } from '../dicomweb/client';
import { type SkippedFile } from '../domain/findings';
import { SentinelError } from '../errors/errors';
import type { PipelineDefinition } from '../pipelines/definition';
import { sopClassNotRead } from '../pipelines/registry';
import type { SlideSource } from '../pipelines/wsi/analyze-slide';
import { type LevelRef } from '../reports/seg/wsi';
import { type Slide, type SlideLevel, describeSlide, groupSlides } from '../wsi/slide';
import { isMissing, readTiles } from '../wsi/tiles';
import type { ListedInstance } from './image-set';
import { parseForPipeline, reasonOf } from './instances';
import { nothingToAnalyse } from './study-analysis';

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
  return naturalize(light);
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

/**
 * Every instance of the study's series of the pipeline's modalities (SM), described as slides.
 * `listed`: the instances as the caller has just listed them (a job, for its image set): only
 * their series are read, and only they are described, so an instance arriving meanwhile is
 * left to the analysis its own arrival starts.
 */
export async function describeStudySlides(
  dicomweb: Pick<DicomwebClient, 'searchSeries' | 'seriesMetadata'>,
  studyInstanceUid: string,
  pipeline: PipelineDefinition,
  listed?: ListedInstance[],
): Promise<StudySlide[]> {
  const series = listed
    ? [...new Set(listed.map((i) => i.seriesInstanceUid))]
    : (await dicomweb.searchSeries(studyInstanceUid)).filter((s) => pipeline.modalities.includes(s.modality)).map((s) => s.seriesInstanceUid);
  if (series.length === 0) throw new SentinelError('not_found', 'no slide series in the study');
  const wanted = listed && new Set(listed.map((i) => i.sopInstanceUid));
  const instances: DicomJson[] = [];
  for (const s of series) {
    for (const ds of await dicomweb.seriesMetadata(studyInstanceUid, s)) if (!wanted || wanted.has(str(ds, Tag.SOPInstanceUID) ?? '')) instances.push(ds);
  }
  return slidesOfStudy(instances, pipeline);
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
    async readTiles(index, tiles, buffers) {
      const level = slide.levels[index];
      if (!level) throw new SentinelError('internal', `no slide level ${index}`);
      return (await readTiles(client, level, tiles, { buffers })).map((t) => (isMissing(t) ? undefined : t.rgb));
    },
  };
}

export function slideLevelRefs(slide: Slide): LevelRef[] {
  return slide.levels.map((level) => {
    const first = level.instances[0];
    if (!first) throw new SentinelError('bad_request', `slide level ${level.index} has no instance`);
    const source = headerOf(level);
    return {
      sopClassUid: String(source.SOPClassUID ?? SopClass.VLWholeSlideMicroscopyImage),
      sopInstanceUid: first.sopInstanceUid,
      seriesInstanceUid: first.seriesInstanceUid,
      source,
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

