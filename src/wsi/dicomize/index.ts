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
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { newUid } from '../../dicom/uid';
import { datasetFor, formatDs } from './dataset';
import { fixToolOutput } from './fixes';
import { type DicomizeOptions, type DicomizeResult, type DicomizedLevel, DEFAULT_IMAGE_PIXEL_SPACING_MM, dicomizeError } from './options';
import { inspectSource } from './source';
import { readToolFile, writeFixed } from './tool-file';
import { DICOMIZER_TOOL, findOpenSlideLibrary, run, toolAvailable } from './tool';

export { DICOMIZER_TOOL, findOpenSlideLibrary } from './tool';
export { formatDs, studyContextFromPacs } from './dataset';
export { storeFiles, type StoreResult } from './store';
export * from './options';

const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

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
    const toolFiles = [];
    for (const f of produced) {
      toolFiles.push(await readToolFile(path.join(toolOut, f)));
      opts.progress?.('files read back from the dicomizer', toolFiles.length, produced.length);
    }
    const fixed = fixToolOutput(toolFiles, spacing, entries, opts.originMm);
    const levels: DicomizedLevel[] = [];
    const files: string[] = [];
    const parts = fixed.levels.reduce((n, l) => n + l.parts.length, 0);
    for (const level of fixed.levels) {
      const out: DicomizedLevel = { ...level.summary, files: [] };
      level.parts.forEach((part, i) => {
        const file = path.join(opts.outDir, level.parts.length === 1 ? `level${level.summary.level}.dcm` : `level${level.summary.level}-${i + 1}.dcm`);
        writeFixed(part, file);
        out.files.push(file);
        files.push(file);
        opts.progress?.('files fixed and written', files.length, parts);
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
