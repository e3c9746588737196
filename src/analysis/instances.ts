// A study of whole instances (mammography, ultrasound): the files as the pipeline's images,
// each image through the pipeline, the study summarised, and a SEG per image with findings
// plus one TID 1500 SR. A file that cannot be analysed (unreadable, a SOP class the pipeline
// does not read, no pixels, a mammogram without a side, a frame that does not decode) is set
// aside with its reason and the others go on.
import type { Config } from '../config/schema';
import { type ParsedDicom, parseDicom, readStudyContext } from '../dicom/read';
import type { NaturalizedDataset } from '../dicom/write';
import { readNaturalizedHeader } from '../dicom/part10';
import type { DicomwebClient } from '../dicomweb/client';
import { pool } from '../dicomweb/pool';
import { type ListedInstance, listStudyInstances } from './image-set';
import { type DocumentRef, type ImageResult, type SegmentRef, type SkippedFile, type StudyResult, allFindings } from '../domain/findings';
import { SopClass } from '../dicom/uid';
import { type Output, output } from '../domain/outputs';
import { SentinelError, describeError } from '../errors/errors';
import { threshold } from '../inference/manifest';
import type { LoadedModel } from '../inference/registry';
import type { Companions, InstancePipeline, PipelineDefinition } from '../pipelines/definition';
import { withExamScores } from '../pipelines/common/category';
import { stageTimer } from '../metrics/metrics';
import { sopClassNotRead } from '../pipelines/registry';
import type { AlgorithmInfo, Reader } from '../reports/seg/common';
import { buildImageSeg } from '../reports/seg/image';
import { buildMammographyCadReport } from '../reports/sr/mammography-cad';
import { buildTid1500Report, tid1500SopClass } from '../reports/sr/tid1500';
import { type StudyAnalysis, nothingToAnalyse } from './study-analysis';

export interface StudyImage {
  parsed: ParsedDicom;
  bytes: Uint8Array;
}

/** Our own errors already read as a sentence; anything else keeps its name, which says where it came from. */
export function reasonOf(err: unknown): string {
  return err instanceof SentinelError ? err.message : describeError(err);
}

/** A file parsed and checked against the SOP classes its pipeline reads, or why it is set aside. */
export function parseForPipeline(bytes: Uint8Array, pipeline: PipelineDefinition): { parsed: ParsedDicom } | { skipped: SkippedFile } {
  let parsed: ParsedDicom;
  try {
    parsed = parseDicom(bytes);
  } catch (err) {
    return { skipped: { reason: reasonOf(err) } };
  }
  const notRead = sopClassNotRead(pipeline, parsed.sopClassUid);
  return notRead ? { skipped: { sopInstanceUid: parsed.sopInstanceUid, reason: notRead } } : { parsed };
}

/** The files the pipeline can read as images; every other file is in `skipped` with its reason. */
export function readStudyImages(files: Uint8Array[], pipeline: PipelineDefinition): { images: StudyImage[]; skipped: SkippedFile[] } {
  const images: StudyImage[] = [];
  const skipped: SkippedFile[] = [];
  for (const bytes of files) {
    const file = parseForPipeline(bytes, pipeline);
    if ('skipped' in file) skipped.push(file.skipped);
    else if (!file.parsed.hasPixelData) skipped.push({ sopInstanceUid: file.parsed.sopInstanceUid, reason: 'the image has no Pixel Data (7FE0,0010)' });
    else images.push({ parsed: file.parsed, bytes });
  }
  return { images, skipped };
}

/**
 * Part 10 bytes of every instance in the study's series of the pipeline's modalities, in the
 * series' order: the instances listed by QIDO-RS (from the PACS's index: Orthanc reads every
 * whole file for a series' metadata, 0.3 s for a 4-view full-field study here), two retrieved
 * at a time so that the PACS reads one while the other arrives. `listed`: the instances as the
 * caller has just listed them (a job, for its image set), fetched as they are and not listed
 * again. `arrived`: called with each file as it comes, while the others are still on their way.
 */
export async function fetchStudyInstances(
  dicomweb: Pick<DicomwebClient, 'searchStudyInstances' | 'retrieveInstance'>,
  studyUid: string,
  modalities: readonly string[],
  opts: { listed?: ListedInstance[]; arrived?: (bytes: Uint8Array) => void } = {},
): Promise<Uint8Array[]> {
  const instances = opts.listed ?? await listStudyInstances(dicomweb, studyUid, modalities);
  return pool(instances.map((i) => async () => {
    const bytes = await dicomweb.retrieveInstance(studyUid, i.seriesInstanceUid, i.sopInstanceUid);
    opts.arrived?.(bytes);
    return bytes;
  }), 2);
}

