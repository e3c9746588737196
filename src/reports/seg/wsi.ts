// DICOM Segmentation (PS3.3 A.51) over a whole-slide image: the tumour probability map as a
// FRACTIONAL (PROBABILITY) segment, TILED_SPARSE with only the tiles that hold analysed
// tissue, at the pixel spacing and total pixel matrix of one of the source's pyramid levels,
// in the source's Frame of Reference, with the source's container and specimen description
// so slide viewers (Slim) put it over the slide. Per frame: the plane position in the total
// pixel matrix and in slide coordinates, the segment, and the source frame it was derived
// from; the dimension index is segment number, column position, row position.
//
// The map is sampled tile by tile from the heatmap (nearest cell), so memory is one tile plus
// the heatmap whatever the slide's size.
import { SopClass, newUid } from '../../dicom/uid';
import { type NaturalizedDataset, writePart10 } from '../../dicom/write';
import { type Code, Codes } from '../../domain/codes';
import { type AlgorithmInfo, type SeriesInfo, equipment, lo, newInstance, patientAndStudy, segmentAlgorithm } from './common';
import { SentinelError } from '../../errors/errors';

/** A probability per heatmap cell; NaN where nothing was analysed (no tissue). */
import type { SlideLevel } from '../../wsi/slide';
export interface SlideHeatmap {
  rows: number;
  columns: number;
  values: Float32Array;
  /** Size of one cell in mm (square), measured from the total pixel matrix origin. */
  cellMm: number;
}

/** What a writer references of one pyramid level of the source slide. */
export interface LevelRef {
  /** Header of the level's (first) instance: patient, study, frame of reference, specimen... */
  source: NaturalizedDataset;
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  /** The source frame covering a pixel of this level, for DerivationImageSequence; absent when unknown. */
  sourceFrameAt?: (column: number, row: number) => { sopInstanceUid: string; frameNumber: number } | undefined;
}

/** The pyramid level the SEG is aligned with (one of the source's levels): its reference and its size and spacing. */
export type SegLevel = LevelRef & Pick<SlideLevel, 'totalPixelMatrixRows' | 'totalPixelMatrixColumns' | 'pixelSpacingMm'>;

export interface SlideSegInput {
  level: SegLevel;
  heatmap: SlideHeatmap;
  /** Slide coordinates (mm) of the centre of level pixel (column, row), 0-based (the frame position convention). */
  toSlideMm: (column: number, row: number) => { x: number; y: number; z: number };
  trackingUid: string;
  /** What the map is the probability of (the model's findingCode). */
  finding: Code;
  series: SeriesInfo;
  algorithm: AlgorithmInfo;
  /** SEG tile size; a multiple of 8 (Orthanc cannot serve 1-bit frames otherwise). */
  tileSize?: number;
  now?: Date;
}

const SPECIMEN_AND_SLIDE = [
  'ContainerIdentifier', 'IssuerOfTheContainerIdentifierSequence', 'AlternateContainerIdentifierSequence',
  'ContainerTypeCodeSequence', 'ContainerDescription', 'ContainerComponentSequence', 'SpecimenDescriptionSequence',
  'ImageOrientationSlide', 'TotalPixelMatrixOriginSequence',
];

/** Value of the probability map at a level pixel, 0..255, or -1 outside the analysed tissue. */
function sampler(heatmap: SlideHeatmap, spacing: readonly [number, number]): (column: number, row: number) => number {
  const [dy, dx] = spacing;
  return (column, row) => {
    const j = Math.floor(((column + 0.5) * dx) / heatmap.cellMm);
    const i = Math.floor(((row + 0.5) * dy) / heatmap.cellMm);
    if (i < 0 || j < 0 || i >= heatmap.rows || j >= heatmap.columns) return -1;
    const v = heatmap.values[i * heatmap.columns + j] as number;
    return Number.isNaN(v) ? -1 : Math.max(0, Math.min(255, Math.round(v * 255)));
  };
}

