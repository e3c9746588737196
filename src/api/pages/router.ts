// The web app, served by Sentinel under /app (server-rendered HTML, no build step): sign in with
// the API token into a session cookie; the worklist, analysed studies ranked by AI risk (exam
// score, then score), filtered by modality, state and date, paged; a study page with each image
// and Sentinel's outlines drawn over its real pixels, the findings, every object and message
// sent with its delivery state and a link to it as sent, and what failed with its reason and a
// button to try again; each study opens in OHIF (`sentinel viewer`); the model catalogue and
// the system page (catalogue.ts).
import fs from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import { projectRoot } from '../../config/load';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config/schema';
import { FindingRow } from '../../db/entities/finding';
import { JobRow } from '../../db/entities/job';
import { OutboxRow } from '../../db/entities/outbox';
import { StudyRow } from '../../db/entities/study';
import { num, str } from '../../dicom/json';
import { Tag } from '../../dicom/tags';
import type { DicomwebClient } from '../../dicomweb/client';
import { SentinelError, badRequest, notFound } from '../../errors/errors';
import type { Queues } from '../../jobs/queues';
import { FailureLimiter } from '../auth';
import { retryFailed } from '../routes/studies';
import { esc, page } from './html';
import { overlayPng, slidePng } from './overlay';
import type { ImageResult } from '../../domain/findings';
import { describeStudySlides, slideSource } from '../../analysis/study-slides';
import { pipelineNamed } from '../../pipelines/registry';
import { cataloguePages } from './catalogue';
import type { ModelRegistry } from '../../inference/registry';
import { SESSION_COOKIE, cookieValue, newSession, passwordMatches, sessionCookie, sessionUser, tokenMatches, validSession } from './session';

const UID = /^[0-9]+(\.[0-9]+)*$/;
const PAGE_SIZE = 50;
const STATES = ['queued', 'running', 'succeeded', 'failed'];
/** The study page's outline editor, served as written (src/api/pages/correct.js). */
const EDITOR = path.join(projectRoot, 'src', 'api', 'pages', 'correct.js');
/** Read on its first request, then kept. */
let editor: Buffer | undefined;
/** The pipelines whose analyses a reader corrects on the study page. */
const CORRECTABLE = new Set(['mammography', 'ultrasound']);
/** The modalities whose images the study page draws (a slide is opened in OHIF's microscopy mode). */
const IMAGE_MODALITIES = new Set(['MG', 'US']);

export interface PagesDeps {
  config: Config;
  ds: DataSource;
  queues: Queues;
  dicomweb: DicomwebClient;
  models: ModelRegistry;
}

function viewerLink(config: Config, study: StudyRow): string {
  const mode = study.modalities.includes('SM') ? 'microscopy' : 'viewer';
  return `${config.viewer.url.replace(/\/+$/, '')}/${mode}?StudyInstanceUIDs=${encodeURIComponent(study.studyInstanceUid)}`;
}

interface DensityView { predicted: string; meaning: string; probability: number }

/** The latest analysis's breast composition, when a density model assessed the films. */
function densityLine(job: JobRow | undefined): string {
  const d = job?.result?.density as { exam: DensityView; breasts: Partial<Record<'R' | 'L', DensityView>>; model: { id: string; version: string } } | undefined;
  if (!d) return '';
  const one = (v: DensityView): string => `${esc(v.meaning)} (${v.probability.toFixed(2)})`;
  const sides = (['R', 'L'] as const).filter((s) => d.breasts[s]).map((s) => `${s === 'R' ? 'right' : 'left'} ${one(d.breasts[s] as DensityView)}`);
  return `<p id="density">Breast composition (AI, ${esc(d.model.id)} ${esc(d.model.version)}): exam ${one(d.exam)}${sides.length ? `; ${sides.join(', ')}` : ''}</p>`;
}

const when = (d: Date | null | undefined): string => (d ? new Date(d).toISOString().replace('T', ' ').slice(0, 16) : '');

