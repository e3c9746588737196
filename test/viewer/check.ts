// `npm run viewer:check`: does a real viewer show Sentinel's objects? Against the stack with
// the demo's studies in it (`npm run demo`), it starts `sentinel viewer` in-process, opens
// OHIF in headless Chromium (Debian's chromium, driven by playwright-core) and, for the newest
// mammography study with a SEG and the newest slide study with a SEG:
//   - the study browser lists our SEG and SR series;
//   - MG: each SEG loads over its image without an error, with the segments the SEG names,
//     drawn inside the boxes of the SR's outlines (judged from the screenshot's coloured
//     pixels); the SR's measurements load and sit on the SR's SCOORD points;
//   - slide: the slide opens in OHIF's microscopy mode and the SR's regions load onto it at
//     the SR's SCOORD3D points; OHIF 3.13 cannot show a slide SEG, so the SEG is drawn with
//     dicom-microscopy-viewer itself (as Slim does) together with the SR outlines.
// Screenshots go to var/viewer-check/. Not part of `npm test`: CI has no Chromium.
// Usage: node dist/test/viewer/check.js [--mg STUDY_UID] [--slide STUDY_UID]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { loadConfig, projectRoot } from '../../src/config/load';
import { ensureOhifDist } from '../../src/viewer/ohif-package';
import { type RunningViewer, startViewer } from '../../src/viewer/server';
import { type DicomJson, type Outline, type SegExpectation, type SeriesSummary, TAG, boxOf, segExpectation, srOutlines, str, strs } from './dicom-json';
import { judgeOverlay } from './overlay-pixels';
import { DICOMWEB_CLIENT_PATH, SLIDE_PAGE_PATH, slidePageHtml } from './slide-page';

const OUT = path.join(projectRoot, 'var', 'viewer-check');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

const problems: string[] = [];
const say = (msg: string): void => console.log(msg);
const fail = (msg: string): void => {
  problems.push(msg);
  say(`   PROBLEM: ${msg}`);
};
const ok = (msg: string): void => say(`   ok: ${msg}`);

/** Console errors and uncaught exceptions of the page since the last call. */
class PageErrors {
  private seen: string[] = [];
  constructor(page: Page) {
    page.on('console', (m) => {
      // OHIF reports a series it cannot display as a warning.
      if (m.type() === 'error' || /Unsupported displaySet/.test(m.text())) this.seen.push(m.text().slice(0, 300));
    });
    page.on('pageerror', (e) => this.seen.push(`uncaught: ${e.message.slice(0, 300)}`));
    page.on('response', (r) => {
      if (r.status() >= 400) this.seen.push(`HTTP ${r.status()} ${r.url().slice(0, 160)}`);
    });
  }
  take(): string[] {
    const out = this.seen.filter((e) => !/^Failed to load resource/.test(e));
    this.seen = [];
    return out;
  }
}

function expectNoErrors(errors: PageErrors, what: string): void {
  const seen = errors.take();
  if (seen.length === 0) ok(`${what}: no error in the page`);
  else fail(`${what}: ${seen.length} error(s) in the page: ${seen.slice(0, 5).join(' | ')}`);
}

async function qido(viewer: RunningViewer, auth: string, url: string): Promise<DicomJson[]> {
  const res = await fetch(`${viewer.url}/dicom-web/${url}`, { headers: { Authorization: auth, Accept: 'application/dicom+json' } });
  if (res.status === 204) return [];
  if (!res.ok) throw new Error(`GET /dicom-web/${url}: HTTP ${res.status}`);
  return (await res.json()) as DicomJson[];
}

async function seriesOf(viewer: RunningViewer, auth: string, study: string): Promise<SeriesSummary[]> {
  return (await qido(viewer, auth, `studies/${study}/series`)).map((s) => ({
    uid: str(s, TAG.seriesInstanceUid) ?? '', modality: str(s, TAG.modality) ?? '', description: str(s, TAG.seriesDescription) ?? '',
  }));
}

/** The study holding `modality` whose SEG was written last, the demo's (accession DEMO...) first. */
async function newestStudy(viewer: RunningViewer, auth: string, modality: string): Promise<string | undefined> {
  const studies = (await qido(viewer, auth, `studies?ModalitiesInStudy=${modality}&includefield=00080061`))
    .filter((x) => strs(x, TAG.modalitiesInStudy).includes('SEG'));
  const demo = studies.filter((x) => (str(x, '00080050') ?? '').startsWith('DEMO'));
  let best: { uid: string; when: string } | undefined;
  for (const s of demo.length > 0 ? demo : studies) {
    const uid = str(s, TAG.studyInstanceUid) ?? '';
    const segs = await qido(viewer, auth, `studies/${uid}/series?Modality=SEG&includefield=00080021&includefield=00080031`);
    const when = segs.map((x) => `${str(x, '00080021') ?? ''}${str(x, '00080031') ?? ''}`).sort().pop() ?? '';
    if (!best || when > best.when) best = { uid, when };
  }
  return best?.uid;
}

