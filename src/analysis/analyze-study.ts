// From the Part 10 files of one study to everything Sentinel hands back: the StudyResult,
// a SEG per image with findings, one TID 1500 SR, and the HL7 ORU^R01. No network, no
// database: the worker and the offline `sentinel analyze` both call this.
import type { Config } from '../config/schema';
import { SentinelError } from '../errors/errors';
import { readStudyContext } from '../dicom/read';
import { type NaturalizedDataset, readNaturalizedHeader } from '../dicom/write';
import type { LoadedModel } from '../inference/registry';
import { PIPELINES, assertModelFits } from '../pipelines/declarations';
import type { PipelineName, StudyContext, StudyResult } from '../pipelines/findings';
import { summarizeStudy } from '../pipelines/mammography/summarize';
import { oruForStudy } from '../reports/hl7/oru-r01';
import { buildMammographySeg } from '../reports/seg/mammography';
import { buildTid1500Report } from '../reports/sr/tid1500';
import { type SkippedFile, type StudyImage, analyzeStudyImages, readStudyImages } from './study-images';

export type { SkippedFile } from './study-images';

export interface AnalysisRequest {
  pipeline: PipelineName;
  files: Uint8Array[];
  model: LoadedModel;
  config: Pick<Config, 'hl7' | 'output'>;
  newUid: () => string;
  now: Date;
}

export interface DicomOutput {
  label: 'SEG' | 'SR';
  sopInstanceUid: string;
  seriesInstanceUid: string;
  bytes: Buffer;
}

export interface AnalysisOutput {
  result: StudyResult;
  context: StudyContext;
  dicom: DicomOutput[];
  hl7: { controlId: string; text: string };
  /** Files of the study that could not be analysed, and why. */
  skipped: SkippedFile[];
}

/**
 * A study with nothing left to analyse fails for good (bad_request is never retried): the
 * same files would give the same answer, and the reasons say what to fix before a retry.
 */
export function nothingToAnalyse(pipeline: PipelineName, skipped: SkippedFile[]): SentinelError {
  const label = PIPELINES[pipeline].label;
  if (skipped.length === 0) return new SentinelError('bad_request', `the study holds no instance for the ${label} pipeline: nothing to analyse`);
  return new SentinelError('bad_request', `no image of the study could be analysed by the ${label} pipeline: ${skipped.map((s) => s.reason).join('; ')}`);
}

export async function analyzeStudy(req: AnalysisRequest): Promise<AnalysisOutput> {
  assertModelFits(req.pipeline, req.model.manifest);
  if (req.pipeline === 'wsi') {
    throw new SentinelError('unsupported', 'whole-slide studies are analysed tile by tile from the PACS (analyzeSlideStudy), not from whole files');
  }
  const { images, skipped } = readStudyImages(req.files, req.pipeline);
  if (images.length === 0) throw nothingToAnalyse(req.pipeline, skipped);
  const studies = new Set(images.map((i) => i.parsed.studyInstanceUid));
  if (studies.size > 1) throw new SentinelError('bad_request', `files from ${studies.size} different studies given as one study`);

  const perImage = await analyzeStudyImages(req.pipeline, images, req.model, req.newUid, skipped);
  if (perImage.length === 0) throw nothingToAnalyse(req.pipeline, skipped);

  const manifest = req.model.manifest;
  const first = images[0] as StudyImage;
  const context = readStudyContext(first.parsed);
  const result: StudyResult = {
    studyInstanceUid: first.parsed.studyInstanceUid,
    pipeline: req.pipeline,
    model: { id: manifest.id, version: manifest.version, name: manifest.name },
    ...summarizeStudy(perImage, manifest),
    images: perImage,
  };

  const headers = new Map<string, NaturalizedDataset>();
  for (const i of images) headers.set(i.parsed.sopInstanceUid, readNaturalizedHeader(i.bytes));
  const algorithm = { name: manifest.name, version: manifest.version, modelId: manifest.id };
  const dicom: DicomOutput[] = [];
  for (const image of result.images) {
    // One series per SEG: OHIF 3.13 shows one SEG per series (its last instance) and would
    // hide the findings of every other image of the study.
    const segSeries = req.newUid();
    const sopInstanceUid = req.newUid();
    const seg = buildMammographySeg({
      source: headers.get(image.image.sopInstanceUid) as NaturalizedDataset,
      image,
      series: { seriesInstanceUid: segSeries, seriesNumber: req.config.output.seriesNumber, instanceNumber: 1, sopInstanceUid },
      algorithm,
      now: req.now,
    });
    if (seg) dicom.push({ label: 'SEG', sopInstanceUid, seriesInstanceUid: segSeries, bytes: seg });
  }
  const srSeries = req.newUid();
  const srUid = req.newUid();
  const analysed = new Set(result.images.map((i) => i.image.sopInstanceUid));
  dicom.push({
    label: 'SR',
    sopInstanceUid: srUid,
    seriesInstanceUid: srSeries,
    bytes: buildTid1500Report({
      sources: [...headers.entries()].filter(([uid]) => analysed.has(uid)).map(([, h]) => h),
      result,
      series: { seriesInstanceUid: srSeries, seriesNumber: req.config.output.seriesNumber + 1, instanceNumber: 1, sopInstanceUid: srUid },
      algorithm,
      now: req.now,
    }),
  });

  const hl7 = oruForStudy(result, context, req.config.hl7, req.now);
  return { result, context, dicom, hl7, skipped };
}
