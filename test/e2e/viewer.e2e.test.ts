// What a reader sees, in a real browser: studies analysed by the real service (bundled
// Orthanc, PostgreSQL, Redis) opened in OHIF (the pinned @ohif/app served by `sentinel viewer`)
// in Debian's headless Chromium. A mammography study with findings (SEG over each image, SR
// measurements on the SR's outlines), a normal one and one whose images could not all be read
// (the SR opens without an error and says so on each image), a breast ultrasound study (the
// segmenter's lesion outlines as SEG and SR), and a
// slide (OHIF's microscopy mode, and the SEG drawn by dicom-microscopy-viewer). The checks
// are test/viewer/checks.ts, the same `npm run viewer:check` runs against the demo.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { projectRoot } from '../../src/config/load';
import { JobRow } from '../../src/db/entities/job';
import { OutboxRow } from '../../src/db/entities/outbox';
import { readNaturalizedHeader } from '../../src/dicom/part10';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram, type SampleStudy } from '../../src/samples/mammogram';
import { ultrasoundFromImage } from '../../src/samples/ultrasound';
import { ensureOhifDist } from '../../src/viewer/ohif-package';
import { type RunningViewer, startViewer } from '../../src/viewer/server';
import { dicomize, storeFiles } from '../../src/wsi/dicomize';
import { type Harness, startHarness, storescu, waitUntil } from '../support/e2e';
import { sharedData } from '../support/shared-data';
import { ARGS, CHROMIUM, OUT, checkImagesWithSeg, checkReport, checkSlide, checkStudyList, sayTo, takeProblems } from '../viewer/checks';

jest.setTimeout(600_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-viewer-e2e-'));
const lines: string[] = [];
let h: Harness;
let viewer: RunningViewer;
let ctx: BrowserContext;
let auth: string;
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-viewer-chromium-'));

function mammograms(name: string, lesion: 'both' | 'none', opts: { truncateSecond?: boolean } = {}): { study: SampleStudy; files: string[] } {
  const study: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `V${name.slice(0, 6).toUpperCase()}${Date.now() % 1e6}`, patientId: `P-${name}`, patientName: `Viewer^${name}` };
  const series = newUid();
  const files = (['L', 'R'] as const).map((laterality, i) => {
    const lesions = lesion === 'both' ? [{ x: laterality === 'L' ? 600 : 200, y: 420, radius: 40 }] : [];
    let bytes = buildSyntheticMammogram(study, { laterality, view: 'CC', seriesInstanceUid: series, instanceNumber: i + 1 }, { rows: 1024, columns: 800, spacingMm: 0.2, lesions, seed: i + 11 });
    if (opts.truncateSecond && i === 1) {
      // Pixel data cut short, the header intact: the image cannot be analysed.
      const pos = bytes.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
      const kept = 1000;
      bytes = Buffer.concat([bytes.subarray(0, pos + 8), Buffer.alloc(4), bytes.subarray(pos + 12, pos + 12 + kept)]);
      bytes.writeUInt32LE(kept, pos + 8);
    }
    const file = path.join(dir, `${name}-${laterality}.dcm`);
    fs.writeFileSync(file, bytes);
    return file;
  });
  return { study, files };
}

async function deliveredJob(studyInstanceUid: string, timeoutMs = 120_000): Promise<JobRow> {
  return waitUntil(`study ${studyInstanceUid} analysed and delivered`, async () => {
    const [job] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid });
    if (!job || job.state !== 'succeeded') return undefined;
    const rows = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job.id });
    return rows.length > 0 && rows.every((r) => r.state === 'delivered') ? job : undefined;
  }, timeoutMs);
}

