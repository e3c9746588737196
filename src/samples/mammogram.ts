// Sample Digital Mammography X-Ray Image (For Presentation) files with known truth, for the
// demo and the tests: synthetic breasts with round lesions, or real 8-bit film scans (e.g.
// mini-MIAS PNGs) wrapped as MG. Valid by dciodvfy; no VOI LUT Function attribute, which
// OHIF 3.13.2 mishandles for MG (draws black).
import sharp from 'sharp';
import { newUid, SopClass } from '../dicom/uid';
import { type NaturalizedDataset, writePart10 } from '../dicom/write';
import { type SyntheticLesion, drawSyntheticBreast } from './synthetic-breast';

export interface SampleStudy {
  studyInstanceUid: string;
  accessionNumber: string;
  patientId: string;
  patientName: string;
  patientBirthDate?: string;
  studyDate?: string;
  studyDescription?: string;
}

export interface SampleImage {
  laterality: 'L' | 'R';
  view: 'CC' | 'MLO';
  seriesInstanceUid?: string;
  seriesNumber?: number;
  instanceNumber?: number;
  sopInstanceUid?: string;
}

/**
 * The patient, study and equipment attributes every sample image carries, with the study's
 * date (today unless the study gives one) and the time of day the sample was "acquired".
 */
export function sampleStudyAttributes(study: SampleStudy, time: string): { date: string; attributes: NaturalizedDataset } {
  const date = study.studyDate ?? new Date().toISOString().slice(0, 10).replace(/-/g, '');
  return {
    date,
    attributes: {
      SpecificCharacterSet: 'ISO_IR 192',
      StudyInstanceUID: study.studyInstanceUid,
      StudyDate: date,
      StudyTime: time,
      AccessionNumber: study.accessionNumber,
      Manufacturer: 'Sentinel sample generator',
      ReferringPhysicianName: '',
      PatientName: study.patientName,
      PatientID: study.patientId,
      PatientBirthDate: study.patientBirthDate ?? '19650101',
      PatientSex: 'F',
      StudyID: '1',
    },
  };
}

const VIEW_CODES = {
  CC: { CodeValue: '399162004', CodingSchemeDesignator: 'SCT', CodeMeaning: 'cranio-caudal' },
  MLO: { CodeValue: '399368009', CodingSchemeDesignator: 'SCT', CodeMeaning: 'medio-lateral oblique' },
} as const;

function patientOrientation(laterality: 'L' | 'R', view: 'CC' | 'MLO'): string[] {
  // Chest wall on the image side of the breast: rows run toward the nipple (A) for R, away (P) for L.
  const row = laterality === 'R' ? 'A' : 'P';
  const col = view === 'CC' ? (laterality === 'R' ? 'R' : 'L') : (laterality === 'R' ? 'FR' : 'FL');
  return [row, col];
}

export function buildMammogramDataset(study: SampleStudy, image: SampleImage, pixels: { rows: number; columns: number; data: Uint16Array | Uint8Array; bits: number; spacingMm: number }): NaturalizedDataset {
  const { date, attributes } = sampleStudyAttributes(study, '090000');
  const max = (1 << pixels.bits) - 1;
  const bitsAllocated = pixels.bits > 8 ? 16 : 8;
  return {
    ...attributes,
    SOPClassUID: SopClass.DigitalMammographyForPresentation,
    SOPInstanceUID: image.sopInstanceUid ?? newUid(),
    SeriesInstanceUID: image.seriesInstanceUid ?? newUid(),
    SeriesDate: date,
    SeriesTime: '090000',
    ContentDate: date,
    ContentTime: '090000',
    AcquisitionDateTime: `${date}090000`,
    Modality: 'MG',
    PresentationIntentType: 'FOR PRESENTATION',
    StudyDescription: study.studyDescription ?? 'Screening mammography (sample)',
    SeriesDescription: `${image.laterality}${image.view}`,
    SeriesNumber: image.seriesNumber ?? 1,
    InstanceNumber: image.instanceNumber ?? 1,
    PatientOrientation: patientOrientation(image.laterality, image.view),
    ImageLaterality: image.laterality,
    ImageType: ['ORIGINAL', 'PRIMARY', ''],
    ViewCodeSequence: [{ ...VIEW_CODES[image.view], ViewModifierCodeSequence: [] }],
    AnatomicRegionSequence: [{ CodeValue: '76752008', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Breast' }],
    BodyPartExamined: 'BREAST',
    PositionerType: 'MAMMOGRAPHIC',
    OrganExposed: 'BREAST',
    BreastImplantPresent: 'NO',
    PartialView: 'NO',
    DetectorType: 'DIRECT',
    ImagerPixelSpacing: [pixels.spacingMm, pixels.spacingMm],
    PixelIntensityRelationship: 'LOG',
    PixelIntensityRelationshipSign: 1,
    RescaleIntercept: 0,
    RescaleSlope: 1,
    RescaleType: 'US',
    WindowCenter: Math.round(max / 2),
    WindowWidth: max + 1,
    PresentationLUTShape: 'IDENTITY',
    BurnedInAnnotation: 'NO',
    LossyImageCompression: '00',
    QualityControlImage: 'NO',
    AcquisitionContextSequence: [],
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: pixels.rows,
    Columns: pixels.columns,
    BitsAllocated: bitsAllocated,
    BitsStored: pixels.bits,
    HighBit: pixels.bits - 1,
    PixelRepresentation: 0,
    PixelData: [pixels.data.buffer.slice(pixels.data.byteOffset, pixels.data.byteOffset + pixels.data.byteLength)],
    _vrMap: { PixelData: bitsAllocated > 8 ? 'OW' : 'OB' },
  };
}

export function buildSyntheticMammogram(study: SampleStudy, image: SampleImage, opts: { rows?: number; columns?: number; spacingMm?: number; lesions?: SyntheticLesion[]; seed?: number } = {}): Buffer {
  const rows = opts.rows ?? 1024;
  const columns = opts.columns ?? 800;
  const data = drawSyntheticBreast({ rows, columns, laterality: image.laterality, lesions: opts.lesions, seed: opts.seed, bits: 12 });
  return writePart10(buildMammogramDataset(study, image, { rows, columns, data, bits: 12, spacingMm: opts.spacingMm ?? 0.2 }));
}

/** A real 8-bit grayscale film scan (PNG/JPEG) as an MG image. */
export async function mammogramFromImage(file: string, study: SampleStudy, image: SampleImage, spacingMm: number): Promise<Buffer> {
  const { data, info } = await sharp(file).greyscale().raw().toBuffer({ resolveWithObject: true });
  const pixels = new Uint8Array(data.buffer, data.byteOffset, info.width * info.height);
  return writePart10(buildMammogramDataset(study, image, { rows: info.height, columns: info.width, data: pixels, bits: 8, spacingMm }));
}