export function pagesRouter(deps: PagesDeps): Router {
  const { config, ds, dicomweb } = deps;
  const router = Router();
  const limiter = new FailureLimiter(config.auth.maxFailuresPerMinute);
  const secure = (req: express.Request): boolean => req.secure || req.headers['x-forwarded-proto'] === 'https';

  const loginForm = (message = ''): string => page('Sign in', `
<h1>Sign in</h1>
${message ? `<p class="failed">${esc(message)}</p>` : ''}
<form method="post" action="/app/login">
  <label>User name (leave empty to sign in with an API token) <input type="text" name="user" autocomplete="username"></label>
  <label>Password or API token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
  <p><button type="submit">Sign in</button></p>
</form>
<p class="note">Exchanged for a session cookie; the page never holds the token or password, nor the PACS's credentials.</p>`);

  router.get('/app/login', (_req, res) => res.type('html').send(loginForm()));
  router.post('/app/login', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    const address = req.socket.remoteAddress ?? '?';
    if (limiter.blocked(address)) return res.status(429).type('html').send(loginForm('Too many failed sign-ins from this address: try again in a minute.'));
    const secret = typeof req.body?.token === 'string' ? req.body.token : '';
    const name = typeof req.body?.user === 'string' ? req.body.user.trim() : '';
    // A named user by password; anyone else by an API token. Every configured user's hash is
    // computed whichever name is given, so timing does not say which names exist.
    const userOk = name !== '' && config.auth.users.map((u) => passwordMatches(u.password, secret) && u.name === name).some(Boolean);
    const ok = config.auth.apiTokens.length > 0 && (name === '' ? tokenMatches(config.auth.apiTokens, secret) : userOk);
    if (!ok) {
      limiter.fail(address);
      const why = config.auth.apiTokens.length === 0 ? 'No API token is configured on this server, so nobody can sign in.'
        : name === '' ? 'That is not an API token of this server.' : 'Wrong user name or password.';
      return res.status(401).type('html').send(loginForm(why));
    }
    res.setHeader('Set-Cookie', sessionCookie(newSession(config.auth.apiTokens, Date.now(), name), secure(req)));
    res.redirect(303, '/app/');
  });
  router.post('/app/logout', (req, res) => {
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure(req) ? '; Secure' : ''}`);
    res.redirect(303, '/app/login');
  });

  // Everything else of the app needs a session.
  router.use('/app', (req, res, next) => {
    if (validSession(config.auth.apiTokens, cookieValue(req.headers.cookie))) return next();
    if (req.method === 'GET') return res.redirect(303, '/app/login');
    next(new SentinelError('unauthorized', 'sign in first (/app/login)'));
  });
  router.use(cataloguePages(deps));

  router.get('/app/', async (req, res) => {
    const q = req.query;
    const modality = typeof q.modality === 'string' && /^[A-Z]{2}$/.test(q.modality) ? q.modality : '';
    const state = typeof q.state === 'string' && STATES.includes(q.state) ? q.state : '';
    const from = typeof q.from === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(q.from) ? q.from : '';
    const to = typeof q.to === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(q.to) ? q.to : '';
    const pageNo = Math.max(1, Number(q.page) || 1);
    const qb = ds.getRepository(StudyRow).createQueryBuilder('s');
    if (modality) qb.andWhere(':modality = any(s.modalities)', { modality });
    // The state of the study's latest analysis.
    if (state) qb.andWhere('(select j.state from jobs j where j.study_instance_uid = s.study_instance_uid order by j.created_at desc limit 1) = :state', { state });
    if (from) qb.andWhere('s.first_seen_at >= :from', { from });
    if (to) qb.andWhere("s.first_seen_at < (:to::date + interval '1 day')", { to });
    // Most suspicious first, then newest.
    qb.orderBy('s.exam_score', 'DESC', 'NULLS LAST').addOrderBy('s.score', 'DESC', 'NULLS LAST').addOrderBy('s.first_seen_at', 'DESC')
      .offset((pageNo - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1);
    const entities = await qb.getMany();
    const shown = entities.slice(0, PAGE_SIZE);
    const jobs = shown.length === 0 ? [] : await ds.getRepository(JobRow).createQueryBuilder('j')
      .where('j.study_instance_uid in (:...uids)', { uids: shown.map((s) => s.studyInstanceUid) }).orderBy('j.created_at', 'DESC').getMany();
    const rows = shown.map((s, i) => {
      const jobState = jobs.find((j) => j.studyInstanceUid === s.studyInstanceUid)?.state ?? '';
      return `<tr data-study="${esc(s.studyInstanceUid)}">
  <td>${(pageNo - 1) * PAGE_SIZE + i + 1}</td>
  <td class="${esc(s.category ?? '')}">${esc(s.category ?? '-')}</td>
  <td>${s.examScore ?? '-'}</td><td>${s.score === null ? '-' : s.score.toFixed(3)}</td>
  <td>${esc(s.modalities.join(', '))}</td><td>${esc(s.accessionNumber ?? '')}</td>
  <td class="${esc(jobState)}">${esc(jobState || 'no job')}</td><td>${when(s.analysedAt ?? s.firstSeenAt)}</td>
  <td><a href="/app/studies/${esc(s.studyInstanceUid)}">study</a> · <a href="${esc(viewerLink(config, s))}">OHIF</a></td></tr>`;
    }).join('\n');
    const link = (p: number): string => `/app/?${new URLSearchParams({ ...(modality ? { modality } : {}), ...(state ? { state } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}), page: String(p) }).toString()}`;
    const option = (value: string, current: string, label = value || 'any'): string => `<option value="${esc(value)}"${value === current ? ' selected' : ''}>${esc(label)}</option>`;
    res.type('html').send(page('Worklist', `
