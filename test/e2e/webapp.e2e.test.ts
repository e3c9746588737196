// The web app in Debian's Chromium (playwright-core), against the running service: signing
// in with the API token into a session cookie, the worklist ranking an analysed study, its
// study page drawing Sentinel's outline over the real pixels where the lesion is, the objects
// and messages sent with a link to each as sent, and a failed analysis run again from its
// button. Screenshots go to var/webapp-check/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import sharp from 'sharp';
import { projectRoot } from '../../src/config/load';
import { spawnSync } from 'node:child_process';
import { IsNull } from 'typeorm';
import { FindingRow } from '../../src/db/entities/finding';
import { JobRow } from '../../src/db/entities/job';
import { readNaturalizedHeader } from '../../src/dicom/part10';
import { dciodvfy, dcmdump, dsrdump } from '../support/dicom-judges';
import { OutboxRow } from '../../src/db/entities/outbox';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram } from '../../src/samples/mammogram';
import { type Harness, startHarness, storescu, waitUntil } from '../support/e2e';
import { ARGS, CHROMIUM } from '../viewer/checks';
import { hashPassword } from '../../src/api/pages/session';

jest.setTimeout(240_000);

const OUT = path.join(projectRoot, 'var', 'webapp-check');
const rows = 800;
const columns = 640;
const lesion = { x: 200, y: 420, radius: 40 };
let h: Harness;
let browser: Browser;
let page: Page;
let studyUid: string;
let jobId: string;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`the web app test needs Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);
  h = await startHarness({ shippedModels: ['busi-segmenter', 'mini-mias-density'], users: [{ name: 'reader', password: hashPassword('a reader password') }] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-webapp-'));
  const study = { studyInstanceUid: newUid(), accessionNumber: `WEB${Date.now() % 1e6}`, patientId: 'P-WEB', patientName: 'Web^Test' };
  studyUid = study.studyInstanceUid;
  const series = newUid();
  const files = (['L', 'R'] as const).map((laterality, i) => {
    const file = path.join(dir, `${laterality}.dcm`);
    fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality, view: 'CC', seriesInstanceUid: series, instanceNumber: i + 1 }, { rows, columns, spacingMm: 0.2, lesions: laterality === 'R' ? [lesion] : [], seed: 5 }));
    return file;
  });
  storescu(h.config, files);
  const job = await waitUntil('the study analysed and delivered', async () => {
    const [j] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: studyUid });
    if (!j || j.state !== 'succeeded') return undefined;
    const out = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: j.id });
    return out.length > 0 && out.every((o) => o.state === 'delivered') ? j : undefined;
  }, 120_000);
  jobId = job.id;
  fs.mkdirSync(OUT, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe('the web app in Chromium', () => {
  it('asks for the API token, refuses a wrong one, and signs in with the right one into an HttpOnly session cookie', async () => {
    await page.goto(`${h.baseUrl}/app/`);
    expect(new URL(page.url()).pathname).toBe('/app/login');
    await page.fill('input[name=token]', 'not-the-token-of-this-server');
    await page.click('button[type=submit]');
    await expect(page.textContent('main')).resolves.toContain('That is not an API token of this server.');
    await page.fill('input[name=token]', h.token);
    await page.click('button[type=submit]');
    await page.waitForURL(`${h.baseUrl}/app/`);
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: 'sentinel_session', httpOnly: true, sameSite: 'Strict' });
    expect(await page.content()).not.toContain(h.token);
    // Without the cookie nothing but the sign-in page.
    expect((await fetch(`${h.baseUrl}/app/`, { redirect: 'manual' })).status).toBe(303);
  });

  it('a configured user signs in by name and password; a wrong password is refused', async () => {
    const other = await (await browser.newContext()).newPage();
    await other.goto(`${h.baseUrl}/app/login`);
    await other.fill('input[name=user]', 'reader');
    await other.fill('input[name=token]', 'not the password');
    await other.click('button[type=submit]');
    await expect(other.textContent('main')).resolves.toContain('Wrong user name or password.');
    await other.fill('input[name=user]', 'reader');
    await other.fill('input[name=token]', 'a reader password');
    await other.click('button[type=submit]');
    await other.waitForURL(`${h.baseUrl}/app/`);
    await expect(other.locator('#worklist').count()).resolves.toBe(1);
    await other.context().close();
  });

  it('the worklist ranks the analysed study with its category and exam score, and filters by modality', async () => {
    await page.goto(`${h.baseUrl}/app/`);
    const row = page.locator(`tr[data-study="${studyUid}"]`);
    await expect(row.count()).resolves.toBe(1);
    const text = await row.innerText();
    expect(text).toMatch(/high|intermediate|low/);
    expect(text).toContain('MG');
    expect(text).toContain('succeeded');
    await page.screenshot({ path: path.join(OUT, 'worklist.png') });
    await page.goto(`${h.baseUrl}/app/?modality=US`);
    await expect(page.locator(`tr[data-study="${studyUid}"]`).count()).resolves.toBe(0);
  });

  it("the study page draws the finding's outline over the real pixels where the lesion is, and links each object as sent", async () => {
    await page.goto(`${h.baseUrl}/app/`);
    await page.click(`tr[data-study="${studyUid}"] a:has-text("study")`);
    await page.waitForURL(`${h.baseUrl}/app/studies/${studyUid}`);
    const figures = page.locator('figure[data-image]');
    await expect(figures.count()).resolves.toBe(2);
    await page.waitForFunction('[...document.images].every((i) => i.complete && i.naturalWidth > 0)');
    await page.screenshot({ path: path.join(OUT, 'study.png'), fullPage: true });
    // The density model ran beside the detector: the exam and each breast.
    expect(await page.locator('#density').innerText()).toMatch(/^Breast composition \(AI, mini-mias-density 1\.0\.0\): exam .+; right .+, left .+$/);
    const withFinding = page.locator('figure[data-image]', { hasText: 'F1' });
    await expect(withFinding.count()).resolves.toBe(1);
    const src = await withFinding.locator('img').getAttribute('src');
    const png = await page.request.get(`${h.baseUrl}${src}`);
    expect(png.status()).toBe(200);
    const { data, info } = await sharp(await png.body()).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([columns, rows]);
    // The outline's yellow lies around the lesion and nowhere else.
    let near = 0; let far = 0;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        const k = (y * columns + x) * info.channels;
        const yellow = (data[k] as number) > 200 && (data[k + 1] as number) > 170 && (data[k + 2] as number) < 90;
        if (!yellow) continue;
        if (Math.hypot(x - lesion.x, y - lesion.y) < lesion.radius + 30) near++; else far++;
      }
    }
    expect(near).toBeGreaterThan(100);
    expect(far).toBe(0);
    // Each object and message as sent, through the same session.
    const link = await page.locator('#outputs a:has-text("as sent")').first().getAttribute('href');
    expect((await page.request.get(`${h.baseUrl}${link}`)).status()).toBe(200);
    const states = await page.locator('#outputs td.delivered').count();
    expect(states).toBe(await h.services.ds.getRepository(OutboxRow).countBy({ jobId }));
  });

  it('a failed analysis shows its reason and runs again from its button', async () => {
    // As a job that failed for good is: no results, no outputs (they are written only with success).
    await h.services.ds.query('delete from outbox where job_id = $1', [jobId]);
    await h.services.ds.query('delete from findings where job_id = $1', [jobId]);
    await h.services.ds.getRepository(JobRow).update({ id: jobId }, { state: 'failed', error: 'the PACS did not answer (test)' });
    await page.goto(`${h.baseUrl}/app/studies/${studyUid}`);
    const row = page.locator(`tr[data-job="${jobId}"]`);
    expect(await row.innerText()).toContain('the PACS did not answer (test)');
    await row.locator('button:has-text("Analyse again")').click();
    await page.waitForURL(`${h.baseUrl}/app/studies/${studyUid}`);
    const job = await waitUntil('the job analysed again', async () => {
      const j = await h.services.ds.getRepository(JobRow).findOneByOrFail({ id: jobId });
      return j.state === 'succeeded' || j.state === 'failed' ? j : undefined;
    }, 120_000);
    expect([job.state, job.error]).toEqual(['succeeded', null]);
    await page.reload();
    expect(await page.locator(`tr[data-job="${jobId}"]`).innerText()).toContain('succeeded');
  });

  it('a reader corrects the outlines in the browser: a point dragged, an outline drawn; saved as a corrected SEG and SR in Orthanc (dciodvfy-clean) and an ORU with status C', async () => {
    await page.goto(`${h.baseUrl}/app/studies/${studyUid}`);
    const right = page.locator('figure[data-image]', { hasText: 'F1' });
    const left = page.locator('figure[data-image]', { hasText: 'no AI finding' });
    const [sopR, sopL] = [await right.getAttribute('data-image'), await left.getAttribute('data-image')];
    const before = await h.services.ds.getRepository(FindingRow).findOneByOrFail({ jobId, trackingId: 'F1' });
    await right.locator('button.correct').click();
    await left.locator('button.correct').click();
    await page.waitForFunction('[...document.images].every((i) => i.complete && i.naturalWidth > 0)');
    // Drag F1's first point 40 image pixels to the right.
    const svgR = (await right.locator('svg').boundingBox())!;
    const scale = svgR.width / columns;
    const handle = (await right.locator('circle.handle[data-finding="F1"][data-point="0"]').boundingBox())!;
    const [hx, hy] = [handle.x + handle.width / 2, handle.y + handle.height / 2];
    await page.mouse.move(hx, hy);
    await page.mouse.down();
    await page.mouse.move(hx + 40 * scale, hy, { steps: 8 });
    await page.mouse.up();
    // Draw a missed finding on the left film: four clicks, then Finish.
    await left.locator('button[data-act=draw]').click();
    const svgL = (await left.locator('svg').boundingBox())!;
    const drawn = [[300, 300], [400, 300], [400, 380], [300, 380]];
    for (const [x, y] of drawn) await page.mouse.click(svgL.x + x! * scale, svgL.y + y! * scale);
    await left.locator('button[data-act=finish]').click();
    // And a false one drawn, selected and deleted again.
    await left.locator('button[data-act=draw]').click();
    for (const [x, y] of [[100, 600], [220, 600], [160, 700]]) await page.mouse.click(svgL.x + x! * scale, svgL.y + y! * scale);
    await left.locator('button[data-act=finish]').click();
    await expect(left.locator('polygon.outline').count()).resolves.toBe(2);
    await page.mouse.click(svgL.x + 160 * scale, svgL.y + 640 * scale);
    await left.locator('button[data-act=delete]').click();
    await expect(left.locator('polygon.outline').count()).resolves.toBe(1);
    await page.screenshot({ path: path.join(OUT, 'correction.png'), fullPage: true });
    await page.fill('#correction input[name=reader]', 'Dr Reader');
    await page.click('#correction button.save');
    await page.waitForFunction('document.querySelector("#correction").dataset.saved', undefined, { timeout: 60_000 });
    const corrected = (await page.getAttribute('#correction', 'data-saved'))!;
    expect(await page.locator('#correction .status').innerText()).toContain('by Dr Reader');

    // Stored as an analysis of its own: by the reader, superseding the AI's.
    const job = await h.services.ds.getRepository(JobRow).findOneByOrFail({ id: corrected });
    expect([job.source, job.supersedes, job.state]).toEqual(['reader', jobId, 'succeeded']);
    expect(job.result?.correction).toMatchObject({ reader: 'Dr Reader', corrects: jobId });
    const rowsAfter = await h.services.ds.getRepository(FindingRow).find({ where: { jobId: corrected }, order: { trackingId: 'ASC' } });
    expect(rowsAfter.map((f) => [f.trackingId, f.sopInstanceUid])).toEqual([['F1', sopR], ['R1', sopL]]);
    const moved = rowsAfter[0]!.contour[0]!;
    expect(moved.x - before.contour[0]!.x).toBeGreaterThan(30);
    expect(Math.abs(moved.y - before.contour[0]!.y)).toBeLessThan(6);
    const r1 = rowsAfter[1]!.contour;
    drawn.forEach(([x, y], k) => expect(Math.hypot(r1[k]!.x - x!, r1[k]!.y - y!)).toBeLessThan(3));

    // Delivered: the corrected objects are in Orthanc, new series, the AI's originals still there.
    const outbox = await waitUntil('the correction delivered', async () => {
      const out = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: corrected });
      return out.length > 0 && out.every((o) => o.state === 'delivered') ? out : undefined;
    }, 120_000);
    expect(outbox.map((o) => o.label).sort()).toEqual(expect.arrayContaining(['CAD SR', 'ORU^R01', 'SEG', 'SEG', 'SR']));
    const aiSr = (await h.services.ds.getRepository(OutboxRow).findOneByOrFail({ jobId, label: 'SR', destination: IsNull() })).objectUid;
    for (const o of outbox.filter((x) => x.kind === 'dicom' && x.destination === null)) {
      const header = readNaturalizedHeader(new Uint8Array(o.payload));
      const stored = await h.services.dicomweb.retrieveInstance(studyUid, String(header.SeriesInstanceUID), o.objectUid);
      expect(dciodvfy(stored).errors).toEqual([]);
      if (o.label === 'SEG') expect(dcmdump(stored)).toMatch(/\(0070,0084\) PN \[Dr Reader\]/);
      if (o.label === 'SR') {
        const dump = dsrdump(stored);
        expect(dump).toContain('"Person Observer Name")="Dr Reader"');
        expect(dump).toContain('Drawn by the reader');
        expect(dump).toContain('"Comment")="AI finding whose outline'); // dsrdump cuts long texts
        expect(JSON.stringify(readNaturalizedHeader(stored).PredecessorDocumentsSequence)).toContain(aiSr);
      }
    }
    expect(await h.services.dicomweb.retrieveInstance(studyUid, String(readNaturalizedHeader(new Uint8Array((await h.services.ds.getRepository(OutboxRow).findOneByOrFail({ jobId, label: 'SR', destination: IsNull() })).payload)).SeriesInstanceUID), aiSr)).toBeDefined();
    const oru = outbox.find((o) => o.kind === 'hl7')!.payload.toString('utf8');
    const py = spawnSync('/usr/bin/python3', ['-c', 'import hl7,sys; m=hl7.parse(sys.stdin.read()); print(m.segment("OBR")[25]); print(sorted(set(str(o[11]) for o in m.segments("OBX"))))'], { input: oru.replace(/\r?\n/g, '\r'), encoding: 'utf8' });
    expect(py.status).toBe(0);
    const [obr25, obx11] = py.stdout.trim().split('\n');
    expect(obr25).toBe('C');
    expect(obx11).toContain("'C'");

    // The study page now draws the corrected outlines.
    await page.goto(`${h.baseUrl}/app/studies/${studyUid}`);
    expect(await page.locator('figure[data-image]', { hasText: 'R1' }).getAttribute('data-image')).toBe(sopL);
  });

  it('the corrections API takes an SVG path, deletes what is left out, and refuses an outline off the image', async () => {
    const api = (body: unknown): Promise<Response> => fetch(`${h.baseUrl}/studies/${studyUid}/corrections`, { method: 'POST', headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const sopR = (await h.services.ds.getRepository(FindingRow).findOneByOrFail({ jobId, trackingId: 'F1' })).sopInstanceUid;
    const off = await api({ reader: 'api client', findings: [{ sopInstanceUid: sopR, path: `M 10 10 H ${columns + 50} V 40 Z` }] });
    expect(off.status).toBe(400);
    expect(((await off.json()) as { error: { message: string } }).error.message).toMatch(/finding 1: outline point .* outside the 640 x 800 image/);
    expect((await api({ findings: [] })).status).toBe(400); // nobody named
    const ok = await api({ reader: 'api client', jobId, findings: [{ sopInstanceUid: sopR, path: 'M 100 100 L 160 100 L 160 150 Z' }] });
    expect(ok.status).toBe(201);
    const body = (await ok.json()) as { jobId: string; findings: Array<{ trackingId: string; reader: string }> };
    // F1 was left out (deleted); the path became a drawn finding.
    expect(body.findings).toEqual([expect.objectContaining({ trackingId: 'R1', reader: 'drawn' })]);
    expect(await h.services.ds.getRepository(FindingRow).countBy({ jobId: body.jobId })).toBe(1);
  });

  it('the model catalogue shows each installed model with its measured figures and card; the system page queues, failures and audit', async () => {
    await page.goto(`${h.baseUrl}/app/models`);
    const shipped = page.locator('section[data-model="busi-segmenter"]');
    await expect(shipped.count()).resolves.toBe(1);
    const text = await shipped.innerText();
    const metrics = JSON.parse(fs.readFileSync(path.join(projectRoot, 'models', 'busi-segmenter.metrics.json'), 'utf8')) as { test: { dice_mean: number } };
    expect(text).toContain(metrics.test.dice_mean.toFixed(3));
    expect(await shipped.locator('details pre').textContent()).toMatch(/^# Model card/);
    await page.screenshot({ path: path.join(OUT, 'models.png'), fullPage: true });

    await page.goto(`${h.baseUrl}/app/system`);
    expect(await page.locator('#dependencies').innerText()).toMatch(/postgres\s+up/);
    await expect(page.locator('#queues tr[data-queue="analyze"]').count()).resolves.toBe(1);
    expect(await page.locator('#audit').innerText()).toContain('dicomweb');
    await page.screenshot({ path: path.join(OUT, 'system.png'), fullPage: true });
  });
});

