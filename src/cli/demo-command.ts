// `sentinel demo`: the whole path an integration engineer wants to see, on this machine.
// Brings up the bundled stack, starts Sentinel (API, /changes poller, workers) and a stand-in
// HIS on the configured HL7 destination, stores sample studies into Orthanc with dcmtk's
// storescu exactly as a modality would (two mammography studies, and when ../shared/data is
// there, a breast ultrasound study and a dicomized whole slide), waits for each, and shows
// the AI score, the SEG and SR series that came back into the study, the ORU and its ACK, and
// the worklist.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema';
import { loadConfig, projectRoot } from '../config/load';
import { JobRow } from '../db/entities/job';
import { OutboxRow } from '../db/entities/outbox';
import { type HisListener, startHisListener } from '../delivery/mllp';
import { newUid } from '../dicom/uid';
import { createLogger } from '../log/logger';
import { type SampleStudy, buildSyntheticMammogram, mammogramFromImage } from '../samples/mammogram';
import { ultrasoundFromImage } from '../samples/ultrasound';
import { dicomize } from '../wsi/dicomize';
import { startSentinel } from '../service/server';
import { type Services, openServices } from '../service/services';
import { bundledStorescuArgs } from '../stack/bundled-orthanc';
import { ensureSecrets, stackUp } from '../stack/stack';

interface DemoStudy {
  title: string;
  slide?: boolean;
  truth: string;
  study: SampleStudy;
  files: string[];
}

const say = (msg = ''): void => console.log(msg);

/** mini-MIAS films of two held-out patients (test split of the model): one with a lesion, one normal. */
async function miniMiasStudies(dataDir: string, outDir: string): Promise<DemoStudy[] | undefined> {
  const mias = path.join(dataDir, 'mammography', 'mini-mias');
  const splitFile = path.join(projectRoot, 'models', 'mg-lesion-detector.split.json');
  if (!fs.existsSync(path.join(mias, 'truth.csv')) || !fs.existsSync(splitFile)) return undefined;
  const test = new Set((JSON.parse(fs.readFileSync(splitFile, 'utf8')) as { test?: string[] }).test ?? []);
  const [header, ...lines] = fs.readFileSync(path.join(mias, 'truth.csv'), 'utf8').trim().split(/\r?\n/);
  const cols = (header ?? '').split(',');
  const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])) as Record<string, string>);
  const byPatient = new Map<string, Array<Record<string, string>>>();
  for (const r of rows) if (test.has(r.patient ?? '')) byPatient.set(r.patient ?? '', [...(byPatient.get(r.patient ?? '') ?? []), r]);
  const lesionTypes = new Set(['CIRC', 'SPIC', 'MISC', 'CALC']);
  const patients = [...byPatient.entries()];
  const abnormal = patients.find(([, films]) => films.some((f) => lesionTypes.has(f.abnormality ?? '') && f.x));
  const normal = patients.find(([, films]) => films.every((f) => f.abnormality === 'NORM'));
  const picked = [abnormal, normal].filter((p): p is [string, Array<Record<string, string>>] => p !== undefined);
  if (picked.length === 0) return undefined;

  const studies: DemoStudy[] = [];
  for (const [index, [, films]] of picked.entries()) {
    const study = demoStudy(index, 'mini-MIAS screening mammography (sample)');
    const seriesUid = newUid();
    const files: string[] = [];
    const images = [...new Map(films.map((f) => [f.image, f])).values()];
    for (const [i, film] of images.entries()) {
      const laterality = film.laterality === 'L' ? 'L' : 'R';
      const file = path.join(outDir, `${study.accessionNumber}-${film.image}.dcm`);
      // mini-MIAS films are 200 micron per pixel; every film is an MLO view.
      fs.writeFileSync(file, await mammogramFromImage(path.join(mias, 'images', `${film.image}.png`), study,
        { laterality, view: 'MLO', seriesInstanceUid: seriesUid, instanceNumber: i + 1 }, 0.2));
      files.push(file);
    }
    const truth = films.filter((f) => f.abnormality !== 'NORM')
      .map((f) => `${f.image} ${f.abnormality}${f.x ? ` at (${f.x}, ${f.y_from_top}) r ${f.radius} px` : ''} (${f.severity === 'M' ? 'malignant' : 'benign'})`)
      .join('; ') || 'normal';
    studies.push({ title: `mini-MIAS ${images.map((f) => f.image).join(' + ')}`, truth, study, files });
  }
  return studies;
}

