// The inference API through the running service: one image in (PNG, JPEG or DICOM), scores
// and outlines out, with known answers (a synthetic lesion's place, BUSI's own lesion mask),
// clear refusals of what it cannot read, and nothing stored.
import sharp from 'sharp';
import { FindingRow } from '../../src/db/entities/finding';
import { JobRow } from '../../src/db/entities/job';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram } from '../../src/samples/mammogram';
import { drawSyntheticBreast, toGray8 } from '../../src/samples/synthetic-breast';
import type { Prediction } from '../../src/analysis/predict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Harness, startHarness, storescu, waitUntil } from '../support/e2e';
import { TEST_MODEL_ID } from '../support/models/test-model';
import { sharedData } from '../support/shared-data';

jest.setTimeout(180_000);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ shippedModels: ['busi-segmenter', 'idc-tile-classifier'] });
});
afterAll(async () => {
  await h?.close();
});

const auth = (): Record<string, string> => ({ Authorization: `Bearer ${h.token}` });

async function post(model: string, body: Uint8Array, type: string, query = ''): Promise<{ status: number; json: Prediction & { error?: { message: string } } }> {
  const res = await fetch(`${h.baseUrl}/v1/models/${model}/predict${query}`, { method: 'POST', headers: { ...auth(), 'Content-Type': type }, body });
  return { status: res.status, json: await res.json() as Prediction & { error?: { message: string } } };
}

const rows = 600;
const columns = 480;
const lesion = { x: 150, y: 320, radius: 30 };

