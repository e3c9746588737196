// A whole-slide image as the reader sees it, built from DICOMweb series metadata (DICOM
// JSON) alone: the pyramid levels finest first, each with its tile grid, pixel spacing,
// transfer syntax and a frame index (which instance and frame holds tile (row, column)),
// the slide's identity (frame of reference, container, specimen, optical paths) and the
// mapping from a level's pixels to the Slide Coordinate System in millimetres
// (PS3.3 C.8.12.2 and C.8.12.4.1.4; geometry.ts), each level's frame index (frame-index.ts),
// its instances (instance.ts). No pixel data is touched here; tiles.ts fetches tiles.
import type { PixelDescription } from '../dicom/read';
import { SopClass } from '../dicom/uid';
import { type DicomJson, hasTag, items, num, str } from '../dicom/json';
import { SentinelError } from '../errors/errors';
import { Tag } from '../dicom/tags';
import { type DimensionOrganization, type FrameLocation, type FrameSelector, type TilePosition, dimensionOrganization, frameIndex, frameSets } from './frame-index';
import { type SlidePoint, orientationOf, originOf, pixelSpacingOf, pixelToSlideCoordinates, slideToPixelCoordinates } from './geometry';
import { type SlideInstance, badSlide, toInstance } from './instance';


export interface SlideLevel {
  /** 0 = finest. */
  readonly index: number;
  readonly studyInstanceUid: string;
  /** Series of the level's first instance (a level normally lives in one series). */
  readonly seriesInstanceUid: string;
  readonly instances: readonly SlideInstance[];
  readonly totalPixelMatrixRows: number;
  readonly totalPixelMatrixColumns: number;
  /** Rows and Columns of one frame (tile). */
  readonly tileRows: number;
  readonly tileColumns: number;
  /** Size of the tile grid: number of tile rows and tile columns. */
  readonly tileGridRows: number;
  readonly tileGridColumns: number;
  /** Frames of all the level's instances together. */
  readonly numberOfFrames: number;
  readonly dimensionOrganizationType: DimensionOrganization;
  /** Pixel Spacing (0028,0030): [between rows (vertical), between columns (horizontal)], mm. */
  readonly pixelSpacingMm: readonly [number, number];
  /** One number for comparing levels: the mean of the two spacings, mm. */
  readonly spacingMm: number;
  /** When the metadata carries it (file meta or Available Transfer Syntax UID); tiles.ts otherwise recognises each frame. */
  readonly transferSyntaxUid?: string;
  readonly photometricInterpretation: string;
  readonly samplesPerPixel: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly pixelRepresentation: number;
  readonly planarConfiguration: number;
  readonly imageType: readonly string[];
  readonly opticalPathIdentifiers: readonly string[];
  readonly focalPlanes: number;
  /** Total Pixel Matrix Origin: slide position of pixel (column 0, row 0). */
  readonly origin: SlidePoint;
  readonly imageOrientationSlide: readonly [number, number, number, number, number, number];
  /** The frame holding tile (tileRow, tileColumn), 0-based; undefined outside the grid or where TILED_SPARSE has no frame. */
  frameAt(tileRow: number, tileColumn: number, select?: FrameSelector): FrameLocation | undefined;
  /** Tiles that have a frame (every grid cell for TILED_FULL), row by row. */
  availableTiles(select?: FrameSelector): TilePosition[];
  /**
   * Slide coordinates of a point of this level's total pixel matrix. (column, row) are 0-based
   * pixel indices; (0, 0) is the centre of the top left pixel, the Total Pixel Matrix Origin;
   * fractions are allowed (the top left corner of the matrix is (-0.5, -0.5)).
   */
  pixelToSlide(column: number, row: number): SlidePoint;
  /** Inverse of pixelToSlide in the slide plane (z ignored). */
  slideToPixel(xMm: number, yMm: number): { column: number; row: number };
  /** Pixel description of one frame, for decodeFrame. */
  pixelDescription(): PixelDescription;
}