/** One breast ultrasound study: a malignant and a benign BUSI image of the model's test split. */
async function ultrasoundStudy(dataDir: string, outDir: string): Promise<DemoStudy | undefined> {
  const busi = path.join(dataDir, 'ultrasound', 'busi');
  const splitFile = path.join(projectRoot, 'models', 'busi-classifier.split.json');
  if (!fs.existsSync(busi) || !fs.existsSync(splitFile)) return undefined;
  const test = (JSON.parse(fs.readFileSync(splitFile, 'utf8')) as { test?: string[] }).test ?? [];
  const picks = ['malignant/', 'benign/'].map((p) => test.find((t) => t.startsWith(p))).filter((t): t is string => t !== undefined);
  if (picks.length === 0) return undefined;
  const study = demoStudy(2, 'Breast ultrasound (BUSI sample)');
  const seriesInstanceUid = newUid();
  const files: string[] = [];
  for (const [i, pick] of picks.entries()) {
    const file = path.join(outDir, `${study.accessionNumber}-us${i + 1}.dcm`);
    fs.writeFileSync(file, await ultrasoundFromImage(path.join(busi, pick), study, { seriesInstanceUid, instanceNumber: i + 1 }));
    files.push(file);
  }
  return { title: `BUSI ${picks.join(' + ')}`, truth: picks.map((p) => p.split('/')[0]).join(', '), study, files };
}

/** One whole slide: an IDC mosaic of the tile model's test split, dicomized (OrthancWSIDicomizer). */
async function slideStudy(dataDir: string, outDir: string): Promise<DemoStudy | undefined> {
  const slide = '8974';
  const jpg = path.join(dataDir, 'pathology', 'idc-slides', `${slide}.jpg`);
  if (!fs.existsSync(jpg)) return undefined;
  const study = demoStudy(3, 'Breast pathology, whole slide (IDC sample)');
  const result = await dicomize(jpg, {
    outDir: path.join(outDir, `slide-${slide}`),
    studyInstanceUid: study.studyInstanceUid,
    pixelSpacingMm: 0.004,
    containerIdentifier: `IDC-${slide}`,
    context: { patientId: study.patientId, patientName: study.patientName, accessionNumber: study.accessionNumber, studyDescription: study.studyDescription },
  });
  const csv = path.join(dataDir, 'pathology', 'idc-slides', 'patches.csv');
  const rows = fs.existsSync(csv) ? fs.readFileSync(csv, 'utf8').split(/\r?\n/).filter((l) => l.startsWith(`${slide},`)) : [];
  const positive = rows.filter((l) => l.trim().endsWith(',1')).length;
  return {
    title: `IDC slide ${slide} (${result.levels.length} pyramid levels, ${result.files.length} instances)`,
    slide: true,
    truth: `${positive} of ${rows.length} labelled 50 x 50 patches are IDC`,
    study,
    files: result.files,
  };
}

function syntheticStudies(outDir: string): DemoStudy[] {
  return [true, false].map((withLesion, index) => {
    const study = demoStudy(index, 'Synthetic screening mammography (sample)');
    const seriesUid = newUid();
    const files = (['L', 'R'] as const).map((laterality, i) => {
      const file = path.join(outDir, `${study.accessionNumber}-${laterality}CC.dcm`);
      const lesions = withLesion && laterality === 'L' ? [{ x: 600, y: 420, radius: 40 }] : [];
      fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality, view: 'CC', seriesInstanceUid: seriesUid, instanceNumber: i + 1 },
        { rows: 1024, columns: 800, spacingMm: 0.2, lesions, seed: index * 2 + i + 1 }));
      return file;
    });
    return { title: `synthetic ${withLesion ? 'with a round lesion in LCC' : 'without lesions'}`, truth: withLesion ? 'LCC mass at (600, 420) r 40 px' : 'normal', study, files };
  });
}

function demoStudy(index: number, description: string): SampleStudy {
  const stamp = Date.now().toString(36).toUpperCase();
  return {
    studyInstanceUid: newUid(),
    accessionNumber: `DEMO${stamp}${index + 1}`,
    patientId: `DEMO-${stamp}-${index + 1}`,
    patientName: `Demo^Patient ${index + 1}`,
    studyDescription: description,
  };
}

