// The files of one study as the pipeline's images, and each image through its pipeline. A
// file that cannot be analysed (unreadable, a SOP class the pipeline does not read, no
// pixels, a mammogram without a side, a frame that does not decode) is set aside with its
// reason and the others go on; the caller decides what a study with none left means.
import { SentinelError, describeError } from '../errors/errors';
import { type ParsedDicom, Tag, parseDicom, readImageAttributes } from '../dicom/read';
import { decodeFrame } from '../dicom/pixels/decode';
import { toDisplayGray8, toRgb8 } from '../dicom/pixels/display';
import type { LoadedModel } from '../inference/registry';
import { sopClassNotRead } from '../pipelines/declarations';
import type { ImageResult, PipelineName } from '../pipelines/findings';
import { analyzeMammogram } from '../pipelines/mammography/analyze';
import { analyzeUltrasoundImage } from '../pipelines/ultrasound/analyze';

/** A file of the study that was not analysed, and why (in words a person at the PACS can act on). */
export interface SkippedFile {
  sopInstanceUid?: string;
  reason: string;
}

export interface StudyImage {
  parsed: ParsedDicom;
  bytes: Uint8Array;
}

/** Our own errors already read as a sentence; anything else keeps its name, which says where it came from. */
export function reasonOf(err: unknown): string {
  return err instanceof SentinelError ? err.message : describeError(err);
}

/** A file parsed and checked against the SOP classes its pipeline reads, or why it is set aside. */
export function parseForPipeline(bytes: Uint8Array, pipeline: PipelineName): { parsed: ParsedDicom } | { skipped: SkippedFile } {
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
export function readStudyImages(files: Uint8Array[], pipeline: PipelineName): { images: StudyImage[]; skipped: SkippedFile[] } {
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

function imageRefOf(parsed: ParsedDicom): ImageResult['image'] {
  const desc = parsed.pixelDescription();
  return {
    studyInstanceUid: parsed.studyInstanceUid,
    seriesInstanceUid: parsed.seriesInstanceUid,
    sopInstanceUid: parsed.sopInstanceUid,
    sopClassUid: parsed.sopClassUid,
    rows: desc.rows,
    columns: desc.columns,
  };
}

/**
 * Each image analysed on its own; one that fails is skipped with its reason. The pipeline's
 * analyser for one image is chosen here so both pipelines share the skipping.
 */
export async function analyzeStudyImages(pipeline: 'mammography' | 'ultrasound', images: StudyImage[], model: LoadedModel, newUid: () => string, skipped: SkippedFile[]): Promise<ImageResult[]> {
  let next = 0;
  const ids = { newUid, nextTrackingId: () => `F${++next}` };
  const results: ImageResult[] = [];
  for (const { parsed } of images) {
    try {
      results.push(pipeline === 'mammography' ? await mammogram(parsed, model, ids) : await ultrasound(parsed, model));
    } catch (err) {
      skipped.push({ sopInstanceUid: parsed.sopInstanceUid, reason: reasonOf(err) });
    }
  }
  return results;
}

async function mammogram(parsed: ParsedDicom, model: LoadedModel, ids: { newUid: () => string; nextTrackingId: () => string }): Promise<ImageResult> {
  const desc = parsed.pixelDescription();
  if (desc.samplesPerPixel !== 1) throw new SentinelError('unsupported', `MG image with ${desc.samplesPerPixel} samples per pixel`);
  const attrs = readImageAttributes(parsed);
  // Skipped rather than analysed without a side: the per-breast scores, the SR's finding site
  // and the ORU's per-breast results all need it, and an image of no breast would raise the
  // study's score without saying where to look. Image Laterality is Type 1 in the MG IOD.
  if (!attrs.laterality) {
    const found = parsed.string(Tag.ImageLaterality) ?? parsed.string(Tag.Laterality);
    throw new SentinelError('bad_request', `the mammogram has no Image Laterality (0020,0062) L or R${found ? ` (it says "${found}")` : ''}: its findings could not be given a breast`);
  }
  const frame = await decodeFrame(parsed.frames()[0] as Uint8Array, parsed.transferSyntaxUid, desc);
  return analyzeMammogram({
    ref: imageRefOf(parsed),
    gray8: toDisplayGray8(frame, attrs),
    pixelSpacingMm: attrs.pixelSpacingMm,
    laterality: attrs.laterality,
    view: attrs.view,
  }, model, ids);
}

/** The first frame, as gray (colour Doppler or RGB-encoded images by luminance). */
async function ultrasound(parsed: ParsedDicom, model: LoadedModel): Promise<ImageResult> {
  const desc = parsed.pixelDescription();
  const attrs = readImageAttributes(parsed);
  const frame = await decodeFrame(parsed.frames()[0] as Uint8Array, parsed.transferSyntaxUid, desc);
  let gray8: Uint8Array;
  if (desc.samplesPerPixel === 3) {
    const rgb = toRgb8(frame);
    gray8 = new Uint8Array(desc.rows * desc.columns);
    for (let i = 0; i < gray8.length; i++) {
      gray8[i] = Math.round(0.299 * (rgb[3 * i] as number) + 0.587 * (rgb[3 * i + 1] as number) + 0.114 * (rgb[3 * i + 2] as number));
    }
  } else {
    gray8 = toDisplayGray8(frame, attrs);
  }
  return analyzeUltrasoundImage({ ref: imageRefOf(parsed), gray8, width: desc.columns, height: desc.rows, laterality: attrs.laterality }, model);
}
