// The corrections of what OrthancWSIDicomizer 1.1 writes, header only, one named function
// each (the list at the top of dicomize/index.ts), applied to every file of one tool run.
import { DEFAULT_IMAGE_ORIENTATION_SLIDE, type SlidePoint, pixelToSlideCoordinates } from '../geometry';
import { newUid } from '../../dicom/uid';
import { formatDs } from './dataset';
import { type DicomizedLevel, dicomizeError } from './options';
import type { ToolFile } from './tool-file';
import { type DicomJson, str } from '../../dicom/json';
import { Tag } from '../../dicom/tags';

type Item = Record<string, unknown>;

function seq(ds: Item, key: string): Item[] {
  const v = ds[key];
  if (Array.isArray(v)) return v.filter((x): x is Item => typeof x === 'object' && x !== null);
  if (typeof v === 'object' && v !== null) return [v as Item];
  return [];
}

function numberOf(v: unknown): number {
  const n = Number(Array.isArray(v) ? v[0] : v);
  if (!Number.isFinite(n)) throw dicomizeError(`expected a number, got ${JSON.stringify(v)}`);
  return n;
}

/** Downsampling factor of a level along one axis: the integer the sizes agree with, else the plain ratio. */
function downsample(full: number, level: number): number {
  const ratio = full / level;
  const k = Math.round(ratio);
  if (k >= 1 && (Math.ceil(full / k) === level || Math.floor(full / k) === level)) return k;
  return ratio;
}

export interface FixedLevel {
  parts: ToolFile[];
  summary: Omit<DicomizedLevel, 'files'>;
}

/** What every fix of one level may need to know. */
interface LevelFacts {
  level: number;
  /** How many instances the level is stored as (more than one: a concatenation). */
  parts: number;
  imageType: string[];
  /** [between rows, between columns], mm. */
  pixelSpacing: [number, number];
  widthMm: number;
  heightMm: number;
  orientation: number[];
  /** Centre of the level's top left pixel in slide coordinates. */
  origin: SlidePoint;
  pyramidUid: string;
  /** The dataset given to the tool. */
  entries: Record<string, unknown>;
}

/** One correction of one file's header; says what it corrected (nothing when there was nothing to correct). */
type Fix = (part: ToolFile, level: LevelFacts) => string[];

/** Text attributes set again after the tool, which writes ISO_IR 100 and drops what Latin-1 cannot hold. */
const TEXT_ATTRIBUTES = ['PatientID', 'PatientName', 'ReferringPhysicianName', 'AccessionNumber', 'StudyID', 'StudyDescription', 'SeriesDescription', 'ContainerIdentifier'] as const;

/** The given texts in UTF-8 (dcmjs writes strings as UTF-8), and the specimen identifier as given. */
const textInUtf8: Fix = ({ ds }, { entries }) => {
  ds.SpecificCharacterSet = 'ISO_IR 192';
  for (const key of TEXT_ATTRIBUTES) {
    const v = entries[key];
    if (typeof v !== 'string') continue;
    ds[key] = key === 'PatientName' || key === 'ReferringPhysicianName' ? (v === '' ? [] : [{ Alphabetic: v }]) : v;
  }
  const specimen = seq(ds, 'SpecimenDescriptionSequence')[0];
  const given = seq(entries, 'SpecimenDescriptionSequence')[0];
  if (specimen && given) specimen.SpecimenIdentifier = given.SpecimenIdentifier;
  return [];
};

const imageTypePerLevel: Fix = ({ ds }, { level, imageType }) => {
  ds.ImageType = imageType;
  return level > 0 ? ['Image Type value 4 RESAMPLED on the levels below the finest'] : [];
};

/** The shared functional groups item, made the one item of its sequence. */
function sharedGroups(ds: Item): Item {
  const shared = seq(ds, 'SharedFunctionalGroupsSequence')[0] ?? {};
  ds.SharedFunctionalGroupsSequence = [shared];
  return shared;
}

const frameTypeGroup: Fix = ({ ds }, { imageType }) => {
  const shared = sharedGroups(ds);
  const missing = !shared.WholeSlideMicroscopyImageFrameTypeSequence;
  shared.WholeSlideMicroscopyImageFrameTypeSequence = [{ FrameType: imageType }];
  return missing ? ['added the Whole Slide Microscopy Image Frame Type functional group (Type 1)'] : [];
};

