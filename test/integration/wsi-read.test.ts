// Whole-slide round trip through the real bundled Orthanc: an IDC mosaic is dicomized, sent
// with STOW-RS, described from Orthanc's DICOMweb series metadata, and read back tile by tile
// (WADO-RS frames in their stored transfer syntax); the tiles are compared pixel for pixel with
// the same frames read from the files, and within JPEG error with the source mosaic. Then
// `sentinel dicomize --store --study` adds a second slide to the same study and patient.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { Config } from '../../src/config/schema';
import { DicomwebClient } from '../../src/dicomweb/client';
import { newUid } from '../../src/dicom/uid';
import { runDicomize } from '../../src/cli/dicomize-command';
import { dicomwebTarget } from '../../src/service/services';
import { str } from '../../src/dicom/json';
import { listStudyInstances } from '../../src/analysis/image-set';
import { fetchStudyInstances } from '../../src/analysis/instances';
import { describeStudySlides } from '../../src/analysis/study-slides';
import { pipelineNamed } from '../../src/pipelines/registry';
import { part10ToDicomJson } from '../../src/dicom/part10';
import { Tag } from '../../src/dicom/tags';
import { type DicomizeResult, dicomize, storeFiles } from '../../src/wsi/dicomize';
import { type Slide, chooseLevel, describeSlide, groupSlides } from '../../src/wsi/slide';
import { isMissing, readRegion, readTiles } from '../../src/wsi/tiles';
import { localSlide } from '../support/wsi-fixtures';
import { sharedData } from '../support/shared-data';
import { ensureStack } from '../support/stack';

