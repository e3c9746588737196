// Does a real viewer show Sentinel's objects? OHIF (the pinned @ohif/app, served by `sentinel
// viewer`) in headless Chromium (Debian's chromium, driven by playwright-core), for a
// mammography study with a SEG, a slide study with a SEG, and any study's report:
//   - the study browser lists our SEG and SR series;
//   - MG: each SEG loads over its image without an error, with the segments the SEG names,
//     drawn inside the boxes of the SR's outlines (judged from the screenshot's coloured
//     pixels); the SR's measurements load and sit on the SR's SCOORD points;
//   - slide: the slide opens in OHIF's microscopy mode and the SR's regions load onto it at
//     the SR's SCOORD3D points; OHIF 3.13 cannot show a slide SEG, so the SEG is drawn with
//     dicom-microscopy-viewer itself (as Slim does) together with the SR outlines.
//   - any study (a normal one, ultrasound, one whose images could not all be read): the SR
//     opens in the viewport without an error, and every measurement it holds is loaded,
//     with the words the SR gives it ("No AI finding on this image ...").
// Screenshots go to var/viewer-check/. Used by `npm run viewer:check` (test/viewer/check.ts,
// against the demo's studies) and by `npm test` (test/e2e/viewer.e2e.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { projectRoot } from '../../src/config/load';
import type { RunningViewer } from '../../src/viewer/server';
import { type DicomJson, MAMMOGRAPHY_CAD_SR, type Outline, type SegExpectation, type SeriesSummary, TAG, boxOf, segExpectation, srComments, srOutlines, str, strs } from './dicom-json';
import { judgeOverlay } from './overlay-pixels';
import { DICOMWEB_CLIENT_PATH, SLIDE_PAGE_PATH, slidePageHtml } from './slide-page';

export const OUT = path.join(projectRoot, 'var', 'viewer-check');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

let problems: string[] = [];
let say = (msg: string): void => console.log(msg);

/** Where the checks' lines go (default: the console). */
export function sayTo(fn: (msg: string) => void): void {
  say = fn;
}

/** The problems found since the last call. */
export function takeProblems(): string[] {
  const out = problems;
  problems = [];
  return out;
}
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
      if (r.status() >= 400) this.seen.push(`HTTP ${r.status()} ${r.url().slice(0, 300)}`);
    });
  }
  /** Errors expected of the data itself (an image whose pixels cannot be read) are left out. */
  ignore: RegExp[] = [];
  take(): string[] {
    const out = this.seen.filter((e) => !/^Failed to load resource/.test(e) && !this.ignore.some((r) => r.test(e)));
    this.seen = [];
    return out;
  }
}

/** OHIF catches a viewport's crash itself and shows "Something went wrong" (the page logs no error). */
async function expectNoErrorToast(page: Page, what: string): Promise<void> {
  const toast = page.getByText(/Something went wrong/i).first();
  if (await toast.isVisible().catch(() => false)) fail(`${what}: OHIF shows "${(await toast.innerText().catch(() => 'Something went wrong')).replace(/\s+/g, ' ')}"`);
  else ok(`${what}: no error shown by OHIF`);
}

function expectNoErrors(errors: PageErrors, what: string): void {
  const seen = errors.take();
  if (seen.length === 0) ok(`${what}: no error in the page`);
  else fail(`${what}: ${seen.length} error(s) in the page: ${seen.slice(0, 5).join(' | ')}`);
}

