// `sentinel dicomize`: an IDC mosaic (JPEG), a PNG and a real Aperio SVS become VL Whole
// Slide Microscopy Image series that dciodvfy accepts without a single error, one frame of
// reference, container and specimen for all levels, and the input's pixel size and size.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { runDicomize } from '../../../src/cli/dicomize-command';
import { readNaturalizedHeader } from '../../../src/dicom/part10';
import { part10ToDicomJson } from '../../../src/dicom/part10';
import { type DicomizeResult, dicomize, formatDs } from '../../../src/wsi/dicomize';
import { describeSlide } from '../../../src/wsi/slide';
import { dciodvfy } from '../../support/dicom-judges';
import { sharedData } from '../../support/shared-data';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-dicomize-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Header = Record<string, unknown>;
const header = (file: string): Header => readNaturalizedHeader(fs.readFileSync(file));
const first = <T>(v: unknown): T => (Array.isArray(v) ? v[0] : v) as T;

function expectValidSeries(result: DicomizeResult): Header[] {
  expect(result.files.length).toBeGreaterThan(0);
  const problems: string[] = [];
  for (const file of result.files) {
    const judged = dciodvfy(file);
    problems.push(...judged.errors.map((e) => `${path.basename(file)}: ${e}`));
  }
  expect(problems).toEqual([]);
  const headers = result.files.map(header);
  for (const key of ['StudyInstanceUID', 'SeriesInstanceUID', 'FrameOfReferenceUID', 'ContainerIdentifier', 'PyramidUID']) {
    expect(new Set(headers.map((h) => h[key])).size).toBe(1);
  }
  for (const h of headers) {
    const specimen = first<Header>(h.SpecimenDescriptionSequence);
    expect(specimen.SpecimenIdentifier).toBe(result.specimenIdentifier);
    expect(specimen.SpecimenUID).toBe(result.specimenUid);
    expect(h.FrameOfReferenceUID).toBe(result.frameOfReferenceUid);
    expect(h.ContainerIdentifier).toBe(result.containerIdentifier);
    expect(h.SOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.77.1.6');
  }
  return headers;
}

function spacingOf(h: Header): number[] {
  const shared = first<Header>(h.SharedFunctionalGroupsSequence);
  const measures = first<Header>(shared.PixelMeasuresSequence);
  return (measures.PixelSpacing as unknown[]).map(Number);
}

describe('dicomize', () => {
  it('turns an IDC mosaic (JPEG) into a valid 4 micron pyramid in the given study', async () => {
    const study = '2.25.123456789012345678901234567890';
    const result = await dicomize(sharedData('pathology/idc-slides/8863.jpg'), { outDir: path.join(tmp, '8863'), studyInstanceUid: study, containerIdentifier: 'IDC-8863' });
    const headers = expectValidSeries(result);
    expect(result.studyInstanceUid).toBe(study);
    expect(headers.every((h) => h.StudyInstanceUID === study)).toBe(true);
    expect(result.source).toMatchObject({ kind: 'image', width: 2800, height: 2350, pixelSpacingMm: 0.004, pixelSpacingSource: 'default' });
    const finest = headers[0]!;
    expect([finest.TotalPixelMatrixColumns, finest.TotalPixelMatrixRows]).toEqual([2800, 2350]);
    expect(spacingOf(finest)).toEqual([0.004, 0.004]);
    expect(finest.ImagedVolumeWidth).toBeCloseTo(11.2, 5);
    expect(finest.ImagedVolumeHeight).toBeCloseTo(9.4, 5);
    expect(finest.ImageType).toEqual(['DERIVED', 'PRIMARY', 'VOLUME', 'NONE']);
    expect(result.levels.map((l) => l.pixelSpacingMm[1])).toEqual([0.004, 0.008, 0.016, 0.032, 0.064]);
    expect(headers.slice(1).every((h) => (h.ImageType as string[])[3] === 'RESAMPLED')).toBe(true);
    expect(headers.every((h) => h.DimensionOrganizationType === 'TILED_SPARSE' && h.ConcatenationUID === undefined)).toBe(true);
    expect(result.levels[0]).toMatchObject({ numberOfFrames: 110, tileColumns: 256, transferSyntaxUid: '1.2.840.10008.1.2.4.50' });
  });

  it('turns an Aperio SVS into a valid series with the slide\'s own 0.499 micron pixels, keeping its tiles', async () => {
    const result = await dicomize(sharedData('pathology/wsi/CMU-1-Small-Region.svs'), { outDir: path.join(tmp, 'svs'), context: { patientId: 'P-1', patientName: 'Müller^Zoë 山田' } });
    const headers = expectValidSeries(result);
    expect(result.source).toMatchObject({ kind: 'openslide', width: 2220, height: 2967, pixelSpacingMm: 0.000499, pixelSpacingSource: 'aperio-mpp' });
    const finest = headers[0]!;
    expect([finest.TotalPixelMatrixColumns, finest.TotalPixelMatrixRows]).toEqual([2220, 2967]);
    expect(spacingOf(finest)).toEqual([0.000499, 0.000499]);
    expect([finest.Columns, finest.Rows]).toEqual([240, 240]);
    expect(result.levels.length).toBeGreaterThan(1);
    expect(result.containerIdentifier).toBe('CMU-1-Small-Region');
    // Names outside Latin-1 survive (the tool alone writes ISO_IR 100 and drops them).
    expect(finest.SpecificCharacterSet).toBe('ISO_IR 192');
    expect(finest.PatientName).toEqual([{ Alphabetic: 'Müller^Zoë 山田' }]);
    expect(finest.PatientID).toBe('P-1');
  });

  it('takes a PNG with its pixel size given, and splits levels into concatenations on request', async () => {
    const png = path.join(tmp, 'crop.png');
    await sharp(sharedData('pathology/idc-slides/8863.jpg')).extract({ left: 0, top: 0, width: 2600, height: 2200 }).png({ compressionLevel: 1 }).toFile(png);
    const result = await dicomize(png, { outDir: path.join(tmp, 'png'), pixelSpacingMm: 0.00025, tileSize: 128, maxInstanceMb: 1 });
    expect(result.source).toMatchObject({ kind: 'image', width: 2600, height: 2200, pixelSpacingMm: 0.00025, pixelSpacingSource: 'option' });
    const headers = result.files.map(header);
    expect(spacingOf(headers[0]!)).toEqual([0.00025, 0.00025]);
    expect(headers[0]!.Columns).toBe(128);
    const split = result.levels.find((l) => l.files.length > 1);
    expect(split).toBeDefined();
    const parts = split!.files.map(header);
    expect(new Set(parts.map((p) => p.ConcatenationUID)).size).toBe(1);
    expect(parts.map((p) => p.InConcatenationNumber)).toEqual(parts.map((_, i) => i + 1));
    expect(parts.every((p) => p.InConcatenationTotalNumber === parts.length)).toBe(true);
    expect(parts.reduce((n, p) => n + Number(p.NumberOfFrames), 0)).toBe(Math.ceil(2600 / 128) * Math.ceil(2200 / 128));
    // The reader finds every tile of the split level once, across the parts.
    const level = describeSlide(result.files.map((f) => part10ToDicomJson(fs.readFileSync(f)))).levels[split!.level]!;
    const frames = new Set(level.availableTiles().map((t) => { const loc = level.frameAt(t.row, t.column)!; return `${loc.sopInstanceUid}/${loc.frameNumber}`; }));
    expect(level.instances).toHaveLength(parts.length);
    expect(frames.size).toBe(level.tileGridRows * level.tileGridColumns);
  });

  it('formats decimal strings in at most 16 characters', () => {
    expect(formatDs(0.004)).toBe('0.004');
    expect(formatDs(0.1 + 0.2)).toBe('0.3');
    expect(formatDs(37.5 + 11.2 / 2 - 0.002)).toBe('43.098');
    expect(formatDs(-123456.78901234567).length).toBeLessThanOrEqual(16);
    expect(formatDs(1e-9)).toBe('1e-9');
  });
});

describe('sentinel dicomize (runDicomize)', () => {
  it('writes the series to --out and exits 0', async () => {
    const out = path.join(tmp, 'cli');
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const code = await runDicomize(sharedData('pathology/idc-slides/8863.jpg'), { out, tileSize: '512', container: 'SLIDE-A' });
      expect(code).toBe(0);
      expect(log.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/level 0 +2800 x 2350 px, 0.004 mm\/px, 30 tiles of 512 x 512/);
    } finally {
      log.mockRestore();
    }
    const files = fs.readdirSync(out).filter((f) => f.endsWith('.dcm'));
    expect(files.sort()).toEqual(['level0.dcm', 'level1.dcm', 'level2.dcm', 'level3.dcm']);
    expect(header(path.join(out, 'level0.dcm')).ContainerIdentifier).toBe('SLIDE-A');
  });

  it('exits 1 with a reason for a missing file or a bad option', async () => {
    const err = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await runDicomize(path.join(tmp, 'nope.svs'), { out: path.join(tmp, 'x') })).toBe(1);
      expect(await runDicomize(sharedData('pathology/idc-slides/8863.jpg'), { out: path.join(tmp, 'x'), pixelSpacing: 'abc' })).toBe(1);
      expect(await runDicomize(sharedData('pathology/idc-slides/8863.jpg'), { out: path.join(tmp, 'x'), study: '1.2.abc' })).toBe(1);
      const messages = err.mock.calls.map((c) => String(c[0])).join('\n');
      expect(messages).toMatch(/no such file/);
      expect(messages).toMatch(/--pixel-spacing/);
      expect(messages).toMatch(/not a valid UID/);
    } finally {
      err.mockRestore();
    }
  });
});