const pixelSpacingPerLevel: Fix = ({ ds }, { pixelSpacing }) => {
  const shared = sharedGroups(ds);
  const measures = seq(shared, 'PixelMeasuresSequence')[0] ?? {};
  shared.PixelMeasuresSequence = [measures];
  measures.PixelSpacing = pixelSpacing.map(formatDs);
  return ['Pixel Spacing from the slide\'s real pixel size, exact per level'];
};

const imagedVolume: Fix = ({ ds }, { widthMm, heightMm }) => {
  ds.ImagedVolumeWidth = widthMm;
  ds.ImagedVolumeHeight = heightMm;
  return ['the same Imaged Volume Width/Height on every level'];
};

const slideCoordinates: Fix = ({ ds }, { orientation, origin, pixelSpacing }) => {
  ds.ImageOrientationSlide = orientation.map(formatDs);
  ds.TotalPixelMatrixOriginSequence = [{ XOffsetInSlideCoordinateSystem: formatDs(origin.xMm), YOffsetInSlideCoordinateSystem: formatDs(origin.yMm) }];
  for (const frame of seq(ds, 'PerFrameFunctionalGroupsSequence')) {
    for (const pos of seq(frame, 'PlanePositionSlideSequence')) {
      const p = pixelToSlideCoordinates(origin, orientation, pixelSpacing, numberOf(pos.ColumnPositionInTotalImagePixelMatrix) - 1, numberOf(pos.RowPositionInTotalImagePixelMatrix) - 1);
      pos.XOffsetInSlideCoordinateSystem = formatDs(p.xMm);
      pos.YOffsetInSlideCoordinateSystem = formatDs(p.yMm);
      pos.ZOffsetInSlideCoordinateSystem = formatDs(p.zMm);
    }
  }
  return ['Total Pixel Matrix Origin per level and per-frame X/Y Offset in Slide Coordinate System recomputed from Image Orientation (Slide) (the tool swaps X and Y)'];
};