export async function qido(viewer: RunningViewer, auth: string, url: string): Promise<DicomJson[]> {
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

/** The study's TID 1500 SR (the one OHIF reads measurements from), beside a Mammography CAD SR if any, with its metadata. */
async function reportSeries(viewer: RunningViewer, auth: string, study: string, series: SeriesSummary[]): Promise<{ series: SeriesSummary; meta: DicomJson } | undefined> {
  for (const s of series.filter((x) => x.modality === 'SR')) {
    const meta = (await qido(viewer, auth, `studies/${study}/series/${s.uid}/metadata`))[0];
    if (meta && str(meta, TAG.sopClassUid) !== MAMMOGRAPHY_CAD_SR) return { series: s, meta };
  }
  return undefined;
}

/** The study holding `modality` whose SEG was written last, the demo's (accession DEMO...) first. */
export async function newestStudy(viewer: RunningViewer, auth: string, modality: string): Promise<string | undefined> {
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

const HIDE_CINE = `(() => { for (const el of document.querySelectorAll('div')) {
  const r = el.getBoundingClientRect();
  if (/\\bFPS\\b/.test(el.textContent || '') && r.width > 0 && r.width < 400) el.style.visibility = 'hidden'; } })()`;

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

/**
 * OHIF's study list (its first page) shows the study with its description, as QIDO-RS gives
 * it through the viewer's proxy, not "No Description".
 */
export async function checkStudyList(ctx: BrowserContext, viewer: RunningViewer, auth: string, study: string): Promise<void> {
  const [row] = await qido(viewer, auth, `studies?StudyInstanceUID=${study}&includefield=00081030`);
  const description = row?.['00081030']?.Value?.[0] as string | undefined;
  say(`\n== Study list: study ${study}, described in the PACS as "${description ?? ''}"`);
  if (!description) {
    fail(`the PACS gives study ${study} no Study Description to show`);
    return;
  }
  const page = await ctx.newPage();
  const errors = new PageErrors(page);
  await page.goto(`${viewer.url}/?StudyInstanceUIDs=${study}`);
  await skipTour(page);
  try {
    await page.getByText(description, { exact: true }).first().waitFor({ timeout: 60_000 });
    ok(`the study list shows "${description}"`);
  } catch {
    fail(`the study list does not show "${description}"`);
  }
  await shot(page, 'study-list');
  expectNoErrors(errors, 'study list');
  await page.close();
}

export async function checkImagesWithSeg(ctx: BrowserContext, viewer: RunningViewer, auth: string, study: string, name = 'Mammography'): Promise<void> {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const series = await seriesOf(viewer, auth, study);
  const segs: SegExpectation[] = [];
  for (const s of series.filter((x) => x.modality === 'SEG')) {
    const instances = await qido(viewer, auth, `studies/${study}/series/${s.uid}/metadata`);
    // OHIF makes one display set per SEG series, from its last instance: any other is never shown.
    if (instances.length > 1) fail(`SEG series "${s.description}" holds ${instances.length} SEG instances; OHIF shows only one of them`);
    const meta = instances[instances.length - 1];
    if (meta) segs.push(segExpectation(s, meta));
  }
  const report = await reportSeries(viewer, auth, study, series);
  const srSeries = report?.series;
  const outlines: Outline[] = report ? srOutlines(report.meta) : [];
  say(`\n== ${name} study ${study}`);
  say(`   in the PACS: ${series.map((s) => `${s.modality} "${s.description}"`).join(', ')}`);
  say(`   the SR outlines ${outlines.length} finding(s); ${segs.length} SEG(s) name ${segs.map((s) => s.segmentLabels.join(' + ')).join('; ')}`);

  const page = await ctx.newPage();
  const errors = new PageErrors(page);
  await page.goto(`${viewer.url}/viewer?StudyInstanceUIDs=${study}`);
  await page.locator('[data-cy="series-description-label"]').first().waitFor({ timeout: 60_000 });
  await page.waitForTimeout(3000);
  await skipTour(page);
  await listed(page, series);
  await shot(page, `${slug}-study`);
  expectNoErrors(errors, 'opening the study');

  for (const [i, seg] of segs.entries()) {
    const shotName = `${slug}-seg-${i + 1}`;
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
    // A stack of several images (an ultrasound series) gets OHIF's cine player over the image,
    // whose blue buttons are not the overlay: hidden for the picture the overlay is judged on.
    await page.evaluate(HIDE_CINE);
    const file = await shot(page, shotName);
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
    await shot(page, `${slug}-sr-preview`);
    await expectNoErrorToast(page, 'the SR in the viewport');
    if (!(await answerYes(page, /tracking measurements/i))) fail('no "continue tracking measurements?" prompt for the SR');
    try {
      await page.waitForFunction(`window.services.measurementService.getMeasurements().length >= ${outlines.length}`, undefined, { timeout: 30_000 });
    } catch {
      // reported below with what was there
    }
    await page.waitForTimeout(3000);
    await shot(page, `${slug}-sr`);
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

export async function checkSlide(ctx: BrowserContext, viewer: RunningViewer, auth: string, study: string): Promise<void> {
  const series = await seriesOf(viewer, auth, study);
  const report = await reportSeries(viewer, auth, study, series);
  const srSeries = report?.series;
  const outlines = report ? srOutlines(report.meta) : [];
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


const MEASUREMENT_TEXT = `(() => window.services.measurementService.getMeasurements().map((m) => JSON.stringify([m.label, m.displayText, m.labels, m.data && Object.values(m.data).map((d) => d && d.label)])))()`;

/**
 * Any study's report as a reader opens it: the study, then the SR in the viewport. It must
 * open without an error in the page, OHIF must hold a measurement for each of the SR's outlines
 * (a "No AI finding" group over each image the model found nothing on, one per finding
 * otherwise) on the SR's points, and the SR's comments must be among what OHIF holds.
 */
export async function checkReport(ctx: BrowserContext, viewer: RunningViewer, auth: string, study: string, name: string, opts: { unreadable?: string[] } = {}): Promise<void> {
  const series = await seriesOf(viewer, auth, study);
  const report = await reportSeries(viewer, auth, study, series);
  say(`\n== ${name} study ${study}`);
  say(`   in the PACS: ${series.map((s) => `${s.modality} "${s.description}"`).join(', ')}`);
  if (!report) {
    fail(`${name}: the study holds no TID 1500 SR`);
    return;
  }
  const outlines = srOutlines(report.meta);
  const comments = srComments(report.meta);
  say(`   the SR has ${outlines.length} outline(s); its comments: ${comments.map((c) => `"${c}"`).join(', ') || 'none'}`);
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');

  const page = await ctx.newPage();
  const errors = new PageErrors(page);
  // An image whose pixels cannot be read fails to load in OHIF too (and OHIF 3.13's own
  // CORNERSTONE_IMAGE_LOAD_FAILED listener then throws): that is the image, not the report.
  for (const sop of opts.unreadable ?? []) errors.ignore.push(new RegExp(`instances/${sop.replace(/\./g, '\\.')}\\b`));
  if (opts.unreadable?.length) errors.ignore.push(/CORNERSTONE_IMAGE_LOAD_FAILED TypeError: handler is not a function/);
  await page.goto(`${viewer.url}/viewer?StudyInstanceUIDs=${study}`);
  await page.locator('[data-cy="series-description-label"]').first().waitFor({ timeout: 60_000 });
  await page.waitForTimeout(3000);
  await skipTour(page);
  await listed(page, series);
  if (opts.unreadable?.length) say(`   (errors loading image(s) ${opts.unreadable.join(', ')}, which Sentinel could not read either, are expected)`);
  expectNoErrors(errors, `${name}: opening the study`);
  if (await openSeries(page, report.series.description)) {
    await page.waitForTimeout(3000);
    await shot(page, `${slug}-sr-preview`);
    await expectNoErrorToast(page, `${name}: the SR in the viewport`);
    if (!(await answerYes(page, /tracking measurements/i))) fail(`${name}: no "continue tracking measurements?" prompt for the SR`);
    await page.waitForFunction(`window.services.measurementService.getMeasurements().length >= ${outlines.length}`, undefined, { timeout: 30_000 }).catch(() => undefined);
    await page.waitForTimeout(2000);
    await shot(page, `${slug}-sr`);
    const measured = (await page.evaluate(MEASUREMENTS)) as Array<{ sop: string; points: number[][] }>;
    if (outlines.length > 0 && measured.length === outlines.length) ok(`${name}: OHIF holds ${measured.length} measurement(s), one per SR outline`);
    else fail(`${name}: OHIF holds ${measured.length} measurement(s); the SR has ${outlines.length} outline(s)`);
    for (const m of measured) {
      const candidates = outlines.filter((o) => o.sopInstanceUid === m.sop);
      const worst = Math.min(...candidates.map((o) => worstDistance(m.points, o.points)));
      if (worst <= 1) ok(`${name}: measurement on image ${m.sop} within ${worst.toFixed(2)} px of the SR's SCOORD`);
      else fail(`${name}: measurement on image ${m.sop} is ${worst.toFixed(1)} px from the SR's SCOORD`);
    }
    const held = ((await page.evaluate(MEASUREMENT_TEXT)) as string[]).join(' ');
    for (const c of comments) {
      if (held.includes(c)) ok(`${name}: OHIF shows the SR's words "${c}"`);
      else fail(`${name}: OHIF does not hold the SR's comment "${c}" (it holds ${held.slice(0, 300)})`);
    }
    expectNoErrors(errors, `${name}: loading the SR into the viewport`);
  }
  await page.close();
}