jest.setTimeout(180_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-wsi-read-'));
const study = newUid();

async function orthanc(config: Config, method: string, route: string, body?: string): Promise<Response> {
  return fetch(new URL(route, config.orthanc.url), {
    method,
    body,
    headers: { Authorization: `Basic ${Buffer.from(`${config.orthanc.username}:${config.orthanc.password}`).toString('base64')}` },
  });
}

describe('whole-slide images through the bundled Orthanc', () => {
  let config: Config;
  let client: DicomwebClient;
  let result: DicomizeResult;
  let slide: Slide;
  const jpg = sharedData('pathology/idc-slides/8863.jpg');

  beforeAll(async () => {
    config = await ensureStack();
    client = new DicomwebClient(dicomwebTarget(config));
    result = await dicomize(jpg, { outDir: path.join(tmp, '8863'), studyInstanceUid: study, tileSize: 256, context: { patientId: 'WSI-ROUNDTRIP', patientName: 'Round^Trip' } });
    const stored = await storeFiles(client, result.files, study);
    expect(stored).toEqual({ stored: result.files.length, failed: [] });
    slide = describeSlide(await client.seriesMetadata(study, result.seriesInstanceUid));
  });

  afterAll(async () => {
    fs.rmSync(tmp, { recursive: true, force: true });
    // Remove this test's study from the shared Orthanc.
    if (!config) return;
    const found = (await (await orthanc(config, 'POST', '/tools/lookup', study)).json()) as Array<{ Type: string; ID: string }>;
    for (const r of found.filter((x) => x.Type === 'Study')) await orthanc(config, 'DELETE', `/studies/${r.ID}`);
  });

  it('describes the slide from DICOMweb metadata alone', () => {
    expect(slide.studyInstanceUid).toBe(study);
    expect(slide.frameOfReferenceUid).toBe(result.frameOfReferenceUid);
    expect(slide.containerIdentifier).toBe('8863');
    expect(slide.specimens[0]?.uid).toBe(result.specimenUid);
    expect(slide.levels.map((l) => [l.totalPixelMatrixColumns, l.totalPixelMatrixRows, l.numberOfFrames])).toEqual([
      [2800, 2350, 110], [1400, 1175, 30], [700, 588, 9], [350, 294, 4], [175, 147, 1],
    ]);
    expect(slide.levels[0]!.pixelSpacingMm).toEqual([0.004, 0.004]);
    expect(chooseLevel(slide, 0.004)).toMatchObject({ level: { index: 0 }, scale: 1 });
  });

  it('describes only the instances a job listed: an instance arriving after the listing is not read into its analysis', async () => {
    const listed = await listStudyInstances(client, study, ['SM']);
    expect(listed).toHaveLength(result.files.length);
    // As if the finest level had arrived just after the job listed the study.
    const finest = slide.levels[0]!.instances.map((i) => i.sopInstanceUid);
    const earlier = listed.filter((i) => !finest.includes(i.sopInstanceUid));
    const [described] = await describeStudySlides(client, study, pipelineNamed('wsi'), earlier);
    expect(described!.levels.map((l) => l.totalPixelMatrixColumns)).toEqual([1400, 700, 350, 175]);
    const [all] = await describeStudySlides(client, study, pipelineNamed('wsi'));
    expect(all!.levels.map((l) => l.totalPixelMatrixColumns)).toEqual([2800, 1400, 700, 350, 175]);
    // The same for a pipeline that reads whole instances: the listed ones, not listed again.
    const files = await fetchStudyInstances(client, study, ['SM'], { listed: earlier.slice(0, 2) });
    expect(files.map((f) => str(part10ToDicomJson(f), Tag.SOPInstanceUID) ?? '')).toEqual(earlier.slice(0, 2).map((i) => i.sopInstanceUid));
  });

  it('reads tiles that are the stored frames, pixel for pixel, and the mosaic within JPEG error', async () => {
    const level = slide.levels[0]!;
    const local = describeSlide(localSlide(result.files).metadata).levels[0]!;
    const wanted = [{ row: 0, column: 0 }, { row: 4, column: 5 }, { row: 7, column: 3 }, { row: 9, column: 10 }, { row: 10, column: 0 }];
    const [remote, files] = await Promise.all([readTiles(client, level, wanted), readTiles(localSlide(result.files).source, local, wanted)]);
    expect(isMissing(remote[4]!)).toBe(true);
    for (let i = 0; i < 4; i++) {
      const r = remote[i]!;
      const f = files[i]!;
      if (isMissing(r) || isMissing(f)) throw new Error(`tile ${r.row},${r.column} missing`);
      expect(Buffer.from(r.rgb).equals(Buffer.from(f.rgb))).toBe(true);
      const x = r.column * 256;
      const y = r.row * 256;
      const w = Math.min(256, 2800 - x);
      const h = Math.min(256, 2350 - y);
      const ref = await sharp(jpg).extract({ left: x, top: y, width: w, height: h }).raw().toBuffer();
      let sum = 0;
      for (let yy = 0; yy < h; yy++) for (let xx = 0; xx < w * 3; xx++) sum += Math.abs((r.rgb[yy * 256 * 3 + xx] as number) - (ref[yy * w * 3 + xx] as number));
      expect(sum / (w * h * 3)).toBeLessThan(4);
    }
  });

  it('reads the whole finest level, 32 frames per request', async () => {
    const level = slide.levels[0]!;
    const started = performance.now();
    const tiles = await readTiles(client, level, level.availableTiles());
    const seconds = (performance.now() - started) / 1000;
    expect(tiles.filter(isMissing)).toEqual([]);
    console.log(`readTiles from the bundled Orthanc: ${tiles.length} tiles of 256 x 256 in ${seconds.toFixed(2)} s, ${(tiles.length / seconds).toFixed(0)} tiles/s`);
  });

  it('reads a low-resolution level as one region (tissue detection input)', async () => {
    const level = slide.levels[slide.levels.length - 1]!;
    const region = await readRegion(client, level, 0, 0, level.totalPixelMatrixColumns, level.totalPixelMatrixRows);
    expect(region.rgb).toHaveLength(175 * 147 * 3);
    // The mosaic's background (242) in the top left corner.
    expect(Array.from(region.rgb.subarray(0, 3)).every((v) => Math.abs(v - 242) <= 3)).toBe(true);
  });

  it('sentinel dicomize --store --study adds a second slide to the same study and patient', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    // The command reads the configuration as an operator's shell would: point it at the tests' Orthanc.
    const before = process.env.ORTHANC_URL;
    process.env.ORTHANC_URL = client.target.url.replace(/\/dicom-web$/, '');
    let code: number;
    try {
      code = await runDicomize(sharedData('pathology/wsi/CMU-1-Small-Region.svs'), { store: true, study });
    } finally {
      log.mockRestore();
      if (before === undefined) delete process.env.ORTHANC_URL;
      else process.env.ORTHANC_URL = before;
    }
    expect(code).toBe(0);
    const metadata = await client.studyMetadata(study);
    const slides = groupSlides(metadata).map(describeSlide);
    expect(slides).toHaveLength(2);
    expect(new Set(metadata.map((m) => str(m, '00100020')))).toEqual(new Set(['WSI-ROUNDTRIP']));
    const svs = slides.find((s) => s.containerIdentifier === 'CMU-1-Small-Region')!;
    expect(svs.levels[0]).toMatchObject({ totalPixelMatrixColumns: 2220, totalPixelMatrixRows: 2967, tileColumns: 240 });
    const [tile] = await readTiles(client, svs.levels[0]!, [{ row: 3, column: 3 }]);
    expect(isMissing(tile!)).toBe(false);
  });
});