export interface AssociatedImage {
  /** ImageType value 3: LABEL, OVERVIEW, THUMBNAIL (or another non-VOLUME value). */
  kind: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  rows: number;
  columns: number;
  totalPixelMatrixRows?: number;
  totalPixelMatrixColumns?: number;
  numberOfFrames: number;
  photometricInterpretation: string;
  transferSyntaxUid?: string;
}

export interface SpecimenDescription {
  identifier?: string;
  uid?: string;
  /** The whole Specimen Description Sequence item, as in the metadata. */
  item: DicomJson;
}

export interface OpticalPath {
  identifier: string;
  description?: string;
  item: DicomJson;
}

export interface Slide {
  studyInstanceUid: string;
  seriesInstanceUids: string[];
  frameOfReferenceUid?: string;
  containerIdentifier?: string;
  pyramidUid?: string;
  specimens: SpecimenDescription[];
  /** Specimen Description Sequence items as in the metadata (for SEG/SR writers to copy). */
  specimenDescriptionSequence: DicomJson[];
  opticalPaths: OpticalPath[];
  /** Optical Path Sequence items as in the metadata (for SEG writers to copy). */
  opticalPathSequence: DicomJson[];
  imageOrientationSlide: readonly [number, number, number, number, number, number];
  /** Total Pixel Matrix Origin of the finest level. */
  totalPixelMatrixOrigin: SlidePoint;
  imagedVolumeWidthMm?: number;
  imagedVolumeHeightMm?: number;
  imagedVolumeDepthMm?: number;
  /** VOLUME images, finest first. */
  levels: SlideLevel[];
  /** LABEL, OVERVIEW and THUMBNAIL images: listed, not analysed. */
  associatedImages: AssociatedImage[];
  /** Slide coordinates of a level's pixel (see SlideLevel.pixelToSlide). */
  pixelToSlide(level: SlideLevel, column: number, row: number): SlidePoint;
}

function buildLevel(index: number, instances: SlideInstance[]): SlideLevel {
  const first = instances[0] as SlideInstance;
  const ds = first.dataset;
  const totalRows = num(ds, Tag.TotalPixelMatrixRows) ?? first.rows;
  const totalColumns = num(ds, Tag.TotalPixelMatrixColumns) ?? first.columns;
  const tileRows = first.rows;
  const tileColumns = first.columns;
  if (!tileRows || !tileColumns) throw badSlide(`instance ${first.sopInstanceUid} has no Rows/Columns`);
  const spacing = pixelSpacingOf(ds);
  if (!spacing) throw badSlide(`instance ${first.sopInstanceUid} has no Pixel Spacing`);
  const gridRows = Math.ceil(totalRows / tileRows);
  const gridColumns = Math.ceil(totalColumns / tileColumns);
  const organization = dimensionOrganization(instances);
  const sets = frameSets(instances);
  const opticalPaths = [...new Set(sets.flatMap((s) => s.opticalPaths))];
  const defaultPath = opticalPaths[0] ?? '';
  const origin = originOf(ds);
  const orientation = orientationOf(ds);
  const { frameAt, available, focalPlanes } = frameIndex(instances, organization, sets, { gridRows, gridColumns, tileRows, tileColumns, defaultPath });
  const bitsAllocated = num(ds, Tag.BitsAllocated) ?? 8;
  const level: SlideLevel = {
    index,
    studyInstanceUid: first.studyInstanceUid,
    seriesInstanceUid: first.seriesInstanceUid,
    instances,
    totalPixelMatrixRows: totalRows,
    totalPixelMatrixColumns: totalColumns,
    tileRows,
    tileColumns,
    tileGridRows: gridRows,
    tileGridColumns: gridColumns,
    numberOfFrames: instances.reduce((n, i) => n + i.numberOfFrames, 0),
    dimensionOrganizationType: organization,
    pixelSpacingMm: spacing,
    spacingMm: (spacing[0] + spacing[1]) / 2,
    transferSyntaxUid: first.transferSyntaxUid,
    photometricInterpretation: str(ds, Tag.PhotometricInterpretation) ?? (num(ds, Tag.SamplesPerPixel) === 3 ? 'RGB' : 'MONOCHROME2'),
    samplesPerPixel: num(ds, Tag.SamplesPerPixel) ?? 1,
    bitsAllocated,
    bitsStored: num(ds, Tag.BitsStored) ?? bitsAllocated,
    pixelRepresentation: num(ds, Tag.PixelRepresentation) ?? 0,
    planarConfiguration: num(ds, Tag.PlanarConfiguration) ?? 0,
    imageType: first.imageType,
    opticalPathIdentifiers: opticalPaths,
    focalPlanes,
    origin,
    imageOrientationSlide: orientation,
    frameAt,
    availableTiles: available,
    pixelToSlide: (column, row) => pixelToSlideCoordinates(origin, orientation, spacing, column, row),
    slideToPixel: (xMm, yMm) => slideToPixelCoordinates(origin, orientation, spacing, xMm, yMm),
    pixelDescription: () => ({
      rows: tileRows,
      columns: tileColumns,
      samplesPerPixel: level.samplesPerPixel,
      bitsAllocated: level.bitsAllocated,
      bitsStored: level.bitsStored,
      highBit: num(ds, Tag.HighBit) ?? level.bitsStored - 1,
      pixelRepresentation: level.pixelRepresentation,
      photometricInterpretation: level.photometricInterpretation,
      planarConfiguration: level.planarConfiguration,
    }),
  };
  return level;
}

