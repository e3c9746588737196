// The mammography pipeline: each MG image (For Presentation or For Processing) through the
// lesion detector in windows, findings per breast, the study scored by its most suspicious image.
import { SopClass } from '../../dicom/uid';
import { Codes } from '../../domain/codes';
import type { ImageResult } from '../../domain/findings';
import { type ParsedDicom, readImageAttributes } from '../../dicom/read';
import { Tag } from '../../dicom/tags';
import { decodeFrame } from '../../dicom/pixels/decode';
import { toDisplayGray8 } from '../../dicom/pixels/display';
import { SentinelError } from '../../errors/errors';
import type { LoadedModel } from '../../inference/registry';
import { type FindingIds, type InstancePipeline } from '../definition';
import { imageRefOf } from '../image-ref';
import { analyzeMammogram } from './analyze';
import { summarizeStudy } from './summarize';

async function analyseImage(parsed: ParsedDicom, model: LoadedModel, ids: FindingIds): Promise<ImageResult> {
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

export const mammography: InstancePipeline<'mammography'> = {
  name: 'mammography',
  label: 'mammography',
  modalities: ['MG'],
  // src/samples writes For Presentation (synthetic and mini-MIAS films); For Processing is read the same way.
  sopClasses: {
    [SopClass.DigitalMammographyForPresentation]: 'Digital Mammography X-Ray Image Storage - For Presentation',
    [SopClass.DigitalMammographyForProcessing]: 'Digital Mammography X-Ray Image Storage - For Processing',
  },
  task: 'mammography-lesion-detection',
  modality: 'MG',
  input: 'instances',
  analyseImage,
  summarise: summarizeStudy,
  reporting: {
    procedure: Codes.mammography,
    oruService: { code: 'SEN-MG-AI', text: 'AI analysis of mammography' },
    cadReport: 'mammography',
  },
};
