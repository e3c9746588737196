// DICOM Segmentation (PS3.3 A.51) for one image with findings (a mammogram, an ultrasound
// image): one frame per finding, the finding's contour filled at the source image's size.
// MG images usually have no Frame of Reference,
// so the SEG references its source through ReferencedSeriesSequence and per-frame
// DerivationImageSequence/SourceImageSequence (what OHIF needs), with an identity
// PlaneOrientation in the shared groups (OHIF refuses a SEG over a single-frame image
// without it). Orthanc 1.10 cannot serve frames of a BINARY SEG whose Columns is not a
// multiple of 8, so such images get a FRACTIONAL SEG (8 bits, 0 or 255) instead.
import type { NaturalizedDataset } from '../../dicom/write';
import { writePart10 } from '../../dicom/write';
import { SopClass } from '../../dicom/uid';
import type { ImageResult } from '../../domain/findings';
import { Codes } from '../../domain/codes';
import { type AlgorithmInfo, type Reader, type SeriesInfo, equipment, lo, newInstance, patientAndStudy, personName, segmentDescription } from './common';
import { polygonBitFrames, rasterizePolygon } from './raster';
import { newUid } from '../../dicom/uid';

export interface ImageSegInput {
  source: NaturalizedDataset;
  image: ImageResult;
  series: SeriesInfo;
  algorithm: AlgorithmInfo;
  /** A reader's correction of the AI's findings: the reader is the content creator. */
  reader?: Reader;
  now?: Date;
}

function spacingOf(source: NaturalizedDataset): number[] | undefined {
  const s = (source.PixelSpacing ?? source.ImagerPixelSpacing) as number[] | number | undefined;
  if (Array.isArray(s) && s.length === 2) return s.map(Number);
  return undefined;
}

/** The SEG dataset, or undefined for an image without findings (nothing to draw). */
export function buildImageSegDataset(input: ImageSegInput): NaturalizedDataset | undefined {
  const { source, image, series, algorithm } = input;
  if (image.findings.length === 0) return undefined;
  const rows = image.image.rows;
  const columns = image.image.columns;
  const binary = columns % 8 === 0;
  const pixelData = binary
    ? polygonBitFrames(image.findings.map((f) => f.contour), rows, columns)
    : concatFractional(image.findings.map((f) => rasterizePolygon(f.contour, rows, columns)));
  const sourceRef = { ReferencedSOPClassUID: image.image.sopClassUid, ReferencedSOPInstanceUID: image.image.sopInstanceUid };
  const spacing = spacingOf(source);
  const dimensionOrganizationUid = newUid();
  const ds: NaturalizedDataset = {
    ...patientAndStudy(source),
    // Named by view (or, without one, by the image's number): each image's SEG is its own
    // series, listed side by side in a viewer.
    ...newInstance(SopClass.Segmentation, 'SEG', series, `Sentinel ${input.reader ? 'reader-corrected findings' : 'AI findings'} ${image.laterality || image.view ? `${image.laterality ?? ''}${image.view ?? ''}` : `image ${String(source.InstanceNumber ?? '')}`.trim()} (research use only)`, input.now ?? new Date()),
    ...equipment(algorithm, input.now),
    ImageType: ['DERIVED', 'PRIMARY'],
    ContentLabel: input.reader ? 'CORRECTED_FINDINGS' : 'AI_FINDINGS',
    ContentDescription: lo(`${input.reader ? `Reader-corrected AI findings (${input.reader.name})` : 'AI findings'} on ${image.laterality ?? ''}${image.view ?? 'image'}, ${algorithm.modelId} ${algorithm.version}`),
    ContentCreatorName: input.reader ? personName(input.reader.name) : 'Sentinel^AI',
    SegmentationType: binary ? 'BINARY' : 'FRACTIONAL',
    ...(binary ? {} : { SegmentationFractionalType: 'PROBABILITY', MaximumFractionalValue: 255 }),
    SegmentsOverlap: 'UNDEFINED',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: rows,
    Columns: columns,
    BitsAllocated: binary ? 1 : 8,
    BitsStored: binary ? 1 : 8,
    HighBit: binary ? 0 : 7,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    NumberOfFrames: image.findings.length,
    ReferencedSeriesSequence: [{
      SeriesInstanceUID: image.image.seriesInstanceUid,
      ReferencedInstanceSequence: [sourceRef],
    }],
    ...(source.FrameOfReferenceUID ? { FrameOfReferenceUID: source.FrameOfReferenceUID, PositionReferenceIndicator: '' } : {}),
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUid }],
    DimensionIndexSequence: [{
      DimensionOrganizationUID: dimensionOrganizationUid,
      DimensionIndexPointer: 0x0062000b,
      FunctionalGroupPointer: 0x0062000a,
      DimensionDescriptionLabel: 'Segment Number',
    }],
    SegmentSequence: image.findings.map((f, i) => segmentDescription(f, i + 1, algorithm)),
    SharedFunctionalGroupsSequence: [{
      PlaneOrientationSequence: [{ ImageOrientationPatient: [1, 0, 0, 0, 1, 0] }],
      // Without a known spacing the item still holds the slice thickness: OHIF 3.13 reads the
      // SEG's Pixel Measures unconditionally ("Cannot destructure property 'SpacingBetweenSlices'"),
      // and drops an empty item.
      PixelMeasuresSequence: [spacing ? { PixelSpacing: spacing, SliceThickness: 1 } : { SliceThickness: 1 }],
    }],
    PerFrameFunctionalGroupsSequence: image.findings.map((_f, i) => ({
      DerivationImageSequence: [{
        SourceImageSequence: [{ ...sourceRef, SpatialLocationsPreserved: 'YES', PurposeOfReferenceCodeSequence: [Codes.sourceImageForProcessing] }],
        DerivationCodeSequence: [Codes.segmentation],
      }],
      FrameContentSequence: [{ DimensionIndexValues: [i + 1] }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: i + 1 }],
    })),
    PixelData: [pixelData.buffer.slice(pixelData.byteOffset, pixelData.byteOffset + pixelData.byteLength)],
    _vrMap: { PixelData: 'OB' },
  };
  return ds;
}

function concatFractional(masks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(masks.reduce((n, m) => n + m.length, 0) + (masks.reduce((n, m) => n + m.length, 0) % 2));
  let o = 0;
  for (const m of masks) for (let i = 0; i < m.length; i++) out[o++] = m[i] ? 255 : 0;
  return out;
}

export function buildImageSeg(input: ImageSegInput): Buffer | undefined {
  const ds = buildImageSegDataset(input);
  return ds ? writePart10(ds) : undefined;
}