async function decodeMask(b64: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(Buffer.from(b64, 'base64')).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

describe('the inference API', () => {
  it('lists the installed models with what each takes, and gives a model with its card; only with the token', async () => {
    expect((await fetch(`${h.baseUrl}/v1/models`)).status).toBe(401);
    const list = await (await fetch(`${h.baseUrl}/v1/models`, { headers: auth() })).json() as { models: Array<{ id: string; task: string; predict: string; input: { width: number } }>; accepts: string[] };
    expect(list.models.map((m) => m.id).sort()).toEqual(['busi-segmenter', 'idc-tile-classifier', TEST_MODEL_ID].sort());
    expect(list.accepts).toEqual(['image/png', 'image/jpeg', 'application/dicom']);
    expect(list.models.find((m) => m.id === 'busi-segmenter')).toMatchObject({ task: 'ultrasound-segmentation', predict: '/v1/models/busi-segmenter/predict' });
    const one = await (await fetch(`${h.baseUrl}/v1/models/busi-segmenter`, { headers: auth() })).json() as { card: string; manifest: { id: string } };
    expect(one.manifest.id).toBe('busi-segmenter');
    expect(one.card).toMatch(/^# Model card/);
    expect((await fetch(`${h.baseUrl}/v1/models/no-such-model`, { headers: auth() })).status).toBe(404);
  });

  it('a mammogram as PNG: the lesion where it is, its outline as polygon, SVG path and mask; the same breast as DICOM, read as a job reads it, gives the lesion too; nothing is stored', async () => {
    const jobsBefore = await h.services.ds.getRepository(JobRow).count();
    const gray = toGray8(drawSyntheticBreast({ rows, columns, laterality: 'R', lesions: [lesion], seed: 3, bits: 12 }));
    const png = await sharp(Buffer.from(gray), { raw: { width: columns, height: rows, channels: 1 } }).png().toBuffer();
    const { status, json } = await post(TEST_MODEL_ID, png, 'image/png', '?spacing=0.2&laterality=R&mask=true');
    expect(status).toBe(200);
    expect(json.image).toMatchObject({ width: columns, height: rows, pixelSpacingMm: 0.2, spacingAssumed: false, type: 'image/png' });
    expect(json.findings).toHaveLength(1);
    const f = json.findings[0]!;
    expect(Math.hypot(f.centre.x - lesion.x, f.centre.y - lesion.y)).toBeLessThan(12);
    expect(f.score).toBeGreaterThan(0.5);
    expect(json.category).toBe('high');
    expect(f.areaMm2).toBeGreaterThan(30);
    // The SVG path is the polygon.
    const fromPath = [...f.svgPath.matchAll(/(-?[\d.]+),(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(fromPath).toEqual(f.polygon.map(([x, y]) => [Math.round(x * 100) / 100, Math.round(y * 100) / 100]));
    expect(f.svgPath).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+ Z$/);
    // The mask is the outline filled: the lesion's centre inside, a far corner outside.
    const mask = await decodeMask(json.mask!.base64);
    expect([mask.width, mask.height]).toEqual([columns, rows]);
    expect(mask.data[lesion.y * columns + lesion.x]).toBe(255);
    expect(mask.data[10 * columns + 10]).toBe(0);

    const study = { studyInstanceUid: newUid(), accessionNumber: 'ACC-PREDICT', patientId: 'P-PREDICT', patientName: 'Predict^Test' };
    const dicom = buildSyntheticMammogram(study, { laterality: 'R', view: 'CC' }, { rows, columns, spacingMm: 0.2, lesions: [lesion], seed: 3 });
    const viaDicom = await post(TEST_MODEL_ID, dicom, 'application/dicom');
    expect(viaDicom.status).toBe(200);
    expect(viaDicom.json.findings).toHaveLength(1);
    // The DICOM image is read as a job reads it (its own VOI to display values), so its
    // heatmap is not the PNG's to the cell; the finding is the lesion all the same.
    const d = viaDicom.json.findings[0]!;
    expect(Math.hypot(d.centre.x - lesion.x, d.centre.y - lesion.y)).toBeLessThan(12);
    expect(viaDicom.json.image).toMatchObject({ pixelSpacingMm: 0.2, type: 'application/dicom' });

    expect(await h.services.ds.getRepository(JobRow).count()).toBe(jobsBefore);
    expect((await h.services.dicomweb.searchSeries(study.studyInstanceUid).catch(() => []))).toEqual([]);
  });

  it("an ultrasound image through the lesion segmenter: its mask agrees with BUSI's own (Dice > 0.9 on benign (10))", async () => {
    const png = await sharp(sharedData('ultrasound/busi/benign/benign (10).png')).png().toBuffer();
    const { status, json } = await post('busi-segmenter', png, 'image/png', '?mask=true');
    expect(status).toBe(200);
    expect(json.findings.length).toBeGreaterThanOrEqual(1);
    expect(json.findings[0]!.measurements?.map((m) => m.unit)).toEqual(expect.arrayContaining(['{pixels}']));
    const mask = await decodeMask(json.mask!.base64);
    const truth = await sharp(sharedData('ultrasound/busi-masks/benign/benign (10)_mask.png')).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect([mask.width, mask.height]).toEqual([truth.info.width, truth.info.height]);
    let a = 0; let b = 0; let both = 0;
    mask.data.forEach((v, k) => { const t = (truth.data[k] as number) > 127; if (v) a++; if (t) b++; if (v && t) both++; });
    expect((2 * both) / (a + b)).toBeGreaterThan(0.9);
  });

  it('a pathology image through the tile classifier: a map over its 50-pixel cells and outlined regions in image pixels', async () => {
    const jpeg = await sharp(sharedData('pathology/idc-slides/9124.jpg')).extract({ left: 0, top: 0, width: 600, height: 400 }).jpeg().toBuffer();
    const { status, json } = await post('idc-tile-classifier', jpeg, 'image/jpeg', '?mask=true');
    expect(status).toBe(200);
    expect(json.image).toMatchObject({ width: 600, height: 400, spacingAssumed: true });
    expect(json.score).toBeGreaterThanOrEqual(0);
    expect(json.score).toBeLessThanOrEqual(1);
    expect([json.mask!.width, json.mask!.height]).toEqual([12, 8]);
    for (const f of json.findings) for (const [x, y] of f.polygon) expect(x >= 0 && x <= 600 && y >= 0 && y <= 400).toBe(true);
  });

  it('refuses what it cannot read with a sentence: another Content-Type, a body that is not the image it says, an empty body, a bad spacing', async () => {
    const text = await post(TEST_MODEL_ID, Buffer.from('hello'), 'text/plain');
    expect(text.status).toBe(415);
    expect(text.json.error!.message).toContain('send the image itself as image/png, image/jpeg, application/dicom');
    const garbage = await post(TEST_MODEL_ID, Buffer.from('\x89PNG\r\n\x1a\nnot really'), 'image/png');
    expect(garbage.status).toBe(400);
    expect(garbage.json.error!.message).toContain('not a PNG image that can be read');
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const mislabelled = await post(TEST_MODEL_ID, jpeg, 'image/png');
    expect(mislabelled.status).toBe(400);
    expect(mislabelled.json.error!.message).toContain('a JPEG image, but Content-Type says image/png');
    const empty = await post(TEST_MODEL_ID, new Uint8Array(0), 'image/png');
    expect(empty.status).toBe(400);
    expect(empty.json.error!.message).toContain('the body is empty');
    const spacing = await post(TEST_MODEL_ID, jpeg, 'image/jpeg', '?spacing=-1');
    expect(spacing.status).toBe(400);
    expect(spacing.json.error!.message).toContain('spacing=-1');
    const notDicom = await post(TEST_MODEL_ID, Buffer.from('DICM?'), 'application/dicom');
    expect(notDicom.status).toBe(400);
  });
});

describe('GET /studies/{uid}/findings.svg', () => {
  it("a stored study's outlines as SVG in the image's pixels, drawn where the lesion is when rendered (librsvg, through sharp)", async () => {
    const study = { studyInstanceUid: newUid(), accessionNumber: 'ACC-SVG', patientId: 'P-SVG', patientName: 'Svg^Test' };
    const series = newUid();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-svg-'));
    const files = (['L', 'R'] as const).map((laterality, i) => {
      const file = path.join(dir, `${laterality}.dcm`);
      fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality, view: 'CC', seriesInstanceUid: series, instanceNumber: i + 1 }, { rows, columns, spacingMm: 0.2, lesions: laterality === 'R' ? [lesion] : [], seed: 3 }));
      return file;
    });
    storescu(h.config, files);
    const job = await waitUntil('the study analysed', async () => {
      const [j] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: study.studyInstanceUid });
      return j?.state === 'succeeded' ? j : undefined;
    }, 120_000);
    const [stored] = await h.services.ds.getRepository(FindingRow).findBy({ jobId: job.id });
    expect(stored).toBeDefined();

    const url = `${h.baseUrl}/studies/${study.studyInstanceUid}/findings.svg`;
    expect((await fetch(url)).status).toBe(401);
    const res = await fetch(url, { headers: auth() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('image/svg+xml');
    const svg = Buffer.from(await res.arrayBuffer());
    expect(svg.toString()).toContain(`data-finding="${stored!.trackingId}"`);
    const { data, info } = await sharp(svg).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([columns, rows]);
    // Drawn pixels (alpha > 0) lie around the lesion, none far from it.
    let near = 0; let far = 0;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        if ((data[(y * columns + x) * 4 + 3] as number) === 0) continue;
        if (Math.hypot(x - lesion.x, y - lesion.y) < lesion.radius + 25) near++; else far++;
      }
    }
    expect(near).toBeGreaterThan(50);
    expect(far).toBe(0);

    expect((await fetch(`${url}?finding=F99`, { headers: auth() })).status).toBe(404);
    expect((await fetch(`${h.baseUrl}/studies/1.2.3.999/findings.svg`, { headers: auth() })).status).toBe(404);
  });
});