async function shot(page: Page, name: string): Promise<string> {
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  say(`   screenshot: ${path.relative(projectRoot, file)}`);
  return file;
}

/** OHIF's first-visit tour covers the viewport; a user dismisses it once, so does the check. */
async function skipTour(page: Page): Promise<void> {
  const skip = page.getByText('Skip all', { exact: true });
  if (await skip.isVisible().catch(() => false)) await skip.click();
}

async function listed(page: Page, series: SeriesSummary[]): Promise<void> {
  const text = await page.locator('[data-cy="studyBrowser-panel"]').innerText().catch(() => '');
  for (const s of series.filter((x) => x.modality === 'SEG' || x.modality === 'SR')) {
    if (text.includes(s.description)) ok(`study browser lists ${s.modality} "${s.description}"`);
    else fail(`study browser does not list ${s.modality} "${s.description}"`);
  }
}

async function openSeries(page: Page, description: string): Promise<boolean> {
  await skipTour(page);
  try {
    await page.locator('[data-cy="series-description-label"]', { hasText: description }).first().dblclick({ timeout: 15_000 });
    return true;
  } catch {
    fail(`cannot open "${description}": it is not in OHIF's study browser`);
    return false;
  }
}

async function answerYes(page: Page, question: RegExp, timeoutMs = 30_000): Promise<boolean> {
  try {
    await page.getByText(question).first().waitFor({ timeout: timeoutMs });
  } catch {
    return false;
  }
  await page.getByRole('button', { name: 'Yes', exact: true }).first().click();
  return true;
}

// In-page code is sent as text: the project's TypeScript has no DOM types.
const PROJECT_BOXES = `(({ sop, outlines }) => {
  const cs = window.cornerstone;
  const vp = cs.getRenderingEngines()[0].getViewports().find((v) => v.getCurrentImageId && v.getCurrentImageId());
  const imageId = vp && vp.getCurrentImageId();
  if (!imageId || !imageId.includes(sop)) return { error: 'the viewport shows ' + imageId };
  const r = vp.canvas.getBoundingClientRect();
  const screen = ([x, y]) => { const c = vp.worldToCanvas(cs.utilities.imageToWorldCoords(imageId, [x, y])); return [r.left + c[0], r.top + c[1]]; };
  const box = (pts) => { const s = pts.map(screen); const xs = s.map((p) => p[0]); const ys = s.map((p) => p[1]);
    return { x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys) }; };
  const image = cs.cache.getImage(imageId) || vp.getImageData && {};
  const rows = (image && image.rows) || 0, cols = (image && image.columns) || 0;
  const area = box([[0, 0], [cols, rows]]);
  // Leave out the top band (viewport action icons) and the bottom band (window/level text).
  area.x0 = Math.max(area.x0, r.left + 4); area.x1 = Math.min(area.x1, r.right - 4);
  area.y0 = Math.max(area.y0, r.top + 40); area.y1 = Math.min(area.y1, r.bottom - 40);
  return { boxes: outlines.map(box), area };
})`;

const SEGMENTATIONS = `(() => window.services.segmentationService.getSegmentations().map((s) => ({
  label: s.label, segments: Object.values(s.segments || {}).filter(Boolean).map((x) => x.label) })))()`;

const MEASUREMENTS = `(() => { const cs = window.cornerstone; return window.services.measurementService.getMeasurements().map((m) => ({
  sop: m.SOPInstanceUID, points: (m.points || []).map((p) => cs.utilities.worldToImageCoords(m.referencedImageId, p)) })); })()`;

/** Largest distance from a point the viewer holds to the nearest point of the SR's outline. */
function worstDistance(seen: number[][], outline: number[][]): number {
  let worst = 0;
  for (const p of seen) {
    const d = Math.min(...outline.map((q) => Math.hypot(...p.map((v, i) => v - (q[i] ?? 0)))));
    worst = Math.max(worst, d);
  }
  return worst;
}

