// The ultrasound pipeline: each US image's first frame, as gray, through the whole-image
// classifier; the study scored by its most suspicious image.
import { SopClass } from '../../dicom/uid';
import { Codes } from '../../domain/codes';
import type { ImageResult } from '../../domain/findings';
import { type ParsedDicom, readImageAttributes } from '../../dicom/read';
import { decodeFrame } from '../../dicom/pixels/decode';
import { toDisplayGray8, toRgb8 } from '../../dicom/pixels/display';
import type { LoadedModel } from '../../inference/registry';
import type { InstancePipeline } from '../definition';
import { imageRefOf } from '../image-ref';
import { summarizeStudy } from '../mammography/summarize';
import { analyzeUltrasoundImage } from './analyze';

/** The first frame, as gray (colour Doppler or RGB-encoded images by luminance). */
async function analyseImage(parsed: ParsedDicom, model: LoadedModel): Promise<ImageResult> {
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

export const ultrasound: InstancePipeline<'ultrasound'> = {
  name: 'ultrasound',
  label: 'ultrasound',
  modalities: ['US'],
  // src/samples writes Ultrasound Image Storage; a multi-frame clip is read by its first frame.
  sopClasses: {
    [SopClass.UltrasoundImage]: 'Ultrasound Image Storage',
    '1.2.840.10008.5.1.4.1.1.3.1': 'Ultrasound Multi-frame Image Storage',
  },
  task: 'ultrasound-classification',
  modality: 'US',
  input: 'instances',
  analyseImage,
  summarise: summarizeStudy,
  reporting: {
    procedure: Codes.breastUltrasound,
    oruService: { code: 'SEN-US-AI', text: 'AI analysis of breast ultrasound' },
  },
};
