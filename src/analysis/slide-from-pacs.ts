// A whole-slide study as the PACS holds it: its VL Whole Slide Microscopy series described
// from DICOMweb metadata (no pixels), a SlideSource that fetches only the tiles asked for
// (several frames per request, stored transfer syntax), and what the writers need to copy
// from each level (patient, study, frame of reference, container, specimen).
import dcmjs from 'dcmjs';
import type { DicomJson, DicomwebClient } from '../dicomweb/client';
import { SentinelError } from '../errors/errors';
import type { NaturalizedDataset } from '../dicom/write';
import { sopClassNotRead } from '../pipelines/declarations';
import type { StudyContext } from '../pipelines/findings';
import type { SlideSource } from '../pipelines/wsi/analyze-slide';
import { type Slide, type SlideLevel, WsiTag, describeSlide, groupSlides } from '../wsi/slide';
import { isMissing, readTiles } from '../wsi/tiles';
import type { SlideLevelRef, SlideStudyRequest } from './analyze-slide-study';
import { nothingToAnalyse } from './analyze-study';
import { part10ToDicomJson, str } from '../wsi/dicom-json';
import { SopClass } from '../dicom/uid';
import { type SkippedFile, parseForPipeline, reasonOf } from './study-images';

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

export function studyContextOf(header: NaturalizedDataset, studyInstanceUid: string): StudyContext {
  const s = (k: string): string | undefined => {
    const v = header[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (Array.isArray(v)) return v.length ? s2(v[0]) : undefined;
    return s2(v);
  };
  const s2 = (v: unknown): string => (typeof v === 'object' && v !== null && 'Alphabetic' in v ? String((v as { Alphabetic: unknown }).Alphabetic) : String(v));
  return {
    studyInstanceUid,
    accessionNumber: s('AccessionNumber'),
    studyId: s('StudyID'),
    studyDate: s('StudyDate'),
    studyTime: s('StudyTime'),
    studyDescription: s('StudyDescription'),
    referringPhysicianName: s('ReferringPhysicianName'),
    patientId: s('PatientID'),
    patientName: s('PatientName'),
    patientBirthDate: s('PatientBirthDate'),
    patientSex: s('PatientSex'),
  };
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
export function slidesOfStudy(instances: DicomJson[], skipped: SkippedFile[] = []): StudySlide[] {
  const read: DicomJson[] = [];
  for (const ds of instances) {
    const notRead = sopClassNotRead('wsi', str(ds, WsiTag.SOPClassUID));
    if (notRead) skipped.push({ sopInstanceUid: str(ds, WsiTag.SOPInstanceUID), reason: notRead });
    else read.push(ds);
  }
  const slides: Slide[] = [];
  for (const group of groupSlides(read)) {
    try {
      slides.push(describeSlide(group));
    } catch (err) {
      const frameOfReference = str(group[0], WsiTag.FrameOfReferenceUID);
      skipped.push({ reason: `the slide${frameOfReference ? ` in frame of reference ${frameOfReference}` : ''} (${group.length} instance(s)) was not analysed: ${reasonOf(err)}` });
    }
  }
  if (slides.length === 0) throw nothingToAnalyse('wsi', skipped);
  slides.sort((a, b) => (a.frameOfReferenceUid ?? '').localeCompare(b.frameOfReferenceUid ?? ''));
  return slides.map((slide, i) => Object.assign(slide, { skipped: i === 0 ? skipped : [] }));
}

/** Every instance of the study's series of the given modalities (SM), described as slides. */
export async function describeStudySlides(dicomweb: DicomwebClient, studyInstanceUid: string, modalities: Set<string>): Promise<StudySlide[]> {
  const series = (await dicomweb.searchSeries(studyInstanceUid)).filter((s) => modalities.has(s.modality));
  if (series.length === 0) throw new SentinelError('not_found', 'no slide series in the study');
  const instances: DicomJson[] = [];
  for (const s of series) instances.push(...(await dicomweb.seriesMetadata(studyInstanceUid, s.seriesInstanceUid)));
  return slidesOfStudy(instances);
}

/** Everything analyzeSlideStudy needs about a described slide, its frames read through `client`. */
export function slideStudyRequest(
  slide: Slide & { skipped?: SkippedFile[] },
  client: Pick<DicomwebClient, 'retrieveFrames'>,
  rest: Pick<SlideStudyRequest, 'model' | 'config' | 'newUid' | 'now' | 'onProgress' | 'scoreElsewhere'>,
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
    context: studyContextOf(headerOf(first), slide.studyInstanceUid),
    skipped: slide.skipped ?? [],
  };
}

/**
 * Slides given as local Part 10 files (offline analyze): described from their headers, frames
 * served from memory. A file is read for its frames only once its SOP class says it is a
 * slide, so a foreign object (e.g. a SEG) never fails the study; one whose frames cannot be
 * read is skipped, and the slide is analysed from the levels that remain.
 */
export function localSlides(files: Uint8Array[]): { slides: StudySlide[]; frames: Pick<DicomwebClient, 'retrieveFrames'> } {
  const frames = new Map<string, Uint8Array[]>();
  const metadata: DicomJson[] = [];
  const skipped: SkippedFile[] = [];
  for (const bytes of files) {
    const file = parseForPipeline(bytes, 'wsi');
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
    slides: slidesOfStudy(metadata, skipped),
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
    levels: slide.levels.map((l) => ({
      totalRows: l.totalPixelMatrixRows,
      totalColumns: l.totalPixelMatrixColumns,
      tileRows: l.tileRows,
      tileColumns: l.tileColumns,
      pixelSpacingMm: [l.pixelSpacingMm[0], l.pixelSpacingMm[1]],
    })),
    async readTiles(index, tiles) {
      const level = slide.levels[index];
      if (!level) throw new SentinelError('internal', `no slide level ${index}`);
      return (await readTiles(client, level, tiles)).map((t) => (isMissing(t) ? undefined : t.rgb));
    },
  };
}

export function slideLevelRefs(slide: Slide): SlideLevelRef[] {
  return slide.levels.map((level) => {
    const first = level.instances[0];
    if (!first) throw new SentinelError('bad_request', `slide level ${level.index} has no instance`);
    return {
      sopClassUid: String(headerOf(level).SOPClassUID ?? SopClass.VLWholeSlideMicroscopyImage),
      sopInstanceUid: first.sopInstanceUid,
      seriesInstanceUid: first.seriesInstanceUid,
      header: headerOf(level),
      frameAt: (column: number, row: number) => {
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
