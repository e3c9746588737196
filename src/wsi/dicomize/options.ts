// What `dicomize` takes and gives back, and its one error.
import { SentinelError } from '../../errors/errors';
import type { StudyContext } from '../../domain/findings';

/** IDC mosaics are 50 x 50 patches of slides scanned at 40x and downsampled to about 4 micron per pixel. */
export const DEFAULT_IMAGE_PIXEL_SPACING_MM = 0.004;


/** Patient and study attributes for the slide's dataset (the study UID is given separately). */
export type PatientStudyContext = Omit<StudyContext, 'studyInstanceUid'>;

export interface DicomizeOptions {
  /** Folder for the DICOM files (created when missing). */
  outDir: string;
  /** Put the slide into this study (default: a new study). */
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  frameOfReferenceUid?: string;
  /** Container (slide) identifier; default: the input's file name without extension. */
  containerIdentifier?: string;
  /** Default: the container identifier. */
  specimenIdentifier?: string;
  specimenUid?: string;
  /** Patient and study attributes (e.g. from the PACS's study, see studyContextFromPacs). */
  context?: PatientStudyContext;
  seriesNumber?: number;
  seriesDescription?: string;
  /** Pixel size of the input's full resolution, mm. Default: the slide's own (Aperio MPP, TIFF resolution), else 0.004 for JPEG/PNG. */
  pixelSpacingMm?: number;
  /** Tile size in pixels. Default 256 for JPEG/PNG; a slide keeps its own tiles (copied without recompression). */
  tileSize?: number;
  /** JPEG quality of re-encoded tiles (default 90). */
  jpegQuality?: number;
  /** Rebuild the pyramid (default: yes for JPEG/PNG and single-level slides; a slide's own levels are kept otherwise). */
  pyramid?: boolean;
  /**
   * Largest DICOM instance in MB before a level is split into a concatenation. Default 0: one
   * instance per level. dciodvfy (dicom3tools) counts frames per instance against the whole tile
   * grid and so reports an error on every part of a (valid) concatenation; split only slides
   * whose levels would not fit one instance.
   */
  maxInstanceMb?: number;
  /** Total Pixel Matrix Origin of the finest level (centre of its top left pixel), mm. Default: the image centred on a 25 x 75 mm slide. */
  originMm?: { xMm: number; yMm: number };
  /** Path of libopenslide.so.0 (default: found on the system). */
  openslideLibrary?: string;
  threads?: number;
  /** Progress messages. */
  log?: (msg: string) => void;
  /** Files done of files to do, per phase (after the dicomizer: read back, then fixed and written). */
  progress?: (phase: string, done: number, total: number) => void;
}

export interface DicomizedLevel {
  /** 0 = finest. */
  level: number;
  files: string[];
  sopInstanceUids: string[];
  totalPixelMatrixColumns: number;
  totalPixelMatrixRows: number;
  tileColumns: number;
  tileRows: number;
  numberOfFrames: number;
  /** [between rows, between columns], mm. */
  pixelSpacingMm: [number, number];
  transferSyntaxUid: string;
}

export interface DicomizeResult {
  files: string[];
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  containerIdentifier: string;
  specimenIdentifier: string;
  specimenUid: string;
  levels: DicomizedLevel[];
  source: {
    kind: 'image' | 'openslide';
    width: number;
    height: number;
    pixelSpacingMm: number;
    pixelSpacingSource: 'option' | 'aperio-mpp' | 'tiff-resolution' | 'image-density' | 'default';
  };
  /** What was changed in the tool's output, once per kind. */
  fixes: string[];
  seconds: { tool: number; fix: number };
}

export function dicomizeError(msg: string, cause?: unknown): SentinelError {
  return new SentinelError('bad_request', `dicomize: ${msg}`, false, cause === undefined ? undefined : { cause });
}
