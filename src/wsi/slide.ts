// A whole-slide image as the reader sees it, built from DICOMweb series metadata (DICOM
// JSON) alone: the pyramid levels finest first, each with its tile grid, pixel spacing,
// transfer syntax and a frame index (which instance and frame holds tile (row, column)),
// the slide's identity (frame of reference, container, specimen, optical paths) and the
// mapping from a level's pixels to the Slide Coordinate System in millimetres
// (PS3.3 C.8.12.2 and C.8.12.4.1.4). No pixel data is touched here; tiles.ts fetches tiles.
import { SentinelError } from '../errors/errors';
import type { PixelDescription } from '../dicom/read';
import { SopClass } from '../dicom/uid';
import { type DicomJson, firstItem, hasTag, items, num, nums, str, strs } from '../dicom/json';
import { Tag } from '../dicom/tags';


export type DimensionOrganization = 'TILED_FULL' | 'TILED_SPARSE';

/** The typical orientation of PS3.3 C.8.12.4.1.4: rows along -Y, columns along -X. */
export const DEFAULT_IMAGE_ORIENTATION_SLIDE: readonly [number, number, number, number, number, number] = [0, -1, 0, -1, 0, 0];

/** Where a tile is stored: one frame of one instance (frame numbers start at 1, per instance). */
export interface FrameLocation {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  frameNumber: number;
}

/** A point in the Slide Coordinate System, millimetres. */
export interface SlidePoint {
  xMm: number;
  yMm: number;
  zMm: number;
}

export interface TilePosition {
  row: number;
  column: number;
}

export interface FrameSelector {
  /** Optical Path Identifier; default the level's first optical path. */
  opticalPath?: string;
  /** 0-based focal plane; default 0 (TILED_FULL: the first plane; TILED_SPARSE: the lowest Z). */
  focalPlane?: number;
}

export interface SlideInstance {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  instanceNumber?: number;
  imageType: string[];
  rows: number;
  columns: number;
  numberOfFrames: number;
  /** Undefined when the metadata does not say (Orthanc's DICOMweb plugin does not). */
  transferSyntaxUid?: string;
  concatenationUid?: string;
  inConcatenationNumber?: number;
  /** Frames before this part of a concatenation (0 when not concatenated). */
  concatenationFrameOffset: number;
  opticalPathIdentifiers: string[];
  dataset: DicomJson;
}

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

const badSlide = (msg: string): SentinelError => new SentinelError('bad_request', `not a usable whole-slide image: ${msg}`);

function sharedGroup(ds: DicomJson): DicomJson | undefined {
  return firstItem(ds, Tag.SharedFunctionalGroupsSequence);
}

function perFrameGroups(ds: DicomJson): DicomJson[] {
  return items(ds, Tag.PerFrameFunctionalGroupsSequence);
}

function transferSyntaxOf(ds: DicomJson): string | undefined {
  return str(ds, Tag.AvailableTransferSyntaxUID) ?? str(ds, Tag.TransferSyntaxUID);
}

function opticalPathIds(ds: DicomJson): string[] {
  const ids = items(ds, Tag.OpticalPathSequence).map((it) => str(it, Tag.OpticalPathIdentifier)).filter((s): s is string => s !== undefined);
  if (ids.length > 0) return ids;
  const shared = str(firstItem(sharedGroup(ds), Tag.OpticalPathIdentificationSequence), Tag.OpticalPathIdentifier);
  return shared ? [shared] : [];
}