let partialFiles: string[] = [];
const studies: Record<'findings' | 'normal' | 'partial' | 'ultrasound' | 'slide', string> = { findings: '', normal: '', partial: '', ultrasound: '', slide: '' };

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`the viewer test needs Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);
  h = await startHarness({
    shippedModels: ['idc-tile-classifier', 'busi-classifier', 'busi-segmenter'],
    rules: [
      { name: 'pathology', modalities: ['SM'], pipeline: 'wsi', models: ['idc-tile-classifier'] },
      { name: 'ultrasound', modalities: ['US'], pipeline: 'ultrasound', models: ['busi-classifier'] },
    ],
  });

  const withFindings = mammograms('findings', 'both');
  const normal = mammograms('normal', 'none');
  const partial = mammograms('partial', 'both', { truncateSecond: true });
  storescu(h.config, [...withFindings.files, ...normal.files, ...partial.files]);

  const usStudy: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `VUS${Date.now() % 1e6}`, patientId: 'P-us', patientName: 'Viewer^Ultrasound' };
  const usSeries = newUid();
  const usFiles: string[] = [];
  for (const [i, name] of ['benign/benign (10).png', 'malignant/malignant (10).png'].entries()) {
    const file = path.join(dir, `us-${i}.dcm`);
    fs.writeFileSync(file, await ultrasoundFromImage(sharedData(`ultrasound/busi/${name}`), usStudy, { seriesInstanceUid: usSeries, instanceNumber: i + 1 }));
    usFiles.push(file);
  }
  storescu(h.config, usFiles);

  const slideStudy = newUid();
  const slide = await dicomize(sharedData('pathology/idc-slides/9124.jpg'), {
    outDir: path.join(dir, 'slide'), studyInstanceUid: slideStudy, pixelSpacingMm: 0.004, containerIdentifier: 'IDC-9124',
    context: { patientId: 'P-slide', patientName: 'Viewer^Slide', accessionNumber: `VSL${Date.now() % 1e6}` },
  });
  expect((await storeFiles(h.services.dicomweb, slide.files, slideStudy)).failed).toEqual([]);

  studies.findings = withFindings.study.studyInstanceUid;
  studies.normal = normal.study.studyInstanceUid;
  studies.partial = partial.study.studyInstanceUid;
  partialFiles = partial.files;
  studies.ultrasound = usStudy.studyInstanceUid;
  studies.slide = slideStudy;
  for (const uid of Object.values(studies)) await deliveredJob(uid, 240_000);

  viewer = await startViewer({ config: h.config, distDir: ensureOhifDist(projectRoot), port: 0 });
  auth = `Basic ${Buffer.from(`viewer-test:${h.token}`).toString('base64')}`;
  fs.mkdirSync(OUT, { recursive: true });
  sayTo((m) => lines.push(m));
  ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1600, height: 1000 },
    httpCredentials: { username: 'viewer-test', password: h.token },
  });
});

afterAll(async () => {
  await ctx?.close();
  await viewer?.stop();
  await h?.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
});

/** Run one check; its report goes to the console, and its problems fail the test. */
async function expectShown(check: () => Promise<void>): Promise<void> {
  lines.length = 0;
  await check();
  const problems = takeProblems();
  console.log(lines.join('\n'));
  expect(problems).toEqual([]);
}

describe('what OHIF shows of Sentinel\'s objects, in Chromium', () => {
  it('mammography with findings: each SEG over its image where the SR outlines the findings; the SR measurements on the SR\'s points', async () => {
    await expectShown(() => checkImagesWithSeg(ctx, viewer, auth, studies.findings));
  });

  it("OHIF's study list shows a study's description (the proxy splits OHIF's includefield list for Orthanc)", async () => {
    await expectShown(() => checkStudyList(ctx, viewer, auth, studies.normal));
  });

  it('a normal mammography study: the SR opens without an error, "No AI finding" over each image', async () => {
    await expectShown(() => checkReport(ctx, viewer, auth, studies.normal, 'Normal mammography'));
  });

  it('a mammography study with an image that could not be read: the SR opens without an error, and its series says so', async () => {
    const [job] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: studies.partial });
    expect(job?.error).toMatch(/1 image\(s\) skipped/);
    const series = await h.services.dicomweb.searchSeries(studies.partial);
    expect(series.map((s) => s.seriesDescription)).toContain('Sentinel AI (research use): 1 finding, 1 file not analysed');
    const unreadable = String(readNaturalizedHeader(new Uint8Array(fs.readFileSync(partialFiles[1] as string))).SOPInstanceUID);
    await expectShown(() => checkReport(ctx, viewer, auth, studies.partial, 'Partly read mammography', { unreadable: [unreadable] }));
  });

  it('breast ultrasound (classifier and segmenter): each SEG over its image where the SR outlines the lesion; the SR measurements on the SR\'s points', async () => {
    await expectShown(() => checkImagesWithSeg(ctx, viewer, auth, studies.ultrasound, 'Ultrasound'));
  });

  it('a slide: OHIF\'s microscopy mode shows the SR regions on the SR\'s points; the SEG drawn as Slim draws it', async () => {
    await expectShown(() => checkSlide(ctx, viewer, auth, studies.slide));
  });
});