/** Value 3 of Image Type: VOLUME for pyramid levels; LABEL, OVERVIEW, THUMBNAIL otherwise. */
function flavor(inst: SlideInstance): string {
  return inst.imageType[2] ?? 'VOLUME';
}

function isWsi(ds: DicomJson): boolean {
  const cls = str(ds, Tag.SOPClassUID);
  return cls === undefined ? hasTag(ds, Tag.TotalPixelMatrixColumns) : cls === SopClass.VLWholeSlideMicroscopyImage;
}

/**
 * Splits instances (e.g. a whole study's metadata) into slides: VL Whole Slide Microscopy
 * images grouped by Frame of Reference UID (else Container Identifier, else series).
 * Other SOP classes are left out.
 */
export function groupSlides(instances: DicomJson[]): DicomJson[][] {
  const groups = new Map<string, DicomJson[]>();
  for (const ds of instances.filter(isWsi)) {
    const k = str(ds, Tag.FrameOfReferenceUID) ?? `container:${str(ds, Tag.ContainerIdentifier) ?? `series:${str(ds, Tag.SeriesInstanceUID) ?? ''}`}`;
    const list = groups.get(k) ?? [];
    list.push(ds);
    groups.set(k, list);
  }
  return [...groups.values()];
}

/**
 * One slide from the DICOM JSON metadata of its instances (one or several series of one
 * study; other SOP classes are ignored). Throws when the instances hold no pyramid level or
 * belong to several slides (use groupSlides first).
 */
