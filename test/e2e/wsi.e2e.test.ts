// A real slide (an IDC mosaic with a pathologist's patch labels, validation split of the
// model), dicomized and stored into the bundled Orthanc, comes back with a TILED_SPARSE SEG
// and a Comprehensive 3D SR in the same study, sharing the slide's frame of reference, and
// an ORU; the map in the SEG agrees with the truth. The slide is scored in ranges on the
// tiles queue. Real Orthanc, PostgreSQL, Redis, sockets, OrthancWSIDicomizer.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { projectRoot } from '../../src/config/load';
import { JobRow } from '../../src/db/entities/job';
import { OutboxRow } from '../../src/db/entities/outbox';
import { parseDicom } from '../../src/dicom/read';
import { readNaturalizedHeader } from '../../src/dicom/part10';
import { newUid } from '../../src/dicom/uid';
import { rocAuc } from '../../src/evaluation/metrics';
import { dicomize, storeFiles } from '../../src/wsi/dicomize';
import { dciodvfy, dsrdump } from '../support/dicom-judges';
import { type Harness, startHarness, waitUntil } from '../support/e2e';
import { sharedData } from '../support/shared-data';

jest.setTimeout(300_000);

const SLIDE = '9124';
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    shippedModels: ['idc-tile-classifier'],
    rules: [{ name: 'pathology', modalities: ['SM'], pipeline: 'wsi', models: ['idc-tile-classifier'] }],
    tileRangeCells: 200,
  });
});
afterAll(async () => {
  await h?.close();
});