<h1>Worklist</h1>
<p class="note">Analysed studies, most suspicious first: exam score (1-10, the model's validation deciles), then AI score.</p>
<form class="filters" method="get" action="/app/">
  <label>Modality <select name="modality">${['', 'MG', 'US', 'SM'].map((m) => option(m, modality)).join('')}</select></label>
  <label>State <select name="state">${['', ...STATES].map((s) => option(s, state)).join('')}</select></label>
  <label>From <input type="date" name="from" value="${esc(from)}"></label>
  <label>To <input type="date" name="to" value="${esc(to)}"></label>
  <button type="submit">Filter</button>
</form>
<table id="worklist"><thead><tr><th>#</th><th>AI category</th><th>Exam score</th><th>AI score</th><th>Modalities</th><th>Accession</th><th>Analysis</th><th>Seen</th><th></th></tr></thead>
<tbody>${rows || '<tr><td colspan="9">No study matches.</td></tr>'}</tbody></table>
<p>${pageNo > 1 ? `<a href="${esc(link(pageNo - 1))}">previous</a> ` : ''}page ${pageNo}${entities.length > PAGE_SIZE ? ` <a href="${esc(link(pageNo + 1))}">next</a>` : ''}</p>`, { signedIn: true }));
  });

  router.get('/app/studies/:uid', async (req, res) => {
    const uid = req.params.uid;
    if (!UID.test(uid)) throw badRequest('not a DICOM UID');
    const study = await ds.getRepository(StudyRow).findOneBy({ studyInstanceUid: uid });
    if (!study) throw notFound(`study ${uid} is unknown to Sentinel`);
    const jobs = await ds.getRepository(JobRow).find({ where: { studyInstanceUid: uid }, order: { createdAt: 'DESC' } });
    const latest = jobs.find((j) => j.state === 'succeeded');
    const findings = latest ? await ds.getRepository(FindingRow).find({ where: { jobId: latest.id }, order: { score: 'DESC' } }) : [];
    const outputs = jobs.length ? await ds.getRepository(OutboxRow).createQueryBuilder('o').where('o.job_id in (:...ids)', { ids: jobs.map((j) => j.id) }).orderBy('o.created_at', 'ASC').getMany() : [];
    // The study's images in the PACS (MG, US), each drawn with the latest analysis's outlines.
    // A slide study has nothing to draw here: its metadata (every tile frame's) is not fetched.
    const meta = study.modalities.some((m) => IMAGE_MODALITIES.has(m)) ? await dicomweb.studyMetadata(uid).catch(() => []) : [];
    const images = meta.filter((m) => IMAGE_MODALITIES.has(str(m, Tag.Modality) ?? ''))
      .map((m) => ({ series: str(m, Tag.SeriesInstanceUID) ?? '', sop: str(m, Tag.SOPInstanceUID) ?? '', laterality: str(m, Tag.ImageLaterality) ?? str(m, Tag.Laterality) ?? '', view: str(m, Tag.ViewPosition) ?? '', columns: num(m, Tag.Columns) ?? 0, rows: num(m, Tag.Rows) ?? 0 }))
      .filter((i) => i.series && i.sop);
    const figures = images.map((i) => {
      const own = findings.filter((f) => f.sopInstanceUid === i.sop);
      const editable = own.map((f) => ({ trackingId: f.trackingId, trackingUid: f.trackingUid, type: f.type, contour: f.contour }));
      return `<figure data-image="${esc(i.sop)}" data-columns="${i.columns}" data-rows="${i.rows}" data-findings="${esc(JSON.stringify(editable))}"><img alt="image ${esc(i.sop)} with ${own.length} AI outline(s)" src="/app/studies/${esc(uid)}/images/${esc(i.series)}/${esc(i.sop)}.png">
<figcaption>${esc([i.laterality, i.view].filter(Boolean).join(' ') || 'image')}: ${own.length ? own.map((f) => `${esc(f.trackingId)} ${esc(f.type)} ${f.score.toFixed(3)}${f.examScore !== null ? ` (exam ${f.examScore}/10)` : ''}`).join(', ') : 'no AI finding'}</figcaption></figure>`;
    }).join('\n');
    // A slide: its thumbnail with the latest analysis's probability map and regions.
    const slides = ((latest?.result?.imageResults ?? []) as Array<Omit<ImageResult, 'findings'>>).filter((i) => i.mapPreview);
    const slideFigures = slides.map((i) => {
      const own = findings.filter((f) => f.sopInstanceUid === i.image.sopInstanceUid);
      return `<figure data-slide="${esc(i.image.sopInstanceUid)}"><img alt="slide ${esc(i.image.sopInstanceUid)} with the AI probability map and ${own.length} region(s)" src="/app/studies/${esc(uid)}/slides/${esc(i.image.seriesInstanceUid)}/${esc(i.image.sopInstanceUid)}.png">
<figcaption>Slide: AI score ${i.score.toFixed(3)}; ${own.length ? own.map((f) => `${esc(f.trackingId)} ${f.areaMm2 !== null ? `${f.areaMm2.toFixed(2)} mm²` : ''} ${f.score.toFixed(3)}`).join(', ') : 'no tumour region'}. Red: the tumour probability (from 0.2, more opaque where higher).</figcaption></figure>`;
    }).join('\n');
    const jobRows = jobs.map((j) => `<tr data-job="${esc(j.id)}"><td>${when(j.createdAt)}</td><td class="${esc(j.state)}">${esc(j.state)}</td><td>${esc(`${j.modelId} ${j.modelVersion}`)}${j.companions ? ` + ${esc(j.companions)}` : ''}</td><td>${j.attempts}</td><td>${esc(j.error ?? '')}</td>
<td>${j.state === 'failed' ? `<form method="post" action="/app/jobs/${esc(j.id)}/retry?study=${esc(uid)}"><button type="submit">Analyse again</button></form>` : ''}</td></tr>`).join('\n');
    const outputRows = outputs.map((o) => `<tr data-output="${esc(o.id)}"><td>${esc(o.label)}</td><td>${esc(o.kind)}${o.destination ? ` to ${esc(o.destination)}` : ''}</td><td class="${esc(o.state)}">${esc(o.state)}</td><td>${o.attempts}</td><td>${esc(o.lastError ?? '')}</td>
<td><a href="/outputs/${esc(o.id)}">as sent</a>${o.state === 'failed' ? ` <form method="post" action="/app/outputs/${esc(o.id)}/retry?study=${esc(uid)}" style="display:inline"><button type="submit">Send again</button></form>` : ''}</td></tr>`).join('\n');
    res.type('html').send(page(`Study ${study.accessionNumber ?? uid}`, `
<h1>Study ${esc(study.accessionNumber ?? '')}</h1>
<p>${esc(study.modalities.join(', '))} · AI <span class="${esc(study.category ?? '')}">${esc(study.category ?? 'not analysed')}</span>${study.examScore !== null ? `, exam score ${study.examScore}/10` : ''}${study.score !== null ? `, score ${study.score.toFixed(3)}` : ''} · <a href="${esc(viewerLink(config, study))}">open in OHIF</a></p>
${densityLine(latest)}
<p class="note">Study Instance UID ${esc(uid)}</p>
<h2>Images</h2>
<div class="images">${figures || slideFigures || `<p class="note">${study.modalities.includes('SM') ? 'A slide: open it in OHIF, where the heat map and regions are drawn over it.' : 'No image of this study is in the PACS.'}</p>`}</div>
${latest && figures && CORRECTABLE.has(latest.pipeline) ? `<div id="correction" data-study="${esc(uid)}" data-job="${esc(latest.id)}">
<label>Reader <input type="text" name="reader" maxlength="64" value="${esc(sessionUser(config.auth.apiTokens, cookieValue(req.headers.cookie)) ?? '')}" required></label>
<button type="button" class="save">Save correction</button><span class="status note">Correct an image's outlines, then save: Sentinel writes a corrected SEG and SR in new series and sends an ORU with result status C; the AI's originals stay.</span></div>
<script src="/app/correct.js"></script>` : ''}
<h2>Analyses</h2>
<table id="jobs"><thead><tr><th>Taken in</th><th>State</th><th>Model</th><th>Attempts</th><th>Why it failed</th><th></th></tr></thead><tbody>${jobRows}</tbody></table>
<h2>Sent</h2>
<table id="outputs"><thead><tr><th>What</th><th>Kind</th><th>State</th><th>Attempts</th><th>Last error</th><th></th></tr></thead><tbody>${outputRows}</tbody></table>`, { signedIn: true }));
  });

  router.get('/app/studies/:uid/images/:series/:file', async (req, res) => {
    const { uid, series } = req.params;
    const sop = req.params.file.replace(/\.png$/, '');
    if (![uid, series, sop].every((u) => UID.test(u))) throw badRequest('not a DICOM UID');
    const latest = await ds.getRepository(JobRow).findOne({ where: { studyInstanceUid: uid, state: 'succeeded' }, order: { finishedAt: 'DESC' } });
    // plain=1: the image alone, for the outline editor to draw over.
    const findings = latest && req.query.plain !== '1' ? await ds.getRepository(FindingRow).findBy({ jobId: latest.id, sopInstanceUid: sop }) : [];
    res.type('png').setHeader('Cache-Control', 'private, no-store');
    res.send(await overlayPng(dicomweb, uid, series, sop, findings));
  });

  router.get('/app/studies/:uid/slides/:series/:file', async (req, res) => {
    const { uid, series } = req.params;
    const sop = req.params.file.replace(/\.png$/, '');
    if (![uid, series, sop].every((u) => UID.test(u))) throw badRequest('not a DICOM UID');
    const latest = await ds.getRepository(JobRow).findOne({ where: { studyInstanceUid: uid, state: 'succeeded' }, order: { finishedAt: 'DESC' } });
    const image = ((latest?.result?.imageResults ?? []) as Array<Omit<ImageResult, 'findings'>>).find((i) => i.image.sopInstanceUid === sop && i.mapPreview);
    if (!latest || !image?.mapPreview) throw notFound(`no analysed slide ${sop} in study ${uid}`);
    const slide = (await describeStudySlides(dicomweb, uid, pipelineNamed(latest.pipeline))).find((s) => s.levels.some((l) => l.instances.some((i) => i.sopInstanceUid === sop)));
    if (!slide) throw notFound(`slide ${sop} is no longer in the PACS`);
    // map=0: the slide alone.
    const bare = req.query.map === '0';
    const findings = bare ? [] : await ds.getRepository(FindingRow).findBy({ jobId: latest.id, sopInstanceUid: sop });
    res.type('png').setHeader('Cache-Control', 'private, no-store');
    res.send(await slidePng(slideSource(dicomweb, slide), image.image, bare ? undefined : image.mapPreview, findings));
  });

  router.get('/app/correct.js', (_req, res) => {
    res.type('text/javascript').setHeader('Cache-Control', 'no-cache');
    editor ??= fs.readFileSync(EDITOR);
    res.send(editor);
  });

  for (const what of ['job', 'output'] as const) {
    router.post(`/app/${what}s/:id/retry`, async (req, res) => {
      await retryFailed(deps, what, req.params.id);
      const study = typeof req.query.study === 'string' && UID.test(req.query.study) ? req.query.study : undefined;
      res.redirect(303, study ? `/app/studies/${study}` : '/app/');
    });
  }
  return router;
}