function toInstance(ds: DicomJson): SlideInstance {
  const sop = str(ds, Tag.SOPInstanceUID);
  if (!sop) throw badSlide('an instance has no SOP Instance UID');
  return {
    studyInstanceUid: str(ds, Tag.StudyInstanceUID) ?? '',
    seriesInstanceUid: str(ds, Tag.SeriesInstanceUID) ?? '',
    sopInstanceUid: sop,
    instanceNumber: num(ds, Tag.InstanceNumber),
    imageType: strs(ds, Tag.ImageType).map((s) => s.toUpperCase()),
    rows: num(ds, Tag.Rows) ?? 0,
    columns: num(ds, Tag.Columns) ?? 0,
    numberOfFrames: Math.max(1, Math.round(num(ds, Tag.NumberOfFrames) ?? 1)),
    transferSyntaxUid: transferSyntaxOf(ds),
    concatenationUid: str(ds, Tag.ConcatenationUID),
    inConcatenationNumber: num(ds, Tag.InConcatenationNumber),
    concatenationFrameOffset: num(ds, Tag.ConcatenationFrameOffsetNumber) ?? 0,
    opticalPathIdentifiers: opticalPathIds(ds),
    dataset: ds,
  };
}

/** Pixel Spacing of an instance: shared functional groups, else the first frame's, else derived from the imaged volume. */
function pixelSpacingOf(ds: DicomJson): [number, number] | undefined {
  const fromGroup = (g: DicomJson | undefined): [number, number] | undefined => {
    const v = nums(firstItem(g, Tag.PixelMeasuresSequence), Tag.PixelSpacing);
    return v.length === 2 && (v[0] as number) > 0 && (v[1] as number) > 0 ? [v[0] as number, v[1] as number] : undefined;
  };
  const shared = fromGroup(sharedGroup(ds));
  if (shared) return shared;
  const perFrame = fromGroup(perFrameGroups(ds)[0]);
  if (perFrame) return perFrame;
  const top = nums(ds, Tag.PixelSpacing);
  if (top.length === 2 && (top[0] as number) > 0 && (top[1] as number) > 0) return [top[0] as number, top[1] as number];
  const w = num(ds, Tag.ImagedVolumeWidth);
  const h = num(ds, Tag.ImagedVolumeHeight);
  const cols = num(ds, Tag.TotalPixelMatrixColumns);
  const rows = num(ds, Tag.TotalPixelMatrixRows);
  if (w && h && cols && rows) return [h / rows, w / cols];
  return undefined;
}

function originOf(ds: DicomJson): SlidePoint {
  const item = firstItem(ds, Tag.TotalPixelMatrixOriginSequence);
  return {
    xMm: num(item, Tag.XOffsetInSlideCoordinateSystem) ?? 0,
    yMm: num(item, Tag.YOffsetInSlideCoordinateSystem) ?? 0,
    zMm: num(item, Tag.ZOffsetInSlideCoordinateSystem) ?? 0,
  };
}

function orientationOf(ds: DicomJson): [number, number, number, number, number, number] {
  const v = nums(ds, Tag.ImageOrientationSlide);
  if (v.length === 6) return v as [number, number, number, number, number, number];
  return [...DEFAULT_IMAGE_ORIENTATION_SLIDE];
}

/**
 * Slide coordinates of pixel (column, row) (0-based, centre of the top left pixel = origin)
 * for a given origin, orientation and Pixel Spacing [row spacing, column spacing]: moving one
 * column goes along the row direction cosines by the column spacing, one row along the column
 * direction cosines by the row spacing.
 */
export function pixelToSlideCoordinates(
  origin: SlidePoint,
  orientation: readonly number[],
  pixelSpacingMm: readonly [number, number],
  column: number,
  row: number,
): SlidePoint {
  const [rx, ry, rz, cx, cy, cz] = orientation as [number, number, number, number, number, number];
  const [rowSpacing, columnSpacing] = pixelSpacingMm;
  const dc = column * columnSpacing;
  const dr = row * rowSpacing;
  return {
    xMm: origin.xMm + rx * dc + cx * dr,
    yMm: origin.yMm + ry * dc + cy * dr,
    zMm: origin.zMm + rz * dc + cz * dr,
  };
}