describe('whole-slide pathology end to end', () => {
  it('a dicomized slide stored into Orthanc comes back with a tumour map SEG, a 3D SR and an ORU', async () => {
    const studyInstanceUid = newUid();
    const accession = `WSI${Date.now() % 1e8}`;
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-wsi-e2e-'));
    const slide = await dicomize(sharedData(`pathology/idc-slides/${SLIDE}.jpg`), {
      outDir: out, studyInstanceUid, pixelSpacingMm: 0.004, containerIdentifier: `IDC-${SLIDE}`,
      context: { patientId: `P-${SLIDE}`, patientName: 'Slide^Test', accessionNumber: accession },
    });
    const t0 = Date.now();
    const stored = await storeFiles(h.services.dicomweb, slide.files, studyInstanceUid);
    expect(stored.failed).toEqual([]);

    const job = await waitUntil('the slide job to finish', async () => {
      const [j] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid });
      return j && (j.state === 'succeeded' || j.state === 'failed') ? j : undefined;
    }, 240_000);
    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
    expect(job.pipeline).toBe('wsi');
    expect(job.progressTotal).toBeGreaterThan(200); // more than one range on the tiles queue
    expect(job.progressDone).toBe(job.progressTotal);
    const rows = await waitUntil('SEG, SR and ORU delivered', async () => {
      const r = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job.id });
      return r.length > 0 && r.every((o) => o.state === 'delivered') ? r : undefined;
    }, 60_000);
    console.log(`slide ${SLIDE}: STOW to SEG+SR stored and ORU acknowledged in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${job.progressTotal} tissue cells`);
    expect(rows.map((r) => r.label).sort()).toEqual(['ORU^R01', 'SEG', 'SR']);

    const series = await h.services.dicomweb.searchSeries(studyInstanceUid);
    const fetchOne = async (modality: string): Promise<Uint8Array> => {
      const s = series.find((x) => x.modality === modality)!;
      const meta = await h.services.dicomweb.seriesMetadata(studyInstanceUid, s.seriesInstanceUid);
      return h.services.dicomweb.retrieveInstance(studyInstanceUid, s.seriesInstanceUid, String(meta[0]?.['00080018']?.Value?.[0]));
    };
    const seg = await fetchOne('SEG');
    const sr = await fetchOne('SR');
    expect(dciodvfy(seg).errors).toEqual([]);
    expect(dciodvfy(sr).errors).toEqual([]);
    const segHeader = readNaturalizedHeader(seg);
    expect(segHeader.FrameOfReferenceUID).toBe(slide.frameOfReferenceUid);
    expect(segHeader.ContainerIdentifier).toBe(`IDC-${SLIDE}`);
    expect(segHeader.DimensionOrganizationType).toBe('TILED_SPARSE');
    const spacing = (segHeader.SharedFunctionalGroupsSequence as Array<{ PixelMeasuresSequence: Array<{ PixelSpacing: number[] }> }>)[0]!.PixelMeasuresSequence[0]!.PixelSpacing.map(Number);
    expect(slide.levels.some((l) => Math.abs(l.pixelSpacingMm[1] - spacing[1]!) < 1e-9)).toBe(true); // one of the slide's own levels
    const tree = dsrdump(sr);
    expect(tree).toContain('SCOORD3D');
    expect(tree).toContain('Infiltrating duct carcinoma');

    // The map in the SEG against the pathologist's labels: rebuild it and sample each labelled patch's centre.
    const parsed = parseDicom(seg);
    const total = { rows: Number(segHeader.TotalPixelMatrixRows), columns: Number(segHeader.TotalPixelMatrixColumns) };
    const tile = Number(segHeader.Rows);
    const map = new Float32Array(total.rows * total.columns).fill(0);
    const frames = parsed.frames();
    (segHeader.PerFrameFunctionalGroupsSequence as Array<{ PlanePositionSlideSequence: Array<Record<string, number>> }>).forEach((f, k) => {
      const c0 = f.PlanePositionSlideSequence[0]!.ColumnPositionInTotalImagePixelMatrix! - 1;
      const r0 = f.PlanePositionSlideSequence[0]!.RowPositionInTotalImagePixelMatrix! - 1;
      const px = frames[k]!;
      for (let y = 0; y < tile && r0 + y < total.rows; y++) for (let x = 0; x < tile && c0 + x < total.columns; x++) map[(r0 + y) * total.columns + c0 + x] = px[y * tile + x]! / 255;
    });
    const truth = fs.readFileSync(sharedData('pathology/idc-slides/patches.csv'), 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.split(',')).filter((f) => f[0] === SLIDE);
    const scores = truth.map((f) => {
      const col = Math.min(total.columns - 1, Math.floor(((Number(f[1]) + 25) * 0.004) / spacing[1]!));
      const row = Math.min(total.rows - 1, Math.floor(((Number(f[2]) + 25) * 0.004) / spacing[0]!));
      return map[row * total.columns + col]!;
    });
    const auc = rocAuc(truth.map((f) => f[3] === '1'), scores);
    console.log(`slide ${SLIDE}: SEG map AUC ${auc.toFixed(3)} over ${truth.length} labelled patches`);
    expect(auc).toBeGreaterThan(0.8);

    // The study page's thumbnail: the slide with the map over it, red where the pathologist marked tumour.
    const login = await fetch(`${h.baseUrl}/app/login`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: h.token }).toString() });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const studyPage = await (await fetch(`${h.baseUrl}/app/studies/${studyInstanceUid}`, { headers: { cookie } })).text();
    const src = /<figure data-slide="[^"]+"><img [^>]*src="([^"]+)"/.exec(studyPage)?.[1];
    expect(src).toBeDefined();
    const thumb = await fetch(`${h.baseUrl}${src!}`, { headers: { cookie } });
    expect(thumb.status).toBe(200);
    const thumbPng = Buffer.from(await thumb.arrayBuffer());
    fs.mkdirSync(path.join(projectRoot, 'var', 'webapp-check'), { recursive: true });
    fs.writeFileSync(path.join(projectRoot, 'var', 'webapp-check', 'slide-thumbnail.png'), thumbPng);
    const { data, info } = await sharp(thumbPng).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const bare = await sharp(Buffer.from(await (await fetch(`${h.baseUrl}${src!}?map=0`, { headers: { cookie } })).arrayBuffer())).removeAlpha().raw().toBuffer();
    const finest = slide.levels[0]!;
    expect(info.width / info.height).toBeCloseTo(finest.totalPixelMatrixColumns / finest.totalPixelMatrixRows, 1);
    // The red the map adds at each labelled patch's centre (red minus blue, over the slide
    // alone: H&E's own pink and a red-stained fragment are not the map), against the labels.
    const redness = truth.map((f) => {
      const x = Math.min(info.width - 1, Math.floor(((Number(f[1]) + 25) / finest.totalPixelMatrixColumns) * info.width));
      const y = Math.min(info.height - 1, Math.floor(((Number(f[2]) + 25) / finest.totalPixelMatrixRows) * info.height));
      const k = (y * info.width + x) * info.channels;
      return ((data[k] as number) - (data[k + 2] as number)) - ((bare[k] as number) - (bare[k + 2] as number));
    });
    const thumbAuc = rocAuc(truth.map((f) => f[3] === '1'), redness);
    console.log(`slide ${SLIDE}: study page thumbnail ${info.width} x ${info.height}, redness AUC ${thumbAuc.toFixed(3)} over ${truth.length} labelled patches`);
    expect(thumbAuc).toBeGreaterThan(0.8);

    const oru = h.his.messages.find((m) => m.includes(accession))!;
    const py = spawnSync('/usr/bin/python3', ['-c', 'import hl7,sys; m=hl7.parse(sys.stdin.read()); print(" ".join(str(o[3][0][0]) for o in m.segments("OBX")))'], { input: oru, encoding: 'utf8' });
    expect(py.status).toBe(0);
    expect(py.stdout).toContain('AIAREA');

    const res = await request(h.baseUrl).get(`/jobs/${job.id}`).set('Authorization', `Bearer ${h.token}`).expect(200);
    expect(res.body).toMatchObject({ state: 'succeeded', progressDone: job.progressTotal, progressTotal: job.progressTotal });
  });
});
