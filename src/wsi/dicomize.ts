// Bringing slides in: an OpenSlide slide (SVS, TIFF, NDPI, MRXS, ...) or a large JPEG/PNG
// becomes a DICOM VL Whole Slide Microscopy Image series. OrthancWSIDicomizer (Debian
// package orthanc-wsi) tiles, compresses and builds the pyramid; Sentinel gives it a dataset
// (patient, study, one Frame of Reference for all levels, container, specimen, equipment,
// Position Reference Indicator, TILED_SPARSE) and then corrects what version 1.1 writes,
// header only, so that dciodvfy reports no error and the geometry is right:
//   - Whole Slide Microscopy Image Frame Type functional group (Type 1, missing);
//   - Image Type / Frame Type per level (RESAMPLED below the finest level);
//   - Pixel Spacing from the real pixel size (the tool assumes a 15 x 15 mm imaged volume and
//     ignores OpenSlide's MPP), exact per level, the same Imaged Volume on every level;
//   - Total Pixel Matrix Origin per level and every frame's X/Y Offset in Slide Coordinate
//     System (the tool swaps X and Y relative to its own Image Orientation (Slide));
//   - Number of Optical Paths, Total Pixel Matrix Focal Planes, Pyramid UID;
//   - the illumination colour code from retired SRT to SCT;
//   - the Lossy Image Compression Ratio measured instead of the tool's constant 10;
//   - text attributes in UTF-8 (the tool writes Latin-1 and drops other characters);
//   - concatenation attributes removed from levels stored as one instance (the default: each
//     level one instance), In-concatenation Total Number added where a level is split.
// Pixel Data is copied byte for byte from the tool's file: only the header is rewritten.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dcmjs, { type NaturalizedDataset } from 'dcmjs';
import dicomParser from 'dicom-parser';
import sharp, { type Metadata as ImageMetadata } from 'sharp';
import { projectRoot } from '../config/load';
import type { DicomwebClient } from '../dicomweb/client';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, newUid } from '../dicom/uid';
import { SentinelError } from '../errors/errors';
import type { StudyContext } from '../domain/findings';
import { DEFAULT_IMAGE_ORIENTATION_SLIDE, type SlidePoint, pixelToSlideCoordinates } from './slide';
import { readTiffInfo } from './tiff';
import { type DicomJson, items, str } from '../dicom/json';

export const DICOMIZER_TOOL = 'OrthancWSIDicomizer';

/** IDC mosaics are 50 x 50 patches of slides scanned at 40x and downsampled to about 4 micron per pixel. */
export const DEFAULT_IMAGE_PIXEL_SPACING_MM = 0.004;

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);
const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

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

function dicomizeError(msg: string, cause?: unknown): SentinelError {
  return new SentinelError('bad_request', `dicomize: ${msg}`, false, cause === undefined ? undefined : { cause });
}