async function checkMammography(ctx: BrowserContext, viewer: RunningViewer, auth: string, study: string): Promise<void> {
  const series = await seriesOf(viewer, auth, study);
  const segs: SegExpectation[] = [];
  for (const s of series.filter((x) => x.modality === 'SEG')) {
    const instances = await qido(viewer, auth, `studies/${study}/series/${s.uid}/metadata`);
    // OHIF makes one display set per SEG series, from its last instance: any other is never shown.
    if (instances.length > 1) fail(`SEG series "${s.description}" holds ${instances.length} SEG instances; OHIF shows only one of them`);
    const meta = instances[instances.length - 1];
    if (meta) segs.push(segExpectation(s, meta));
  }
  const srSeries = series.find((s) => s.modality === 'SR');
  const srMeta = srSeries ? (await qido(viewer, auth, `studies/${study}/series/${srSeries.uid}/metadata`))[0] : undefined;
  const outlines: Outline[] = srMeta ? srOutlines(srMeta) : [];
  say(`\n== Mammography study ${study}`);
  say(`   in the PACS: ${series.map((s) => `${s.modality} "${s.description}"`).join(', ')}`);
  say(`   the SR outlines ${outlines.length} finding(s); ${segs.length} SEG(s) name ${segs.map((s) => s.segmentLabels.join(' + ')).join('; ')}`);

  const page = await ctx.newPage();
  const errors = new PageErrors(page);
  await page.goto(`${viewer.url}/viewer?StudyInstanceUIDs=${study}`);
  await page.locator('[data-cy="series-description-label"]').first().waitFor({ timeout: 60_000 });
  await page.waitForTimeout(3000);
  await skipTour(page);
  await listed(page, series);
  await shot(page, 'mg-study');
  expectNoErrors(errors, 'opening the study');

  for (const [i, seg] of segs.entries()) {
    const name = `mg-seg-${i + 1}`;
    say(`   -- SEG "${seg.description}" over image ${seg.sourceSopInstanceUid ?? '?'}`);
    if (!(await openSeries(page, seg.description))) continue;
    if (!(await answerYes(page, /open this Segmentation/i))) fail(`no "open this Segmentation?" prompt for "${seg.description}"`);
    try {
      await page.waitForFunction(`window.services.segmentationService.getSegmentations().some((s) => s.label === ${JSON.stringify(seg.description)})`, undefined, { timeout: 30_000 });
    } catch {
      fail(`OHIF did not load the SEG "${seg.description}"`);
    }
    // The SEG is shown over its image: wait until that image is the one in the viewport.
    await page.waitForFunction(`(() => { const vp = window.cornerstone.getRenderingEngines()[0].getViewports()[0];
      return !!vp && String(vp.getCurrentImageId()).includes(${JSON.stringify(seg.sourceSopInstanceUid ?? '')}); })()`, undefined, { timeout: 30_000 })
      .catch(() => undefined);
    await page.waitForTimeout(3000);
    const file = await shot(page, name);
    const loaded = (await page.evaluate(SEGMENTATIONS)) as Array<{ label: string; segments: string[] }>;
    const mine = loaded.find((s) => s.label === seg.description);
    if (mine && seg.segmentLabels.every((l) => mine.segments.includes(l))) ok(`segments loaded: ${mine.segments.join(', ')}`);
    else fail(`segments of "${seg.description}": OHIF has ${JSON.stringify(mine?.segments ?? [])}, the SEG names ${JSON.stringify(seg.segmentLabels)}`);
    expectNoErrors(errors, `loading SEG "${seg.description}"`);

    const onImage = outlines.filter((o) => o.sopInstanceUid === seg.sourceSopInstanceUid);
    const projected = (await page.evaluate(`${PROJECT_BOXES}(${JSON.stringify({ sop: seg.sourceSopInstanceUid, outlines: onImage.map((o) => o.points) })})`)) as
      { error?: string; boxes?: Array<{ x0: number; y0: number; x1: number; y1: number }>; area?: { x0: number; y0: number; x1: number; y1: number } };
    if (projected.error || !projected.boxes || !projected.area) {
      fail(`cannot place the SR's outlines on the viewport: ${projected.error ?? 'no geometry'}`);
      continue;
    }
    const verdict = await judgeOverlay(fs.readFileSync(file), projected.area, projected.boxes);
    const boxes = onImage.map((o) => boxOf(o.points)).map((b) => `(${Math.round(b.x0)},${Math.round(b.y0)})-(${Math.round(b.x1)},${Math.round(b.y1)}) px`);
    say(`   SR outline boxes on this image: ${boxes.join(', ')}; coloured overlay pixels on screen: ${verdict.coloured}, ${(verdict.inside * 100).toFixed(1)}% of them inside those boxes; each box coloured ${verdict.covered.map((c) => `${(c * 100).toFixed(0)}%`).join(', ')}`);
    if (verdict.covered.length > 0 && verdict.covered.every((c) => c >= 0.3) && verdict.inside >= 0.9) ok('the SEG overlay is drawn where the SR outlines the findings');
    else fail(`the SEG overlay of "${seg.description}" is not where the SR outlines its findings (see ${path.relative(projectRoot, file)})`);
  }

  if (srSeries) say(`   -- SR "${srSeries.description}"`);
  if (srSeries && (await openSeries(page, srSeries.description))) {
    await page.waitForTimeout(3000);
    await shot(page, 'mg-sr-preview');
    if (!(await answerYes(page, /tracking measurements/i))) fail('no "continue tracking measurements?" prompt for the SR');
    try {
      await page.waitForFunction(`window.services.measurementService.getMeasurements().length >= ${outlines.length}`, undefined, { timeout: 30_000 });
    } catch {
      // reported below with what was there
    }
    await page.waitForTimeout(3000);
    await shot(page, 'mg-sr');
    const measured = (await page.evaluate(MEASUREMENTS)) as Array<{ sop: string; points: number[][] }>;
    if (measured.length === outlines.length) ok(`OHIF holds ${measured.length} measurement(s), one per SR outline`);
    else fail(`OHIF holds ${measured.length} measurement(s); the SR has ${outlines.length} outline(s)`);
    for (const m of measured) {
      const candidates = outlines.filter((o) => o.sopInstanceUid === m.sop);
      const worst = Math.min(...candidates.map((o) => worstDistance(m.points, o.points)));
      if (worst <= 1) ok(`measurement on image ${m.sop}: ${m.points.length} points, within ${worst.toFixed(2)} px of the SR's SCOORD`);
      else fail(`measurement on image ${m.sop} is ${worst.toFixed(1)} px from the SR's SCOORD`);
    }
    expectNoErrors(errors, 'loading the SR');
  }
  await page.close();
}

