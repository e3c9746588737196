// The ultrasound pipeline: each US image's first frame, as gray, through the whole-image
// classifier and, where a segmenter is installed, the lesion segmenter, whose components are
// the image's findings (outlined, with area and longest diameter); the study scored by its
// most suspicious image.
import { SopClass } from '../../dicom/uid';
import { Codes } from '../../domain/codes';
import type { ImageResult } from '../../domain/findings';
import { type ParsedDicom, readImageAttributes } from '../../dicom/read';
import { decodeFrame } from '../../dicom/pixels/decode';
import { luminance8, toDisplayGray8, toRgb8 } from '../../dicom/pixels/display';
import type { LoadedModel } from '../../inference/registry';
import type { Companions, FindingIds, InstancePipeline } from '../definition';
import { imageRefOf } from '../image-ref';
import { summarizeStudy } from '../mammography/summarize';
import { analyzeUltrasoundImage } from './analyze';
import { lesionFindings } from './lesions';
import { segmentUltrasound } from './segment';

/** The pixel spacing of the first ultrasound region calibrated in cm both ways, in mm; undefined without one. */
export function ultrasoundRegionSpacingMm(parsed: ParsedDicom): { dx: number; dy: number } | undefined {
  for (const item of parsed.dataSet.elements.x00186011?.items ?? []) {
    const ds = item.dataSet;
    if (!ds) continue;
    const ux = ds.uint16('x00186024');
    const uy = ds.uint16('x00186026');
    const dx = ds.double('x0018602c');
    const dy = ds.double('x0018602e');
    if (ux === 3 && uy === 3 && dx && dy && dx > 0 && dy > 0) return { dx: dx * 10, dy: dy * 10 };
  }
  return undefined;
}

/** The first frame, as gray (colour Doppler or RGB-encoded images by luminance). */
async function analyseImage(parsed: ParsedDicom, model: LoadedModel, ids: FindingIds, companions: Companions): Promise<ImageResult> {
  const desc = parsed.pixelDescription();
  const attrs = readImageAttributes(parsed);
  const frame = await decodeFrame(parsed.frames()[0] as Uint8Array, parsed.transferSyntaxUid, desc);
  const gray8 = desc.samplesPerPixel === 3 ? luminance8(toRgb8(frame)) : toDisplayGray8(frame, attrs);
  const ref = imageRefOf(parsed);
  const image = await analyzeUltrasoundImage({ ref, gray8, width: desc.columns, height: desc.rows, laterality: attrs.laterality }, model);
  const segmenter = companions.segmenter;
  if (!segmenter) return image;
  const seg = await segmentUltrasound({ gray8, width: desc.columns, height: desc.rows }, segmenter);
  const code = segmenter.manifest.outputs.find((o) => o.role === 'segmentation_probability')?.findingCode;
  return { ...image, findings: lesionFindings(seg, ref, image.score, ultrasoundRegionSpacingMm(parsed), ids, code) };
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
  companions: { segmenter: 'ultrasound-segmentation' },
  input: 'instances',
  analyseImage,
  summarise: summarizeStudy,
  reporting: {
    procedure: Codes.breastUltrasound,
    oruService: { code: 'SEN-US-AI', text: 'AI analysis of breast ultrasound' },
  },
};