export async function analyseInstances(req: {
  pipeline: InstancePipeline;
  files: Uint8Array[];
  model: LoadedModel;
  config: Pick<Config, 'output'>;
  newUid: () => string;
  now: Date;
  predecessors?: DocumentRef[];
  companions?: Companions;
}): Promise<StudyAnalysis> {
  const { pipeline, model } = req;
  const { images, skipped } = readStudyImages(req.files, pipeline);
  if (images.length === 0) throw nothingToAnalyse(pipeline, skipped);
  const studies = new Set(images.map((i) => i.parsed.studyInstanceUid));
  if (studies.size > 1) throw new SentinelError('bad_request', `files from ${studies.size} different studies given as one study`);

  // Each image on its own; one that fails is skipped with its reason.
  let next = 0;
  const ids = { newUid: req.newUid, nextTrackingId: () => `F${++next}` };
  const perImage: ImageResult[] = [];
  const study = images.map((i) => i.parsed);
  for (const { parsed } of images) {
    try {
      perImage.push(await pipeline.analyseImage(parsed, model, ids, req.companions ?? {}, study));
    } catch (err) {
      skipped.push({ sopInstanceUid: parsed.sopInstanceUid, reason: reasonOf(err) });
    }
  }
  if (perImage.length === 0) throw nothingToAnalyse(pipeline, skipped);

  const manifest = model.manifest;
  const first = images[0] as StudyImage;
  const result: StudyResult = withExamScores({
    studyInstanceUid: first.parsed.studyInstanceUid,
    pipeline: pipeline.name,
    model: { id: manifest.id, version: manifest.version, name: manifest.name },
    ...pipeline.summarise(perImage, manifest, req.companions ?? {}),
    images: perImage,
  }, manifest);

  const headers = new Map<string, NaturalizedDataset>();
  for (const i of images) headers.set(i.parsed.sopInstanceUid, readNaturalizedHeader(i.bytes));
  const endWriters = stageTimer(pipeline.name, 'writers');
  const { objects, reports } = writeImageReports({ ...req, result, headers, skipped, algorithm: { name: manifest.name, version: manifest.version, modelId: manifest.id }, operatingPoint: threshold(manifest, 'detection') });
  endWriters();
  return { result, context: readStudyContext(first.parsed), objects, skipped, reports };
}

/**
 * The DICOM objects of an image study's result: a SEG per image with findings (each its own
 * series), the TID 1500 SR and, where the pipeline reports one, the Mammography CAD SR; each SR
 * names the one it replaces. Used by an analysis and by a reader's correction of one.
 */
export function writeImageReports(req: {
  pipeline: InstancePipeline;
  result: StudyResult;
  /** The analysed images' headers, by SOP Instance UID. */
  headers: ReadonlyMap<string, NaturalizedDataset>;
  algorithm: AlgorithmInfo;
  operatingPoint: number;
  config: Pick<Config, 'output'>;
  newUid: () => string;
  now: Date;
  predecessors?: DocumentRef[];
  skipped?: SkippedFile[];
  reader?: Reader;
}): { objects: Output[]; reports: DocumentRef[] } {
  const { pipeline, result, headers, algorithm } = req;
  const skipped = req.skipped ?? [];
  const objects: Output[] = [];
  const segments = new Map<string, SegmentRef>();
  for (const image of result.images) {
    // One series per SEG: OHIF 3.13 shows one SEG per series (its last instance) and would
    // hide the findings of every other image of the study.
    const seriesInstanceUid = req.newUid();
    const sopInstanceUid = req.newUid();
    const seg = buildImageSeg({
      source: headers.get(image.image.sopInstanceUid) as NaturalizedDataset,
      image,
      series: { seriesInstanceUid, seriesNumber: req.config.output.seriesNumber, instanceNumber: 1, sopInstanceUid },
      algorithm,
      reader: req.reader,
      now: req.now,
    });
    if (!seg) continue;
    objects.push(output('dicom', 'SEG', sopInstanceUid, seg));
    const ref = { studyInstanceUid: result.studyInstanceUid, seriesInstanceUid, sopClassUid: SopClass.Segmentation, sopInstanceUid };
    image.findings.forEach((f, i) => segments.set(f.trackingUid, { seg: ref, segmentNumber: i + 1 }));
  }
  const srSeries = req.newUid();
  const srUid = req.newUid();
  const analysed = new Set(result.images.map((i) => i.image.sopInstanceUid));
  const sources = [...headers.entries()].filter(([uid]) => analysed.has(uid)).map(([, h]) => h);
  objects.push(output('dicom', 'SR', srUid, buildTid1500Report({
    sources,
    result,
    series: { seriesInstanceUid: srSeries, seriesNumber: req.config.output.seriesNumber + 1, instanceNumber: 1, sopInstanceUid: srUid },
    algorithm,
    reporting: pipeline.reporting,
    predecessor: req.predecessors?.find((d) => d.sopClassUid !== SopClass.MammographyCadSR),
    segments,
    outlineImagesWithoutFindings: true,
    skipped,
    reader: req.reader,
    now: req.now,
  })));
  const reports: DocumentRef[] = [{ studyInstanceUid: result.studyInstanceUid, seriesInstanceUid: srSeries, sopClassUid: tid1500SopClass(allFindings(result)), sopInstanceUid: srUid }];
  if (pipeline.reporting.cadReport === 'mammography') {
    const cadSeries = req.newUid();
    const cadUid = req.newUid();
    objects.push(output('dicom', 'CAD SR', cadUid, buildMammographyCadReport({
      sources,
      result,
      series: { seriesInstanceUid: cadSeries, seriesNumber: req.config.output.seriesNumber + 2, instanceNumber: 1, sopInstanceUid: cadUid },
      algorithm,
      operatingPoint: req.operatingPoint,
      predecessor: req.predecessors?.find((d) => d.sopClassUid === SopClass.MammographyCadSR),
      now: req.now,
    })));
    reports.push({ studyInstanceUid: result.studyInstanceUid, seriesInstanceUid: cadSeries, sopClassUid: SopClass.MammographyCadSR, sopInstanceUid: cadUid });
  }
  return { objects, reports };
}