export function slideToPixelCoordinates(
  origin: SlidePoint,
  orientation: readonly number[],
  pixelSpacingMm: readonly [number, number],
  xMm: number,
  yMm: number,
): { column: number; row: number } {
  const [rx, ry, , cx, cy] = orientation as [number, number, number, number, number, number];
  const [rowSpacing, columnSpacing] = pixelSpacingMm;
  // [rx*cs  cx*rs] [c]   [x - x0]
  // [ry*cs  cy*rs] [r] = [y - y0]
  const a = rx * columnSpacing;
  const b = cx * rowSpacing;
  const c = ry * columnSpacing;
  const d = cy * rowSpacing;
  const det = a * d - b * c;
  if (Math.abs(det) < 1e-15) throw badSlide('Image Orientation (Slide) is not in the slide plane');
  const dx = xMm - origin.xMm;
  const dy = yMm - origin.yMm;
  return { column: (d * dx - b * dy) / det, row: (a * dy - c * dx) / det };
}

/** The part of a level holding one run of frames: one instance, or one concatenation (parts sorted). */
interface FrameSet {
  parts: SlideInstance[];
  opticalPaths: string[];
  focalPlanes: number;
}

function frameSets(instances: SlideInstance[]): FrameSet[] {
  const byKey = new Map<string, SlideInstance[]>();
  for (const inst of instances) {
    const key = inst.concatenationUid ? `c:${inst.concatenationUid}` : `i:${inst.sopInstanceUid}`;
    const list = byKey.get(key) ?? [];
    list.push(inst);
    byKey.set(key, list);
  }
  const sets: FrameSet[] = [];
  for (const parts of byKey.values()) {
    parts.sort((a, b) => a.concatenationFrameOffset - b.concatenationFrameOffset || (a.inConcatenationNumber ?? 0) - (b.inConcatenationNumber ?? 0));
    const first = parts[0] as SlideInstance;
    sets.push({
      parts,
      opticalPaths: first.opticalPathIdentifiers,
      focalPlanes: Math.max(1, Math.round(num(first.dataset, Tag.TotalPixelMatrixFocalPlanes) ?? 1)),
    });
  }
  // Keep the metadata's order of optical paths stable: sets sorted by their first part's instance number.
  sets.sort((a, b) => ((a.parts[0] as SlideInstance).instanceNumber ?? 0) - ((b.parts[0] as SlideInstance).instanceNumber ?? 0));
  return sets;
}

function dimensionOrganization(instances: SlideInstance[]): DimensionOrganization {
  const declared = instances.map((i) => str(i.dataset, Tag.DimensionOrganizationType)?.toUpperCase());
  if (declared.every((d) => d === 'TILED_FULL')) return 'TILED_FULL';
  const hasPositions = instances.every((i) => {
    const groups = perFrameGroups(i.dataset);
    return groups.length > 0 && hasTag(firstItem(groups[0], Tag.PlanePositionSlideSequence), Tag.ColumnPositionInTotalImagePixelMatrix);
  });
  if (hasPositions) return 'TILED_SPARSE';
  if (declared.some((d) => d === 'TILED_SPARSE')) throw badSlide('TILED_SPARSE without per-frame Plane Position (Slide)');
  // No Dimension Organization Type and no per-frame positions: tiles in raster order.
  return 'TILED_FULL';
}