export function describeSlide(instances: DicomJson[]): Slide {
  const slides = groupSlides(instances);
  if (slides.length === 0) throw badSlide('no VL Whole Slide Microscopy Image instance');
  if (slides.length > 1) throw badSlide(`the instances belong to ${slides.length} slides (frames of reference); describe them one by one (groupSlides)`);
  const all = (slides[0] as DicomJson[]).map(toInstance);
  const volume = all.filter((i) => flavor(i) === 'VOLUME');
  const associated = all.filter((i) => flavor(i) !== 'VOLUME');
  if (volume.length === 0) throw badSlide('no VOLUME image (only label/overview/thumbnail)');

  // One level = one total pixel matrix size; within it, concatenation parts, optical paths, focal planes.
  const byMatrix = new Map<string, SlideInstance[]>();
  for (const inst of volume) {
    const k = `${num(inst.dataset, Tag.TotalPixelMatrixColumns) ?? inst.columns}x${num(inst.dataset, Tag.TotalPixelMatrixRows) ?? inst.rows}`;
    const list = byMatrix.get(k) ?? [];
    list.push(inst);
    byMatrix.set(k, list);
  }
  const groups = [...byMatrix.values()].map((list) => {
    const ds = (list[0] as SlideInstance).dataset;
    const spacing = pixelSpacingOf(ds);
    return { list, spacing: spacing ? (spacing[0] + spacing[1]) / 2 : Infinity, columns: num(ds, Tag.TotalPixelMatrixColumns) ?? 0 };
  });
  groups.sort((a, b) => a.spacing - b.spacing || b.columns - a.columns);
  const levels = groups.map((g, i) => buildLevel(i, g.list));

  const finest = levels[0] as SlideLevel;
  const ref = (finest.instances[0] as SlideInstance).dataset;
  const specimenItems = items(ref, Tag.SpecimenDescriptionSequence);
  const pathItems = new Map<string, DicomJson>();
  for (const inst of volume) {
    for (const it of items(inst.dataset, Tag.OpticalPathSequence)) {
      const id = str(it, Tag.OpticalPathIdentifier);
      if (id !== undefined && !pathItems.has(id)) pathItems.set(id, it);
    }
  }
  const seriesUids = [...new Set(all.map((i) => i.seriesInstanceUid))];
  return {
    studyInstanceUid: finest.studyInstanceUid,
    seriesInstanceUids: seriesUids,
    frameOfReferenceUid: str(ref, Tag.FrameOfReferenceUID),
    containerIdentifier: str(ref, Tag.ContainerIdentifier),
    pyramidUid: str(ref, Tag.PyramidUID),
    specimens: specimenItems.map((item) => ({ identifier: str(item, Tag.SpecimenIdentifier), uid: str(item, Tag.SpecimenUID), item })),
    specimenDescriptionSequence: specimenItems,
    opticalPaths: [...pathItems.entries()].map(([identifier, item]) => ({ identifier, description: str(item, Tag.OpticalPathDescription), item })),
    opticalPathSequence: [...pathItems.values()],
    imageOrientationSlide: finest.imageOrientationSlide,
    totalPixelMatrixOrigin: finest.origin,
    imagedVolumeWidthMm: num(ref, Tag.ImagedVolumeWidth),
    imagedVolumeHeightMm: num(ref, Tag.ImagedVolumeHeight),
    imagedVolumeDepthMm: num(ref, Tag.ImagedVolumeDepth),
    levels,
    associatedImages: associated.map((i) => ({
      kind: flavor(i),
      studyInstanceUid: i.studyInstanceUid,
      seriesInstanceUid: i.seriesInstanceUid,
      sopInstanceUid: i.sopInstanceUid,
      rows: i.rows,
      columns: i.columns,
      totalPixelMatrixRows: num(i.dataset, Tag.TotalPixelMatrixRows),
      totalPixelMatrixColumns: num(i.dataset, Tag.TotalPixelMatrixColumns),
      numberOfFrames: i.numberOfFrames,
      photometricInterpretation: str(i.dataset, Tag.PhotometricInterpretation) ?? '',
      transferSyntaxUid: i.transferSyntaxUid,
    })),
    pixelToSlide: (level, column, row) => level.pixelToSlide(column, row),
  };
}

/**
 * The pyramid level nearest a model's pixel spacing (compared on a log scale, ties to the
 * finer level). scale = level spacing / target spacing: 1 means use the pixels as they are;
 * 0.5 means the level is twice as fine as the model wants (shrink by 2); 2 means enlarge.
 */
export function chooseLevel(slide: Slide, targetSpacingMm: number): { level: SlideLevel; scale: number } {
  if (!(targetSpacingMm > 0)) throw new SentinelError('bad_request', `target pixel spacing must be positive, got ${targetSpacingMm}`);
  let best: SlideLevel | undefined;
  let bestDistance = Infinity;
  for (const level of slide.levels) {
    const d = Math.abs(Math.log(level.spacingMm / targetSpacingMm));
    if (d < bestDistance - 1e-9) {
      best = level;
      bestDistance = d;
    }
  }
  if (!best) throw badSlide('no pyramid level');
  return { level: best, scale: best.spacingMm / targetSpacingMm };
}