/** Where libopenslide.so.0 is (Debian package libopenslide0), or undefined. */
export function findOpenSlideLibrary(): string | undefined {
  const candidates = [
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libopenslide.so.0`,
    '/usr/lib/x86_64-linux-gnu/libopenslide.so.0',
    '/usr/lib/aarch64-linux-gnu/libopenslide.so.0',
    '/usr/lib64/libopenslide.so.0',
    '/usr/lib/libopenslide.so.0',
    '/usr/local/lib/libopenslide.so.0',
  ];
  const found = candidates.find((c) => fs.existsSync(c));
  if (found) return found;
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    const res = spawnSync(ldconfig, ['-p'], { encoding: 'utf8' });
    if (res.status !== 0) continue;
    const line = res.stdout.split('\n').find((l) => l.includes('libopenslide.so.0'));
    const lib = line?.split('=>')[1]?.trim();
    if (lib && fs.existsSync(lib)) return lib;
  }
  return undefined;
}

function toolAvailable(): boolean {
  const res = spawnSync(DICOMIZER_TOOL, ['--version'], { encoding: 'utf8' });
  return !res.error;
}

/** DS (PS3.5 6.2): at most 16 characters. */
export function formatDs(v: number): string {
  if (!Number.isFinite(v)) throw new SentinelError('bad_request', `not a decimal string value: ${v}`);
  for (let p = 15; p >= 1; p--) {
    const s = String(Number(v.toPrecision(p)));
    if (s.length <= 16) return s;
  }
  return v.toExponential(6);
}

function softwareVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0';
  } catch {
    return '0';
  }
}

function run(tool: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-64 * 1024);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

interface SourceInfo {
  kind: 'image' | 'openslide';
  width: number;
  height: number;
  spacing?: { value: number; source: DicomizeResult['source']['pixelSpacingSource'] };
  /** Levels the source already has (openslide). */
  sourceLevels: number;
}

async function inspectSource(input: string): Promise<SourceInfo> {
  const ext = path.extname(input).toLowerCase();
  if (IMAGE_EXTENSIONS.has(ext)) {
    let meta: ImageMetadata;
    try {
      meta = await sharp(input).metadata();
    } catch (err) {
      throw dicomizeError(`${input} is not a readable ${ext} image`, err);
    }
    if (!meta.width || !meta.height) throw dicomizeError(`${input}: image size unknown`);
    // A density is only believable as a microscope's when it is finer than 0.1 mm (254 dpi and more).
    const mm = meta.density ? 25.4 / meta.density : undefined;
    return {
      kind: 'image',
      width: meta.width,
      height: meta.height,
      spacing: mm !== undefined && mm < 0.01 ? { value: mm, source: 'image-density' } : undefined,
      sourceLevels: 1,
    };
  }
  const tiff = readTiffInfo(input);
  const first = tiff?.directories[0];
  return {
    kind: 'openslide',
    width: first?.width ?? 0,
    height: first?.height ?? 0,
    spacing: tiff?.pixelSpacingMm,
    sourceLevels: tiff ? tiff.levels.length : 0,
  };
}

/** The patient and study attributes of a study already in the PACS, so that a slide added to it matches. */
export async function studyContextFromPacs(client: Pick<DicomwebClient, 'studyMetadata'>, studyInstanceUid: string): Promise<PatientStudyContext | undefined> {
  let instances: DicomJson[];
  try {
    instances = await client.studyMetadata(studyInstanceUid);
  } catch (err) {
    if (err instanceof SentinelError && err.kind === 'not_found') return undefined;
    throw err;
  }
  const ds = instances[0];
  if (!ds) return undefined;
  return {
    patientId: str(ds, '00100020'),
    patientName: str(ds, '00100010'),
    patientBirthDate: str(ds, '00100030'),
    patientSex: str(ds, '00100040'),
    accessionNumber: str(ds, '00080050'),
    studyId: str(ds, '00200010'),
    studyDate: str(ds, '00080020'),
    studyTime: str(ds, '00080030'),
    studyDescription: str(ds, '00081030'),
    referringPhysicianName: str(ds, '00080090'),
  };
}

interface ToolFile {
  file: string;
  size: number;
  ds: NaturalizedDataset;
  meta: Record<string, unknown>;
  /** Where the Pixel Data element starts: everything from here on is copied as it is. */
  pixelDataOffset: number;
}

function readPrefix(file: string, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, 0);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** The header of one of the tool's files, read without loading its pixel data (a level may be gigabytes). */
function readToolFile(file: string): ToolFile {
  const size = fs.statSync(file).size;
  for (let length = Math.min(size, 4 << 20); ; length = Math.min(size, length * 4)) {
    const bytes = readPrefix(file, length);
    let parsed: ReturnType<typeof dicomParser.parseDicom>;
    try {
      parsed = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
    } catch (err) {
      if (length < size) continue;
      throw dicomizeError(`${file} is not readable DICOM`, err);
    }
    const el = parsed.elements.x7fe00010;
    if (!el) {
      if (length < size) continue;
      throw dicomizeError(`${file} has no Pixel Data`);
    }
    // Explicit VR OB/OW: tag (4) + VR (2) + reserved (2) + length (4) precede the value.
    const start = el.dataOffset - 12;
    const head = bytes.subarray(start, start + 6);
    if (start < 0 || head[0] !== 0xe0 || head[1] !== 0x7f || head[2] !== 0x10 || head[3] !== 0x00 || !['OB', 'OW'].includes(head.toString('latin1', 4, 6))) {
      throw dicomizeError(`${file}: Pixel Data element not where expected`);
    }
    const prefix = bytes.subarray(0, el.dataOffset);
    const read = dcmjs.data.DicomMessage.readFile(prefix.buffer.slice(prefix.byteOffset, prefix.byteOffset + prefix.byteLength) as ArrayBuffer, { untilTag: '7FE00010', includeUntilTagValue: false });
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(read.dict);
    delete ds.PixelData;
    return { file, size, ds, meta: read.meta, pixelDataOffset: start };
  }
}

/** The corrected header, then the tool's Pixel Data element and whatever follows it, byte for byte. */
function writeFixed(t: ToolFile, out: string): void {
  const meta = { ...t.meta } as Record<string, { vr: string; Value: unknown[] }>;
  meta['00020012'] = { vr: 'UI', Value: [IMPLEMENTATION_CLASS_UID] };
  meta['00020013'] = { vr: 'SH', Value: [IMPLEMENTATION_VERSION_NAME] };
  delete meta['00020000'];
  const dict = new dcmjs.data.DicomDict(meta);
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(t.ds);
  const header = Buffer.from(dict.write());
  const src = fs.openSync(t.file, 'r');
  const dst = fs.openSync(out, 'w');
  try {
    fs.writeSync(dst, header);
    const chunk = Buffer.alloc(8 << 20);
    for (let pos = t.pixelDataOffset; pos < t.size;) {
      const n = fs.readSync(src, chunk, 0, Math.min(chunk.length, t.size - pos), pos);
      if (n <= 0) throw dicomizeError(`${t.file} ended early`);
      fs.writeSync(dst, chunk, 0, n);
      pos += n;
    }
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
  }
}

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

function datasetFor(opts: {
  studyInstanceUid: string; seriesInstanceUid: string; frameOfReferenceUid: string; containerIdentifier: string;
  specimenIdentifier: string; specimenUid: string; context: PatientStudyContext; seriesNumber: number; seriesDescription: string;
}): Record<string, unknown> {
  const c = opts.context;
  const entries: Record<string, unknown> = {
    PatientID: c.patientId ?? opts.containerIdentifier,
    PatientName: c.patientName ?? '',
    PatientBirthDate: c.patientBirthDate ?? '',
    PatientSex: c.patientSex ?? '',
    StudyInstanceUID: opts.studyInstanceUid,
    StudyID: c.studyId ?? '1',
    AccessionNumber: c.accessionNumber ?? '',
    ReferringPhysicianName: c.referringPhysicianName ?? '',
    StudyDescription: c.studyDescription ?? 'Whole-slide pathology',
    SeriesInstanceUID: opts.seriesInstanceUid,
    SeriesNumber: String(opts.seriesNumber),
    SeriesDescription: opts.seriesDescription,
    FrameOfReferenceUID: opts.frameOfReferenceUid,
    PositionReferenceIndicator: 'SLIDE_CORNER',
    Manufacturer: 'Sentinel',
    ManufacturerModelName: 'sentinel dicomize (OrthancWSIDicomizer)',
    DeviceSerialNumber: 'NONE',
    SoftwareVersions: `sentinel ${softwareVersion()}`,
    ImageType: 'DERIVED\\PRIMARY\\VOLUME\\NONE',
    FocusMethod: 'AUTO',
    ExtendedDepthOfField: 'NO',
    AcquisitionContextSequence: [],
    ContainerIdentifier: opts.containerIdentifier,
    IssuerOfTheContainerIdentifierSequence: [],
    ContainerTypeCodeSequence: [{ CodeValue: '433466003', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Microscope slide' }],
    SpecimenDescriptionSequence: [{
      SpecimenIdentifier: opts.specimenIdentifier,
      SpecimenUID: opts.specimenUid,
      IssuerOfTheSpecimenIdentifierSequence: [],
      SpecimenPreparationSequence: [],
    }],
    SpecimenLabelInImage: 'NO',
    BurnedInAnnotation: 'NO',
    DimensionOrganizationType: 'TILED_SPARSE',
  };
  if (c.studyDate) entries.StudyDate = c.studyDate;
  if (c.studyTime) entries.StudyTime = c.studyTime;
  return entries;
}

/**
 * Dicomizes one slide or large image into opts.outDir and returns what was written. The
 * output is a single series: levels finest first, each one instance or a concatenation.
 */
export async function dicomize(input: string, opts: DicomizeOptions): Promise<DicomizeResult> {
  const log = opts.log ?? ((): void => undefined);
  if (!fs.existsSync(input) || !fs.statSync(input).isFile()) throw dicomizeError(`${input}: no such file`);
  if (!toolAvailable()) {
    throw dicomizeError(`${DICOMIZER_TOOL} is not installed; install the Debian package orthanc-wsi (sudo apt-get install orthanc-wsi libopenslide0), or run \`sentinel stack up\``);
  }
  for (const [name, uid] of Object.entries({ study: opts.studyInstanceUid, series: opts.seriesInstanceUid, 'frame of reference': opts.frameOfReferenceUid, specimen: opts.specimenUid })) {
    if (uid !== undefined && (!UID_PATTERN.test(uid) || uid.length > 64)) throw dicomizeError(`${name} UID "${uid}" is not a valid UID`);
  }
  const source = await inspectSource(input);
  let openslide: string | undefined;
  if (source.kind === 'openslide') {
    openslide = opts.openslideLibrary ?? findOpenSlideLibrary();
    if (!openslide) throw dicomizeError('libopenslide.so.0 not found; install the Debian package libopenslide0, or give its path');
  }
  let spacing: DicomizeResult['source']['pixelSpacingMm'];
  let spacingSource: DicomizeResult['source']['pixelSpacingSource'];
  if (opts.pixelSpacingMm !== undefined) {
    if (!(opts.pixelSpacingMm > 0 && opts.pixelSpacingMm < 1)) throw dicomizeError(`pixel spacing ${opts.pixelSpacingMm} mm is not a microscope's`);
    spacing = opts.pixelSpacingMm;
    spacingSource = 'option';
  } else if (source.spacing) {
    spacing = source.spacing.value;
    spacingSource = source.spacing.source;
  } else if (source.kind === 'image') {
    spacing = DEFAULT_IMAGE_PIXEL_SPACING_MM;
    spacingSource = 'default';
    log(`no pixel size in ${path.basename(input)}; using ${DEFAULT_IMAGE_PIXEL_SPACING_MM} mm (give the real one with the pixel spacing option)`);
  } else {
    throw dicomizeError(`${path.basename(input)} does not say its pixel size; give it (mm per pixel)`);
  }

  const base = path.basename(input, path.extname(input));
  const containerIdentifier = opts.containerIdentifier ?? base.slice(0, 64);
  const specimenIdentifier = opts.specimenIdentifier ?? containerIdentifier;
  const ids = {
    studyInstanceUid: opts.studyInstanceUid ?? newUid(),
    seriesInstanceUid: opts.seriesInstanceUid ?? newUid(),
    frameOfReferenceUid: opts.frameOfReferenceUid ?? newUid(),
    specimenUid: opts.specimenUid ?? newUid(),
  };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-dicomize-'));
  try {
    const datasetFile = path.join(work, 'dataset.json');
    const entries = datasetFor({
      ...ids, containerIdentifier, specimenIdentifier, context: opts.context ?? {},
      seriesNumber: opts.seriesNumber ?? 1, seriesDescription: opts.seriesDescription ?? `Whole-slide image ${containerIdentifier}`.slice(0, 64),
    });
    fs.writeFileSync(datasetFile, JSON.stringify(entries, null, 2));
    const toolOut = path.join(work, 'out');
    fs.mkdirSync(toolOut);
    const pyramid = opts.pyramid ?? (source.kind === 'image' || source.sourceLevels < 2);
    const tileSize = opts.tileSize ?? (source.kind === 'image' ? 256 : undefined);
    const args = [
      '--dataset', datasetFile,
      '--folder', toolOut,
      '--compression', 'jpeg',
      '--jpeg-quality', String(opts.jpegQuality ?? 90),
      '--pyramid', pyramid ? '1' : '0',
      '--threads', String(opts.threads ?? Math.max(1, os.availableParallelism())),
      '--max-size', String(opts.maxInstanceMb ?? 0),
      ...(source.width && source.height ? ['--imaged-width', formatDs(source.width * spacing), '--imaged-height', formatDs(source.height * spacing)] : []),
      ...(tileSize ? ['--tile-width', String(tileSize), '--tile-height', String(tileSize)] : []),
      ...(openslide ? ['--openslide', openslide] : []),
      input,
    ];
    log(`${DICOMIZER_TOOL} ${args.join(' ')}`);
    const t0 = performance.now();
    const res = await run(DICOMIZER_TOOL, args);
    const toolSeconds = (performance.now() - t0) / 1000;
    const produced = fs.readdirSync(toolOut).filter((f) => f.endsWith('.dcm')).sort();
    if (res.code !== 0 || produced.length === 0) {
      const tail = res.output.split('\n').filter((l) => /^E|error|exception/i.test(l)).slice(-5).join('\n') || res.output.split('\n').slice(-5).join('\n');
      throw dicomizeError(`${DICOMIZER_TOOL} failed on ${path.basename(input)} (exit ${res.code}):\n${tail}`);
    }
    const t1 = performance.now();
    fs.mkdirSync(opts.outDir, { recursive: true });
    const fixed = fixToolOutput(produced.map((f) => readToolFile(path.join(toolOut, f))), spacing, entries, opts.originMm);
    const levels: DicomizedLevel[] = [];
    const files: string[] = [];
    for (const level of fixed.levels) {
      const out: DicomizedLevel = { ...level.summary, files: [] };
      level.parts.forEach((part, i) => {
        const file = path.join(opts.outDir, level.parts.length === 1 ? `level${level.summary.level}.dcm` : `level${level.summary.level}-${i + 1}.dcm`);
        writeFixed(part, file);
        out.files.push(file);
        files.push(file);
      });
      levels.push(out);
    }
    const finest = levels[0];
    return {
      files,
      ...ids,
      containerIdentifier,
      specimenIdentifier,
      levels,
      source: {
        kind: source.kind,
        width: finest?.totalPixelMatrixColumns ?? source.width,
        height: finest?.totalPixelMatrixRows ?? source.height,
        pixelSpacingMm: spacing,
        pixelSpacingSource: spacingSource,
      },
      fixes: fixed.fixes,
      seconds: { tool: toolSeconds, fix: (performance.now() - t1) / 1000 },
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

interface FixedLevel {
  parts: ToolFile[];
  summary: Omit<DicomizedLevel, 'files'>;
}

/** The header corrections listed at the top of this file, on all files of one tool run. */
/** Text attributes set again after the tool, which writes ISO_IR 100 and drops what Latin-1 cannot hold. */
const TEXT_ATTRIBUTES = ['PatientID', 'PatientName', 'ReferringPhysicianName', 'AccessionNumber', 'StudyID', 'StudyDescription', 'SeriesDescription', 'ContainerIdentifier'] as const;

function fixToolOutput(files: ToolFile[], spacingMm: number, entries: Record<string, unknown>, originOption?: { xMm: number; yMm: number }): { levels: FixedLevel[]; fixes: string[] } {
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
    // A level's pixel (0, 0) averages the finest level's first f x f pixels: its centre is (f - 1) / 2 finest pixels in.
    const origin = pixelToSlideCoordinates(origin0, orientation, [spacingMm, spacingMm], (factors[1] - 1) / 2, (factors[0] - 1) / 2);
    const imageType = ['DERIVED', 'PRIMARY', 'VOLUME', level === 0 ? 'NONE' : 'RESAMPLED'];
    for (const part of parts) {
      const ds = part.ds;
      // dcmjs writes strings as UTF-8: the given texts go in unchanged.
      ds.SpecificCharacterSet = 'ISO_IR 192';
      for (const key of TEXT_ATTRIBUTES) {
        const v = entries[key];
        if (typeof v !== 'string') continue;
        ds[key] = key === 'PatientName' || key === 'ReferringPhysicianName' ? (v === '' ? [] : [{ Alphabetic: v }]) : v;
      }
      const specimen = seq(ds, 'SpecimenDescriptionSequence')[0];
      const given = seq(entries, 'SpecimenDescriptionSequence')[0];
      if (specimen && given) specimen.SpecimenIdentifier = given.SpecimenIdentifier;
      ds.ImageType = imageType;
      if (level > 0) fixes.add('Image Type value 4 RESAMPLED on the levels below the finest');

      const shared = seq(ds, 'SharedFunctionalGroupsSequence')[0] ?? {};
      ds.SharedFunctionalGroupsSequence = [shared];
      if (!shared.WholeSlideMicroscopyImageFrameTypeSequence) fixes.add('added the Whole Slide Microscopy Image Frame Type functional group (Type 1)');
      shared.WholeSlideMicroscopyImageFrameTypeSequence = [{ FrameType: imageType }];
      const measures = seq(shared, 'PixelMeasuresSequence')[0] ?? {};
      shared.PixelMeasuresSequence = [measures];
      measures.PixelSpacing = pixelSpacing.map(formatDs);
      fixes.add('Pixel Spacing from the slide\'s real pixel size, exact per level');
      ds.ImagedVolumeWidth = widthMm;
      ds.ImagedVolumeHeight = heightMm;
      fixes.add('the same Imaged Volume Width/Height on every level');
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
      fixes.add('Total Pixel Matrix Origin per level and per-frame X/Y Offset in Slide Coordinate System recomputed from Image Orientation (Slide) (the tool swaps X and Y)');

      const paths = seq(ds, 'OpticalPathSequence');
      for (const p of paths) {
        for (const code of seq(p, 'IlluminationColorCodeSequence')) {
          if (code.CodingSchemeDesignator === 'SRT' && code.CodeValue === 'R-102C0') {
            Object.assign(code, { CodeValue: '414298005', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Full Spectrum' });
            fixes.add('illumination colour Full Spectrum coded in SCT instead of retired SRT');
          }
        }
      }
      // The tool writes a made-up ratio (10); the real one is in the bytes.
      const compressed = part.size - part.pixelDataOffset;
      const raw = numberOf(ds.NumberOfFrames) * numberOf(ds.Rows) * numberOf(ds.Columns) * numberOf(ds.SamplesPerPixel);
      if (ds.LossyImageCompression === '01' && compressed > 0) {
        ds.LossyImageCompressionRatio = formatDs(Math.round((raw / compressed) * 100) / 100);
        fixes.add('Lossy Image Compression Ratio measured from the compressed frames');
      }
      ds.PyramidUID = pyramidUid;
      ds.NumberOfOpticalPaths = Math.max(1, paths.length);
      ds.TotalPixelMatrixFocalPlanes = 1;
      fixes.add('added Number of Optical Paths and Total Pixel Matrix Focal Planes');

      if (parts.length === 1) {
        for (const k of ['SOPInstanceUIDOfConcatenationSource', 'ConcatenationUID', 'InConcatenationNumber', 'ConcatenationFrameOffsetNumber', 'InConcatenationTotalNumber']) {
          if (k in ds) {
            delete ds[k];
            fixes.add('concatenation attributes removed from levels stored as one instance');
          }
        }
      } else {
        ds.InConcatenationTotalNumber = parts.length;
        fixes.add('In-concatenation Total Number added to split levels');
      }
    }
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
        transferSyntaxUid: String((first.meta['00020010'] as { Value?: unknown[] } | undefined)?.Value?.[0] ?? ''),
      },
    };
  });
  return { levels, fixes: [...fixes] };
}

export interface StoreResult {
  stored: number;
  failed: Array<{ sopInstanceUid?: string; reason?: number }>;
}

/** STOW-RS the files into the PACS, a few per request; reports every instance the server refused. */
export async function storeFiles(client: Pick<DicomwebClient, 'store'>, files: string[], studyInstanceUid?: string, batchBytes = 48 * 1024 * 1024): Promise<StoreResult> {
  const result: StoreResult = { stored: 0, failed: [] };
  let batch: Uint8Array[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const response = await client.store(batch, studyInstanceUid);
    const failed = items(response, '00081198').map((it) => ({ sopInstanceUid: str(it, '00081155'), reason: Number(str(it, '00081197') ?? NaN) }));
    result.failed.push(...failed);
    result.stored += batch.length - failed.length;
    batch = [];
    size = 0;
  };
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    if (size > 0 && size + bytes.length > batchBytes) await flush();
    batch.push(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    size += bytes.length;
  }
  await flush();
  return result;
}