function key(opticalPath: string, focalPlane: number, row: number, column: number): string {
  return `${opticalPath}|${focalPlane}|${row}|${column}`;
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
  const locate = (inst: SlideInstance, frameNumber: number): FrameLocation => ({
    studyInstanceUid: inst.studyInstanceUid,
    seriesInstanceUid: inst.seriesInstanceUid,
    sopInstanceUid: inst.sopInstanceUid,
    frameNumber,
  });

  let frameAt: (row: number, column: number, select?: FrameSelector) => FrameLocation | undefined;
  let focalPlanes: number;
  let available: (select?: FrameSelector) => TilePosition[];

  if (organization === 'TILED_FULL') {
    focalPlanes = Math.max(...sets.map((s) => s.focalPlanes));
    frameAt = (row, column, select = {}) => {
      if (!Number.isInteger(row) || !Number.isInteger(column) || row < 0 || column < 0 || row >= gridRows || column >= gridColumns) return undefined;
      const path = select.opticalPath ?? defaultPath;
      const plane = select.focalPlane ?? 0;
      const set = sets.find((s) => s.opticalPaths.includes(path)) ?? (select.opticalPath === undefined ? sets[0] : undefined);
      if (!set || plane < 0 || plane >= set.focalPlanes) return undefined;
      const pathIndex = Math.max(0, set.opticalPaths.indexOf(path));
      // PS3.3 C.7.6.17.3: column fastest, then row, then focal plane, then optical path.
      const g = ((pathIndex * set.focalPlanes + plane) * gridRows + row) * gridColumns + column;
      for (const part of set.parts) {
        if (g >= part.concatenationFrameOffset && g < part.concatenationFrameOffset + part.numberOfFrames) {
          return locate(part, g - part.concatenationFrameOffset + 1);
        }
      }
      return undefined;
    };
    available = (select) => {
      const out: TilePosition[] = [];
      for (let r = 0; r < gridRows; r++) for (let c = 0; c < gridColumns; c++) if (frameAt(r, c, select)) out.push({ row: r, column: c });
      return out;
    };
  } else {
    // TILED_SPARSE: every frame says where it is.
    const index = new Map<string, FrameLocation>();
    const zValues = new Set<number>();
    const frames: Array<{ path: string; z: number; row: number; column: number; loc: FrameLocation }> = [];
    for (const inst of instances) {
      const shared = sharedGroup(inst.dataset);
      const sharedPath = str(firstItem(shared, Tag.OpticalPathIdentificationSequence), Tag.OpticalPathIdentifier);
      perFrameGroups(inst.dataset).forEach((group, i) => {
        const pos = firstItem(group, Tag.PlanePositionSlideSequence);
        const colPos = num(pos, Tag.ColumnPositionInTotalImagePixelMatrix);
        const rowPos = num(pos, Tag.RowPositionInTotalImagePixelMatrix);
        if (colPos === undefined || rowPos === undefined) return;
        const z = num(pos, Tag.ZOffsetInSlideCoordinateSystem) ?? 0;
        const path = str(firstItem(group, Tag.OpticalPathIdentificationSequence), Tag.OpticalPathIdentifier)
          ?? sharedPath ?? inst.opticalPathIdentifiers[0] ?? '';
        zValues.add(z);
        frames.push({ path, z, row: Math.floor((rowPos - 1) / tileRows), column: Math.floor((colPos - 1) / tileColumns), loc: locate(inst, i + 1) });
      });
    }
    const planes = [...zValues].sort((a, b) => a - b);
    focalPlanes = Math.max(1, planes.length);
    for (const f of frames) {
      const k = key(f.path, planes.indexOf(f.z), f.row, f.column);
      if (!index.has(k)) index.set(k, f.loc);
    }
    const sparsePath = defaultPath || (frames[0]?.path ?? '');
    frameAt = (row, column, select = {}) => index.get(key(select.opticalPath ?? sparsePath, select.focalPlane ?? 0, row, column));
    available = (select = {}) => {
      const prefix = `${select.opticalPath ?? sparsePath}|${select.focalPlane ?? 0}|`;
      const out: TilePosition[] = [];
      for (const k of index.keys()) {
        if (!k.startsWith(prefix)) continue;
        const [r, c] = k.slice(prefix.length).split('|').map(Number) as [number, number];
        if (r >= 0 && c >= 0 && r < gridRows && c < gridColumns) out.push({ row: r, column: c });
      }
      return out.sort((a, b) => a.row - b.row || a.column - b.column);
    };
  }

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
