// Where a slide's pixels are (PS3.3 C.8.12.2 and C.8.12.4.1.4): a level's pixel spacing,
// its Total Pixel Matrix Origin and Image Orientation (Slide), and the mapping between its
// pixel indices and the Slide Coordinate System in millimetres.
import { type DicomJson, firstItem, num, nums } from '../dicom/json';
import { Tag } from '../dicom/tags';
import { badSlide, perFrameGroups, sharedGroup } from './instance';

/** A point in the Slide Coordinate System, millimetres. */
export interface SlidePoint {
  xMm: number;
  yMm: number;
  zMm: number;
}

/** The typical orientation of PS3.3 C.8.12.4.1.4: rows along -Y, columns along -X. */
export const DEFAULT_IMAGE_ORIENTATION_SLIDE: readonly [number, number, number, number, number, number] = [0, -1, 0, -1, 0, 0];

/** Pixel Spacing of an instance: shared functional groups, else the first frame's, else derived from the imaged volume. */
export function pixelSpacingOf(ds: DicomJson): [number, number] | undefined {
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

export function originOf(ds: DicomJson): SlidePoint {
  const item = firstItem(ds, Tag.TotalPixelMatrixOriginSequence);
  return {
    xMm: num(item, Tag.XOffsetInSlideCoordinateSystem) ?? 0,
    yMm: num(item, Tag.YOffsetInSlideCoordinateSystem) ?? 0,
    zMm: num(item, Tag.ZOffsetInSlideCoordinateSystem) ?? 0,
  };
}

export function orientationOf(ds: DicomJson): [number, number, number, number, number, number] {
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