async function waitForStudy(services: Services, uid: string, timeoutMs: number): Promise<{ job?: JobRow; outbox: OutboxRow[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await services.ds.getRepository(JobRow).find({ where: { studyInstanceUid: uid }, order: { createdAt: 'DESC' } }))[0];
    const outbox = job ? await services.ds.getRepository(OutboxRow).findBy({ jobId: job.id }) : [];
    const delivered = job?.state === 'succeeded' && outbox.length > 0 && outbox.every((o) => o.state === 'delivered');
    if (delivered || job?.state === 'failed' || Date.now() > deadline) return { job, outbox };
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * dcmtk's storescu, as a modality would send. Its default presentation contexts do not include
 * VL Whole Slide Microscopy, so slides are sent proposing exactly their SOP class (-R) in JPEG
 * baseline (-xy), as they are stored.
 */
function storescu(config: Config, files: string[], slide = false): void {
  // The calling AE title is an allowed one (orthanc.bundled.allowedModalities): Orthanc refuses any other.
  execFileSync('storescu', [...(slide ? ['-R', '-xy'] : []), ...bundledStorescuArgs(config), ...files], { stdio: 'pipe' });
}

export async function runDemo(opts: { data?: string; timeoutS: number }): Promise<number> {
  ensureSecrets(projectRoot);
  const config = loadConfig();
  say('== 1. The bundled stack (Orthanc + DICOMweb, PostgreSQL, Redis)');
  for (const p of await stackUp(config, { root: projectRoot, env: process.env, log: (m) => say(`   ${m}`) })) say(`   ${p.name}: ${p.detail}`);

  let his: HisListener;
  try {
    his = await startHisListener({ host: config.hl7.destination.host, port: config.hl7.destination.port });
  } catch (err) {
    say(`demo: cannot listen on ${config.hl7.destination.host}:${config.hl7.destination.port} for the stand-in HIS (${(err as Error).message}); is a HIS or another demo using it?`);
    return 1;
  }
  say(`   stand-in HIS (HL7 v2 over MLLP) listening on ${config.hl7.destination.host}:${his.port}`);

  const services = await openServices(config, { log: createLogger(process.env.LOG_LEVEL ?? 'error') });
  let running: Awaited<ReturnType<typeof startSentinel>> | undefined;
  try {
    running = await startSentinel(services, { api: true, poller: true, workers: true });
    const baseUrl = `http://${config.server.host}:${running.port}`;
    say(`   Sentinel API on ${baseUrl} (token in var/secrets.json), Orthanc /changes poller and workers running`);
    const models = services.models.list().map((m) => `${m.id} ${m.version}`).join(', ');
    const rule = config.routing.rules.find((r) => r.pipeline === 'mammography');
    const mgModel = rule?.models.map((id) => services.models.list().find((m) => m.id === id)).find((m) => m !== undefined);
    if (!mgModel) {
      say(`demo: no mammography model installed (rule wants ${rule?.models.join(', ') ?? 'none'}; installed: ${models || 'none'})`);
      return 1;
    }
    say(`   mammography model: ${mgModel.id} ${mgModel.version}: ${mgModel.name}`);
    say(`   ${mgModel.intendedUse} See models/${mgModel.id}.md for its held-out figures.`);

    say('\n== 2. Sample studies, stored into Orthanc with storescu as a modality would');
    const outDir = path.join(projectRoot, 'var', 'demo', new Date().toISOString().replace(/[:.]/g, '-'));
    fs.mkdirSync(outDir, { recursive: true });
    const dataDir = path.resolve(opts.data ?? path.join(projectRoot, '..', 'shared', 'data'));
    const studies = (await miniMiasStudies(dataDir, outDir)) ?? syntheticStudies(outDir);
    if (studies[0]?.title.startsWith('synthetic')) say(`   (no mini-MIAS under ${dataDir}: using synthetic mammograms)`);
    const installed = new Set(services.models.list().map((m) => m.id));
    const routed = (pipeline: string): boolean => config.routing.rules.some((r) => r.pipeline === pipeline && r.models.some((id) => installed.has(id)));
    if (routed('ultrasound')) {
      const us = await ultrasoundStudy(dataDir, outDir);
      if (us) studies.push(us);
    }
    if (routed('wsi')) {
      const slide = await slideStudy(dataDir, outDir);
      if (slide) studies.push(slide);
    }
    const t0 = new Map<string, number>();
    for (const s of studies) {
      t0.set(s.study.studyInstanceUid, Date.now());
      storescu(config, s.files, s.slide);
      say(`   stored ${s.title}: accession ${s.study.accessionNumber}, ${s.files.length} images, study ${s.study.studyInstanceUid}`);
    }

    say(`\n== 3. Results (waiting up to ${opts.timeoutS} s per study)`);
    let failures = 0;
    for (const s of studies) {
      const uid = s.study.studyInstanceUid;
      const { job, outbox } = await waitForStudy(services, uid, opts.timeoutS * 1000);
      const seconds = ((Date.now() - (t0.get(uid) ?? Date.now())) / 1000).toFixed(1);
      say(`\n-- ${s.title} (accession ${s.study.accessionNumber})`);
      say(`   truth: ${s.truth}`);
      if (!job || job.state !== 'succeeded' || !outbox.every((o) => o.state === 'delivered')) {
        failures++;
        say(`   NOT COMPLETE: job ${job?.id ?? '(none)'} state ${job?.state ?? 'not created'}${job?.error ? `, error: ${job.error}` : ''}`);
        for (const o of outbox) say(`   ${o.label}: ${o.state}${o.lastError ? ` (${o.lastError})` : ''}`);
        continue;
      }
      const detail = (await (await fetch(`${baseUrl}/studies/${uid}`, { headers: { Authorization: `Bearer ${config.auth.apiTokens[0] ?? ''}` } })).json()) as {
        study: { score: number; category: string };
        jobs: Array<{ findings: Array<{ trackingId: string; type: string; score: number; sopInstanceUid: string; centre: { x: number; y: number } }> }>;
      };
      say(`   AI: score ${detail.study.score.toFixed(3)}, category ${detail.study.category}, model ${job.modelId} ${job.modelVersion}, job ${job.id}`);
      const found = detail.jobs[0]?.findings ?? [];
      if (found.length > 5) say(`     ${found.length} findings; the 5 with the highest score:`);
      for (const f of found.slice(0, 5)) say(`     finding ${f.trackingId}: ${f.type}, score ${f.score.toFixed(3)}, centre (${Math.round(f.centre.x)}, ${Math.round(f.centre.y)}) on image ${f.sopInstanceUid}`);
      say(`   delivered ${seconds} s after storescu:`);
      for (const series of await services.dicomweb.searchSeries(uid)) {
        if (series.modality === 'SEG' || series.modality === 'SR') say(`     ${series.modality} series in Orthanc: ${series.seriesInstanceUid} (${series.numberOfInstances ?? '?'} instance(s), "${series.seriesDescription ?? ''}")`);
      }
      const oru = outbox.find((o) => o.kind === 'hl7');
      if (oru) {
        say(`   ORU^R01 to the HIS, acknowledged: ${oru.response ?? ''}`.replace(/\r/g, ' | '));
        say(`${oru.payload?.toString('utf8').split('\r').filter(Boolean).map((seg) => `     ${seg}`).join('\n') ?? ''}`);
      }
    }

    say('\n== 4. Worklist, most suspicious first (GET /studies)');
    const list = (await (await fetch(`${baseUrl}/studies?limit=10`, { headers: { Authorization: `Bearer ${config.auth.apiTokens[0] ?? ''}` } })).json()) as {
      studies: Array<{ rank: number; studyInstanceUid: string; score: number | null; category: string | null; job: { state: string } | null }>;
    };
    const ours = new Map(studies.map((s) => [s.study.studyInstanceUid, s.study.accessionNumber]));
    for (const s of list.studies) {
      const mark = ours.has(s.studyInstanceUid) ? `  <- this demo, accession ${ours.get(s.studyInstanceUid)}` : '';
      say(`   ${String(s.rank).padStart(2)}. ${s.score === null ? '  -  ' : s.score.toFixed(3)} ${(s.category ?? '-').padEnd(12)} ${s.studyInstanceUid} (${s.job?.state ?? 'no job'})${mark}`);
    }

    say(`\nSample files: ${outDir}`);
    say(`Orthanc Explorer: ${config.orthanc.url}/app/explorer.html (user ${config.orthanc.username}, password in var/secrets.json).`);
    say('To see the overlays in OHIF: `npm run viewer`, then http://127.0.0.1:8091/ (any user name; password: apiToken in var/secrets.json).');
    say('To run the service yourself: `npm run sentinel -- his` in one terminal (the stand-in HIS, printing each ORU), `npm run sentinel -- serve --worker` in another.');
    say('The stack keeps running; `npm run stack -- down` stops what it started.');
    return failures === 0 ? 0 : 1;
  } finally {
    await running?.stop();
    await services.close();
    await his.close();
  }
}
