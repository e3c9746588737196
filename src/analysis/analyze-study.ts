// From the Part 10 files of one study to everything Sentinel hands back: the StudyResult,
// a SEG per image with findings, one TID 1500 SR, and the HL7 ORU^R01. No network, no
// database: the worker and the offline `sentinel analyze` both call this.
import type { Config } from '../config/schema';
import { SentinelError, describeError } from '../errors/errors';
import { type ParsedDicom, parseDicom, readImageAttributes, readStudyContext } from '../dicom/read';
import { decodeFrame } from '../dicom/pixels/decode';
import { toDisplayGray8, toRgb8 } from '../dicom/pixels/display';
import { type NaturalizedDataset, readNaturalizedHeader } from '../dicom/write';
import type { LoadedModel } from '../inference/registry';
import type { ImageResult, PipelineName, StudyContext, StudyResult } from '../pipelines/findings';
import { analyzeMammogram } from '../pipelines/mammography/analyze';
import { analyzeUltrasoundImage } from '../pipelines/ultrasound/analyze';
import { summarizeStudy } from '../pipelines/mammography/summarize';
import { oruForStudy } from '../reports/hl7/oru-r01';
import { buildMammographySeg } from '../reports/seg/mammography';
import { buildTid1500Report } from '../reports/sr/tid1500';

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
  skipped: Array<{ sopInstanceUid?: string; reason: string }>;
}

interface Image {
  parsed: ParsedDicom;
  bytes: Uint8Array;
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

async function analyzeMammographyImages(images: Image[], req: AnalysisRequest, skipped: AnalysisOutput['skipped']): Promise<ImageResult[]> {
  let next = 0;
  const ids = { newUid: req.newUid, nextTrackingId: () => `F${++next}` };
  const results: ImageResult[] = [];
  for (const { parsed } of images) {
    try {
      const desc = parsed.pixelDescription();
      if (desc.samplesPerPixel !== 1) throw new SentinelError('unsupported', `MG image with ${desc.samplesPerPixel} samples per pixel`);
      const attrs = readImageAttributes(parsed);
      const frame = await decodeFrame(parsed.frames()[0] as Uint8Array, parsed.transferSyntaxUid, desc);
      const gray8 = toDisplayGray8(frame, attrs);
      results.push(await analyzeMammogram({
        ref: imageRefOf(parsed),
        gray8,
        pixelSpacingMm: attrs.pixelSpacingMm,
        laterality: attrs.laterality,
        view: attrs.view,
      }, req.model, ids));
    } catch (err) {
      skipped.push({ sopInstanceUid: parsed.sopInstanceUid, reason: describeError(err) });
    }
  }
  return results;
}

/** Ultrasound: each image's first frame, as gray (colour Doppler or RGB-encoded images by luminance). */
async function analyzeUltrasoundImages(images: Image[], req: AnalysisRequest, skipped: AnalysisOutput['skipped']): Promise<ImageResult[]> {
  const results: ImageResult[] = [];
  for (const { parsed } of images) {
    try {
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
      results.push(await analyzeUltrasoundImage({
        ref: imageRefOf(parsed),
        gray8,
        width: desc.columns,
        height: desc.rows,
        laterality: attrs.laterality,
      }, req.model));
    } catch (err) {
      skipped.push({ sopInstanceUid: parsed.sopInstanceUid, reason: describeError(err) });
    }
  }
  return results;
}

export async function analyzeStudy(req: AnalysisRequest): Promise<AnalysisOutput> {
  const skipped: AnalysisOutput['skipped'] = [];
  const images: Image[] = [];
  for (const bytes of req.files) {
    try {
      const parsed = parseDicom(bytes);
      if (!parsed.hasPixelData) continue;
      images.push({ parsed, bytes });
    } catch (err) {
      skipped.push({ reason: describeError(err) });
    }
  }
  if (images.length === 0) {
    throw new SentinelError('bad_request', `no readable image in the study${skipped.length ? `: ${skipped.map((s) => s.reason).join('; ')}` : ''}`);
  }
  const studies = new Set(images.map((i) => i.parsed.studyInstanceUid));
  if (studies.size > 1) throw new SentinelError('bad_request', `files from ${studies.size} different studies given as one study`);

  let perImage: ImageResult[];
  switch (req.pipeline) {
    case 'mammography':
      perImage = await analyzeMammographyImages(images, req, skipped);
      break;
    case 'ultrasound':
      perImage = await analyzeUltrasoundImages(images, req, skipped);
      break;
    case 'wsi':
      throw new SentinelError('unsupported', 'whole-slide studies are analysed tile by tile from the PACS (analyzeSlideStudy), not from whole files');
  }
  if (perImage.length === 0) {
    throw new SentinelError('bad_request', `no image of the study could be analysed: ${skipped.map((s) => s.reason).join('; ')}`);
  }

  const manifest = req.model.manifest;
  const first = images[0] as Image;
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
