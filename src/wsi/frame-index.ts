// Which instance and frame hold tile (row, column) of a level: TILED_FULL by the frame order
// of PS3.3 C.7.6.17.3 (over one instance or a concatenation), TILED_SPARSE by every frame's
// Plane Position (Slide); per optical path and focal plane.
import { firstItem, hasTag, num, str } from '../dicom/json';
import { Tag } from '../dicom/tags';
import { type SlideInstance, badSlide, perFrameGroups, sharedGroup } from './instance';

export type DimensionOrganization = 'TILED_FULL' | 'TILED_SPARSE';

/** Where a tile is stored: one frame of one instance (frame numbers start at 1, per instance). */
export interface FrameLocation {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  frameNumber: number;
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

/** The part of a level holding one run of frames: one instance, or one concatenation (parts sorted). */
export interface FrameSet {
  parts: SlideInstance[];
  opticalPaths: string[];
  focalPlanes: number;
}

export function frameSets(instances: SlideInstance[]): FrameSet[] {
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

export function dimensionOrganization(instances: SlideInstance[]): DimensionOrganization {
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

export interface FrameIndex {
  frameAt: (row: number, column: number, select?: FrameSelector) => FrameLocation | undefined;
  available: (select?: FrameSelector) => TilePosition[];
  focalPlanes: number;
}

export function frameIndex(
  instances: SlideInstance[],
  organization: DimensionOrganization,
  sets: FrameSet[],
  grid: { gridRows: number; gridColumns: number; tileRows: number; tileColumns: number; defaultPath: string },
): FrameIndex {
  const { gridRows, gridColumns, tileRows, tileColumns, defaultPath } = grid;
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

  return { frameAt, available, focalPlanes };
}
