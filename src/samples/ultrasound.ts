// Sample breast ultrasound images (US Image Storage) from ordinary 8-bit pictures, e.g. the
// BUSI PNGs, for the demo and the tests. Valid by dciodvfy.
import sharp from 'sharp';
import { SopClass, newUid } from '../dicom/uid';
import { type NaturalizedDataset, writePart10 } from '../dicom/write';
import { type SampleStudy, sampleStudyAttributes } from './mammogram';

export function buildUltrasoundDataset(study: SampleStudy, image: { seriesInstanceUid?: string; instanceNumber?: number; sopInstanceUid?: string; laterality?: 'L' | 'R'; regionSpacingMm?: number }, pixels: { rows: number; columns: number; data: Uint8Array }): NaturalizedDataset {
  const { date, attributes } = sampleStudyAttributes(study, '100000');
  // A calibrated region over the whole image (US Region Calibration module), as scanners write
  // them: a 2-D tissue region, physical units cm (3) both ways.
  const region = image.regionSpacingMm ? {
    SequenceOfUltrasoundRegions: [{
      RegionSpatialFormat: 1,
      RegionDataType: 1,
      RegionFlags: 0,
      RegionLocationMinX0: 0,
      RegionLocationMinY0: 0,
      RegionLocationMaxX1: pixels.columns - 1,
      RegionLocationMaxY1: pixels.rows - 1,
      PhysicalUnitsXDirection: 3,
      PhysicalUnitsYDirection: 3,
      PhysicalDeltaX: image.regionSpacingMm / 10,
      PhysicalDeltaY: image.regionSpacingMm / 10,
    }],
  } : {};
  return {
    ...region,
    ...attributes,
    SOPClassUID: SopClass.UltrasoundImage,
    SOPInstanceUID: image.sopInstanceUid ?? newUid(),
    SeriesInstanceUID: image.seriesInstanceUid ?? newUid(),
    ContentDate: date,
    ContentTime: '100000',
    Modality: 'US',
    StudyDescription: study.studyDescription ?? 'Breast ultrasound (sample)',
    SeriesDescription: 'Breast US',
    SeriesNumber: 1,
    InstanceNumber: image.instanceNumber ?? 1,
    PatientOrientation: '',
    ...(image.laterality ? { Laterality: image.laterality } : {}),
    BodyPartExamined: 'BREAST',
    ImageType: ['ORIGINAL', 'PRIMARY', '', ''],
    BurnedInAnnotation: 'NO',
    LossyImageCompression: '00',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: pixels.rows,
    Columns: pixels.columns,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    PixelData: [pixels.data.buffer.slice(pixels.data.byteOffset, pixels.data.byteOffset + pixels.data.byteLength)],
    _vrMap: { PixelData: 'OB' },
  };
}

/** An 8-bit picture (PNG/JPEG) as a US image. */
export async function ultrasoundFromImage(file: string, study: SampleStudy, image: Parameters<typeof buildUltrasoundDataset>[1] = {}): Promise<Buffer> {
  const { data, info } = await sharp(file).greyscale().raw().toBuffer({ resolveWithObject: true });
  return writePart10(buildUltrasoundDataset(study, image, { rows: info.height, columns: info.width, data: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height) }));
}