async function checkSlide(ctx: BrowserContext, viewer: RunningViewer, auth: string, study: string): Promise<void> {
  const series = await seriesOf(viewer, auth, study);
  const srSeries = series.find((s) => s.modality === 'SR');
  const srMeta = srSeries ? (await qido(viewer, auth, `studies/${study}/series/${srSeries.uid}/metadata`))[0] : undefined;
  const outlines = srMeta ? srOutlines(srMeta) : [];
  say(`\n== Slide study ${study}`);
  say(`   in the PACS: ${series.map((s) => `${s.modality} "${s.description}"`).join(', ')}`);
  say(`   the SR outlines ${outlines.length} region(s) (SCOORD3D ${[...new Set(outlines.map((o) => o.graphicType))].join(', ')})`);

  const page = await ctx.newPage();
  const errors = new PageErrors(page);
  await page.goto(`${viewer.url}/microscopy?StudyInstanceUIDs=${study}`);
  await page.locator('[data-cy="viewport-grid"]').waitFor({ timeout: 60_000 });
  await page.waitForTimeout(8000);
  await skipTour(page);
  const browser = page.locator('[data-cy="seriesList-btn"]');
  if (await browser.isVisible().catch(() => false)) await browser.click();
  await page.locator('[data-cy="series-description-label"]').first().waitFor({ timeout: 30_000 }).catch(() => undefined);
  await listed(page, series);
  await shot(page, 'slide-ohif');
  expectNoErrors(errors, 'opening the slide in OHIF microscopy mode');

  if (srSeries) say(`   -- SR "${srSeries.description}" in OHIF microscopy mode`);
  if (srSeries && (await openSeries(page, srSeries.description))) {
    await page.waitForFunction(`window.services.microscopyService.getAnnotationsForStudy(${JSON.stringify(study)}).length >= ${outlines.length}`, undefined, { timeout: 30_000 })
      .catch(() => undefined);
    await page.waitForTimeout(4000);
    await shot(page, 'slide-ohif-sr');
    const regions = (await page.evaluate(`window.services.microscopyService.getAnnotationsForStudy(${JSON.stringify(study)})
      .map((a) => a.roiGraphic.scoord3d.graphicData)`)) as number[][][];
    if (regions.length === outlines.length) ok(`OHIF shows ${regions.length} region(s), one per SR outline`);
    else fail(`OHIF shows ${regions.length} region(s); the SR has ${outlines.length}`);
    const worst = regions.map((r) => Math.min(...outlines.map((o) => worstDistance(r, o.points))));
    if (worst.every((w) => w <= 0.001)) ok(`every region lies on the SR's SCOORD3D points (worst ${(Math.max(0, ...worst) * 1000).toFixed(2)} µm)`);
    else fail(`regions are up to ${Math.max(...worst).toFixed(3)} mm from the SR's SCOORD3D points`);
    expectNoErrors(errors, 'loading the slide SR in OHIF');
  }

  const seg = series.find((s) => s.modality === 'SEG');
  if (seg) {
    say(`   -- SEG "${seg.description}" in OHIF microscopy mode`);
    await openSeries(page, seg.description);
    await page.waitForTimeout(4000);
    const seen = errors.take();
    const unsupported = seen.some((e) => /Unsupported displaySet/i.test(e));
    say(`   OHIF ${unsupported ? 'answers "Unsupported displaySet": its microscopy mode does not display SEG (an OHIF 3.13 limitation, not a fault of the SEG)' : `shows: ${seen.join(' | ') || 'no error'}`}`);
  }
  await page.close();

  say('   -- SEG and SR drawn by dicom-microscopy-viewer (as Slim draws them)');
  const slide = await ctx.newPage();
  const slideErrors = new PageErrors(slide);
  let segFrames = 0;
  slide.on('response', (r) => {
    if (seg && r.url().includes(`/series/${seg.uid}/`) && r.url().includes('/frames/') && r.ok()) segFrames++;
  });
  const clientFile = require.resolve('dicomweb-client/build/dicomweb-client.js');
  await slide.route(`${viewer.url}${SLIDE_PAGE_PATH}`, (route) => route.fulfill({ contentType: 'text/html', body: slidePageHtml() }));
  await slide.route(`${viewer.url}${DICOMWEB_CLIENT_PATH}`, (route) => route.fulfill({ contentType: 'application/javascript', body: fs.readFileSync(clientFile, 'utf8') }));
  await slide.goto(`${viewer.url}${SLIDE_PAGE_PATH}`);
  const drawn = (await slide.evaluate(`window.sentinelSlideCheck(${JSON.stringify(study)})`)) as { segments: string[]; rois: number; errors: string[] };
  await slide.waitForTimeout(10_000);
  await shot(slide, 'slide-dmv-seg-sr');
  if (drawn.segments.length > 0 && drawn.errors.length === 0 && segFrames > 0) ok(`segments shown: ${drawn.segments.join(', ')} (${segFrames} SEG frame(s) fetched and drawn); SR outlines drawn: ${drawn.rois}`);
  else fail(`dicom-microscopy-viewer: segments ${JSON.stringify(drawn.segments)}, ${segFrames} SEG frame(s) fetched, errors ${JSON.stringify(drawn.errors)}`);
  expectNoErrors(slideErrors, 'drawing the slide SEG with dicom-microscopy-viewer');
  await slide.close();
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`viewer:check: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
    return 2;
  }
  const config = loadConfig();
  const token = config.auth.apiTokens[0];
  if (!token) {
    console.error('viewer:check: no API token configured (run `npm run stack -- up` or set SENTINEL_API_TOKENS)');
    return 2;
  }
  fs.mkdirSync(OUT, { recursive: true });
  const viewer = await startViewer({ config, distDir: ensureOhifDist(projectRoot, (m) => say(`viewer: ${m}`)), port: 0 });
  const auth = `Basic ${Buffer.from(`viewer-check:${token}`).toString('base64')}`;
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-viewer-check-'));
  let ctx: BrowserContext | undefined;
  try {
    say(`viewer on ${viewer.url}, reading ${config.orthanc.url}${config.orthanc.dicomwebPath}`);
    const mg = arg('--mg') ?? (await newestStudy(viewer, auth, 'MG'));
    const sm = arg('--slide') ?? (await newestStudy(viewer, auth, 'SM'));
    if (!mg) fail('no mammography study with a SEG in the PACS (run `npm run demo` first)');
    if (!sm) fail('no slide study with a SEG in the PACS (run `npm run demo` with ../shared/data present)');
    ctx = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1600, height: 1000 },
      httpCredentials: { username: 'viewer-check', password: token },
    });
    if (mg) await checkMammography(ctx, viewer, auth, mg);
    if (sm) await checkSlide(ctx, viewer, auth, sm);
  } finally {
    await ctx?.close();
    await viewer.stop();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  say(problems.length === 0 ? '\nviewer check: everything shown as expected' : `\nviewer check: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return problems.length === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exitCode = 1;
});