export function buildSlideSegDataset(input: SlideSegInput): NaturalizedDataset | undefined {
  const { level, heatmap, series, algorithm } = input;
  const tile = input.tileSize ?? 256;
  if (tile % 8 !== 0) throw new SentinelError('bad_request', `SEG tile size ${tile} is not a multiple of 8`);
  const src = level.source;
  if (!src.FrameOfReferenceUID) throw new SentinelError('bad_request', 'the source slide has no FrameOfReferenceUID; a slide SEG must share it');
  const sample = sampler(heatmap, level.pixelSpacingMm);

  // Only tiles with analysed tissue are written (TILED_SPARSE).
  const frames: Array<{ row: number; column: number; pixels: Uint8Array }> = [];
  for (let r0 = 0; r0 < level.totalPixelMatrixRows; r0 += tile) {
    for (let c0 = 0; c0 < level.totalPixelMatrixColumns; c0 += tile) {
      const pixels = new Uint8Array(tile * tile);
      let any = false;
      for (let y = 0; y < tile && r0 + y < level.totalPixelMatrixRows; y++) {
        for (let x = 0; x < tile && c0 + x < level.totalPixelMatrixColumns; x++) {
          const v = sample(c0 + x, r0 + y);
          if (v >= 0) {
            any = true;
            pixels[y * tile + x] = v;
          }
        }
      }
      if (any) frames.push({ row: r0, column: c0, pixels });
    }
  }
  if (frames.length === 0) return undefined;

  const pixelData = new Uint8Array(frames.length * tile * tile);
  frames.forEach((f, k) => pixelData.set(f.pixels, k * tile * tile));
  const organization = newUid();
  const sourceRef = { ReferencedSOPClassUID: level.sopClassUid, ReferencedSOPInstanceUID: level.sopInstanceUid };
  const copied: NaturalizedDataset = {};
  for (const k of SPECIMEN_AND_SLIDE) if (src[k] !== undefined) copied[k] = src[k];
  const origin = input.toSlideMm(0, 0);
  copied.TotalPixelMatrixOriginSequence ??= [{ XOffsetInSlideCoordinateSystem: origin.x, YOffsetInSlideCoordinateSystem: origin.y }];
  copied.ImageOrientationSlide ??= [0, -1, 0, -1, 0, 0];
  const dimension = (pointer: number, group: number, label: string): NaturalizedDataset => ({
    DimensionOrganizationUID: organization, DimensionIndexPointer: pointer, FunctionalGroupPointer: group, DimensionDescriptionLabel: label,
  });

  return {
    ...patientAndStudy(src),
    ...copied,
    ...newInstance(SopClass.Segmentation, 'SEG', series, 'Sentinel AI tumour map (research use only)', input.now ?? new Date()),
    ...equipment(algorithm, input.now),
    ImageType: ['DERIVED', 'PRIMARY'],
    // General Image, Type 2C: a slide has no patient orientation, so it is present and empty.
    PatientOrientation: '',
    ContentLabel: 'AI_TUMOUR_MAP',
    ContentDescription: lo(`AI tumour probability, ${algorithm.modelId} ${algorithm.version}`),
    ContentCreatorName: 'Sentinel^AI',
    FrameOfReferenceUID: src.FrameOfReferenceUID,
    PositionReferenceIndicator: src.PositionReferenceIndicator ?? 'SLIDE_CORNER',
    SegmentationType: 'FRACTIONAL',
    SegmentationFractionalType: 'PROBABILITY',
    MaximumFractionalValue: 255,
    SegmentsOverlap: 'NO',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: tile,
    Columns: tile,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    NumberOfFrames: frames.length,
    TotalPixelMatrixRows: level.totalPixelMatrixRows,
    TotalPixelMatrixColumns: level.totalPixelMatrixColumns,
    TotalPixelMatrixFocalPlanes: 1,
    DimensionOrganizationType: 'TILED_SPARSE',
    ReferencedSeriesSequence: [{ SeriesInstanceUID: level.seriesInstanceUid, ReferencedInstanceSequence: [sourceRef] }],
    SourceImageSequence: [sourceRef],
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: organization }],
    DimensionIndexSequence: [
      dimension(0x0062000b, 0x0062000a, 'Segment Number'),
      dimension(0x0048021e, 0x0048021a, 'Column Position In Total Image Pixel Matrix'),
      dimension(0x0048021f, 0x0048021a, 'Row Position In Total Image Pixel Matrix'),
    ],
    SegmentSequence: [{
      SegmentNumber: 1,
      SegmentLabel: 'AI tumour probability',
      SegmentDescription: `Probability of ${input.finding.CodeMeaning.toLowerCase()} per tile (research use only)`,
      SegmentedPropertyCategoryCodeSequence: [Codes.morphologicallyAlteredStructure],
      SegmentedPropertyTypeCodeSequence: [input.finding],
      ...segmentAlgorithm(algorithm),
      TrackingID: 'AI tumour map',
      TrackingUID: input.trackingUid,
      RecommendedDisplayCIELabValue: [54534, 48379, 6554],
    }],
    SharedFunctionalGroupsSequence: [{
      PixelMeasuresSequence: [{ PixelSpacing: [...level.pixelSpacingMm], SliceThickness: Number(src.SliceThickness ?? 0.001) || 0.001 }],
    }],
    PerFrameFunctionalGroupsSequence: frames.map((f) => {
      const at = input.toSlideMm(f.column, f.row);
      const from = level.sourceFrameAt?.(f.column, f.row);
      return {
        ...(from ? {
          DerivationImageSequence: [{
            SourceImageSequence: [{
              ReferencedSOPClassUID: level.sopClassUid,
              ReferencedSOPInstanceUID: from.sopInstanceUid,
              ReferencedFrameNumber: from.frameNumber,
              SpatialLocationsPreserved: 'NO',
              PurposeOfReferenceCodeSequence: [Codes.sourceImageForProcessing],
            }],
            DerivationCodeSequence: [Codes.segmentation],
          }],
        } : {}),
        FrameContentSequence: [{ DimensionIndexValues: [1, f.column + 1, f.row + 1] }],
        PlanePositionSlideSequence: [{
          XOffsetInSlideCoordinateSystem: round6(at.x),
          YOffsetInSlideCoordinateSystem: round6(at.y),
          ZOffsetInSlideCoordinateSystem: round6(at.z),
          ColumnPositionInTotalImagePixelMatrix: f.column + 1,
          RowPositionInTotalImagePixelMatrix: f.row + 1,
        }],
        SegmentIdentificationSequence: [{ ReferencedSegmentNumber: 1 }],
      };
    }),
    PixelData: [pixelData.buffer],
    _vrMap: { PixelData: 'OB' },
  };
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

export function buildSlideSeg(input: SlideSegInput): Buffer | undefined {
  const ds = buildSlideSegDataset(input);
  return ds ? writePart10(ds) : undefined;
}