const illuminationInSct: Fix = ({ ds }) => {
  const done: string[] = [];
  for (const p of seq(ds, 'OpticalPathSequence')) {
    for (const code of seq(p, 'IlluminationColorCodeSequence')) {
      if (code.CodingSchemeDesignator === 'SRT' && code.CodeValue === 'R-102C0') {
        Object.assign(code, { CodeValue: '414298005', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Full Spectrum' });
        done.push('illumination colour Full Spectrum coded in SCT instead of retired SRT');
      }
    }
  }
  return done;
};

/** The tool writes a made-up ratio (10); the real one is in the bytes. */
const measuredCompressionRatio: Fix = (part) => {
  const { ds } = part;
  const compressed = part.size - part.pixelDataOffset;
  const raw = numberOf(ds.NumberOfFrames) * numberOf(ds.Rows) * numberOf(ds.Columns) * numberOf(ds.SamplesPerPixel);
  if (!(ds.LossyImageCompression === '01' && compressed > 0)) return [];
  ds.LossyImageCompressionRatio = formatDs(Math.round((raw / compressed) * 100) / 100);
  return ['Lossy Image Compression Ratio measured from the compressed frames'];
};

const pyramidAttributes: Fix = ({ ds }, { pyramidUid }) => {
  ds.PyramidUID = pyramidUid;
  ds.NumberOfOpticalPaths = Math.max(1, seq(ds, 'OpticalPathSequence').length);
  ds.TotalPixelMatrixFocalPlanes = 1;
  return ['added Number of Optical Paths and Total Pixel Matrix Focal Planes'];
};

const CONCATENATION_ATTRIBUTES = ['SOPInstanceUIDOfConcatenationSource', 'ConcatenationUID', 'InConcatenationNumber', 'ConcatenationFrameOffsetNumber', 'InConcatenationTotalNumber'];

const concatenationAttributes: Fix = ({ ds }, { parts }) => {
  if (parts > 1) {
    ds.InConcatenationTotalNumber = parts;
    return ['In-concatenation Total Number added to split levels'];
  }
  const present = CONCATENATION_ATTRIBUTES.filter((k) => k in ds);
  for (const k of present) delete ds[k];
  return present.length > 0 ? ['concatenation attributes removed from levels stored as one instance'] : [];
};

/** Every correction, in the order applied to each file. */
const FIXES: readonly Fix[] = [
  textInUtf8, imageTypePerLevel, frameTypeGroup, pixelSpacingPerLevel, imagedVolume, slideCoordinates,
  illuminationInSct, measuredCompressionRatio, pyramidAttributes, concatenationAttributes,
];

/** The corrections above on all files of one tool run: levels by size, finest first; what was corrected, once per kind. */
export function fixToolOutput(files: ToolFile[], spacingMm: number, entries: Record<string, unknown>, originOption?: { xMm: number; yMm: number }): { levels: FixedLevel[]; fixes: string[] } {
  const fixes = new Set<string>();
  const byMatrix = new Map<string, ToolFile[]>();
  for (const f of files) {
    const k = `${numberOf(f.ds.TotalPixelMatrixColumns)}x${numberOf(f.ds.TotalPixelMatrixRows)}`;
    byMatrix.set(k, [...(byMatrix.get(k) ?? []), f]);
  }
  const groups = [...byMatrix.values()].sort((a, b) => numberOf((b[0] as ToolFile).ds.TotalPixelMatrixColumns) - numberOf((a[0] as ToolFile).ds.TotalPixelMatrixColumns));
  const finest = (groups[0] as ToolFile[])[0] as ToolFile;
  const columns0 = numberOf(finest.ds.TotalPixelMatrixColumns);
  const rows0 = numberOf(finest.ds.TotalPixelMatrixRows);
  const widthMm = columns0 * spacingMm;
  const heightMm = rows0 * spacingMm;
  const orientation = [...DEFAULT_IMAGE_ORIENTATION_SLIDE];
  const pyramidUid = newUid();
  // Typical orientation: columns run along -Y, rows along -X. By default the image is centred
  // on a 25 x 75 mm slide: its top left corner at (12.5 + h/2, 37.5 + w/2), and the origin
  // (centre of the top left pixel) half a pixel inside.
  const origin0: SlidePoint = {
    xMm: originOption?.xMm ?? 12.5 + heightMm / 2 - spacingMm / 2,
    yMm: originOption?.yMm ?? 37.5 + widthMm / 2 - spacingMm / 2,
    zMm: 0,
  };

  const levels = groups.map((parts, level): FixedLevel => {
    parts.sort((a, b) => Number(a.ds.ConcatenationFrameOffsetNumber ?? 0) - Number(b.ds.ConcatenationFrameOffsetNumber ?? 0));
    const first = parts[0] as ToolFile;
    const columns = numberOf(first.ds.TotalPixelMatrixColumns);
    const rows = numberOf(first.ds.TotalPixelMatrixRows);
    const factors = [downsample(rows0, rows), downsample(columns0, columns)] as const;
    const pixelSpacing: [number, number] = [spacingMm * factors[0], spacingMm * factors[1]];
    const facts: LevelFacts = {
      level, parts: parts.length, pixelSpacing, widthMm, heightMm, orientation, pyramidUid, entries,
      imageType: ['DERIVED', 'PRIMARY', 'VOLUME', level === 0 ? 'NONE' : 'RESAMPLED'],
      // A level's pixel (0, 0) averages the finest level's first f x f pixels: its centre is (f - 1) / 2 finest pixels in.
      origin: pixelToSlideCoordinates(origin0, orientation, [spacingMm, spacingMm], (factors[1] - 1) / 2, (factors[0] - 1) / 2),
    };
    for (const part of parts) for (const fix of FIXES) for (const what of fix(part, facts)) fixes.add(what);
    return {
      parts,
      summary: {
        level,
        sopInstanceUids: parts.map((p) => String(p.ds.SOPInstanceUID)),
        totalPixelMatrixColumns: columns,
        totalPixelMatrixRows: rows,
        tileColumns: numberOf(first.ds.Columns),
        tileRows: numberOf(first.ds.Rows),
        numberOfFrames: parts.reduce((n, p) => n + numberOf(p.ds.NumberOfFrames), 0),
        pixelSpacingMm: pixelSpacing,
        transferSyntaxUid: str(first.meta as DicomJson, Tag.TransferSyntaxUID) ?? '',
      },
    };
  });
  return { levels, fixes: [...fixes] };
}
