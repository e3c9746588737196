// `sentinel dicomize <image-or-slide> [--study UID] [--out DIR] [--store]`: a slide (SVS, TIFF
// and the other OpenSlide formats) or a large JPEG/PNG becomes a DICOM VL Whole Slide
// Microscopy Image series, written to a folder and/or sent to the configured PACS (STOW-RS).
import { progressReporter } from './progress';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/load';
import { DicomwebClient } from '../dicomweb/client';
import { dicomwebTarget } from '../service/services';
import { type PatientStudyContext, dicomize, storeFiles, studyContextFromPacs } from '../wsi/dicomize';
import { SentinelError } from '../errors/errors';

export interface DicomizeCommandOptions {
  /** Study Instance UID to put the slide in (with --store, its patient/study attributes are copied from the PACS). */
  study?: string;
  /** Output folder (default: ./<input name>-dicom, or a temporary folder removed after --store). */
  out?: string;
  /** Send the files to the configured Orthanc over DICOMweb STOW-RS. */
  store?: boolean;
  /** Container (slide) identifier; default the input's file name. */
  container?: string;
  /** Specimen identifier; default the container identifier. */
  specimen?: string;
  patientId?: string;
  patientName?: string;
  accession?: string;
  seriesDescription?: string;
  /** mm per pixel of the full resolution (default: the slide's own; 0.004 for JPEG/PNG). */
  pixelSpacing?: string | number;
  /** Tile size in pixels (default 256 for JPEG/PNG; a slide keeps its own tiles). */
  tileSize?: string | number;
  jpegQuality?: string | number;
  /** Rebuild the pyramid (default: JPEG/PNG and single-level slides). */
  pyramid?: boolean;
  /** Split levels larger than this many MB into concatenations (default 0: never). */
  maxInstanceMb?: string | number;
  /** Path of libopenslide.so.0. */
  openslide?: string;
}

function parseNumber(name: string, v: string | number | undefined, check: (n: number) => boolean): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || !check(n)) throw new SentinelError('bad_request', `--${name}: "${v}" is not a valid value`);
  return n;
}

export async function runDicomize(input: string, opts: DicomizeCommandOptions): Promise<number> {
  let tmpOut: string | undefined;
  try {
    const pixelSpacingMm = parseNumber('pixel-spacing', opts.pixelSpacing, (n) => n > 0 && n < 1);
    const tileSize = parseNumber('tile-size', opts.tileSize, (n) => Number.isInteger(n) && n >= 16 && n <= 4096);
    const jpegQuality = parseNumber('jpeg-quality', opts.jpegQuality, (n) => Number.isInteger(n) && n >= 1 && n <= 100);
    const maxInstanceMb = parseNumber('max-instance-mb', opts.maxInstanceMb, (n) => Number.isInteger(n) && n >= 0);
    const file = path.resolve(input);
    if (!fs.existsSync(file)) {
      console.error(`sentinel dicomize: ${input}: no such file`);
      return 1;
    }
    let outDir: string;
    if (opts.out) outDir = path.resolve(opts.out);
    else if (opts.store) outDir = tmpOut = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-dicomize-out-'));
    else outDir = path.resolve(`${path.basename(file, path.extname(file))}-dicom`);

    const client = opts.store ? new DicomwebClient(dicomwebTarget(loadConfig())) : undefined;
    let context: PatientStudyContext = {};
    if (client && opts.study) {
      const existing = await studyContextFromPacs(client, opts.study);
      if (existing) {
        context = existing;
        console.log(`study       ${opts.study} found in the PACS: patient ${existing.patientId ?? '(no id)'}`);
      }
    }
    context = {
      ...context,
      ...(opts.patientId !== undefined ? { patientId: opts.patientId } : {}),
      ...(opts.patientName !== undefined ? { patientName: opts.patientName } : {}),
      ...(opts.accession !== undefined ? { accessionNumber: opts.accession } : {}),
    };

    const report = progressReporter();
    const result = await dicomize(file, {
      outDir,
      studyInstanceUid: opts.study,
      containerIdentifier: opts.container,
      specimenIdentifier: opts.specimen,
      seriesDescription: opts.seriesDescription,
      context,
      pixelSpacingMm,
      tileSize,
      jpegQuality,
      pyramid: opts.pyramid,
      maxInstanceMb,
      openslideLibrary: opts.openslide,
      log: (msg) => {
        if (!msg.startsWith('OrthancWSIDicomizer ')) console.log(`note        ${msg}`);
        else console.error('dicomize: OrthancWSIDicomizer is cutting the tiles (no progress of its own to show)');
      },
      progress: (phase, done, total) => report(`dicomize: ${phase}`, done, total),
    });
    const s = result.source;
    console.log(`input       ${file} (${s.kind}, ${s.width} x ${s.height} px, ${s.pixelSpacingMm} mm/px from ${s.pixelSpacingSource})`);
    console.log(`study       ${result.studyInstanceUid}`);
    console.log(`series      ${result.seriesInstanceUid}`);
    console.log(`slide       container ${result.containerIdentifier}, specimen ${result.specimenIdentifier} (${result.specimenUid}), frame of reference ${result.frameOfReferenceUid}`);
    for (const level of result.levels) {
      console.log(`level ${level.level}     ${level.totalPixelMatrixColumns} x ${level.totalPixelMatrixRows} px, ${level.pixelSpacingMm[1]} mm/px, ${level.numberOfFrames} tiles of ${level.tileColumns} x ${level.tileRows}`);
      if (!tmpOut) for (const f of level.files) console.log(`            ${f}`);
    }
    console.log(`time        ${(result.seconds.tool + result.seconds.fix).toFixed(1)} s`);

    if (client) {
      const stored = await storeFiles(client, result.files, result.studyInstanceUid);
      console.log(`stored      ${stored.stored} of ${result.files.length} instances into ${client.target.url}`);
      if (stored.failed.length > 0) {
        for (const f of stored.failed) console.error(`refused     ${f.sopInstanceUid ?? '?'} (failure reason ${f.reason ?? '?'})`);
        return 1;
      }
    }
    return 0;
  } catch (err) {
    console.error(`sentinel dicomize: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    if (tmpOut) fs.rmSync(tmpOut, { recursive: true, force: true });
  }
}
