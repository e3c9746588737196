// `npm run loadtest -- --studies N [--workers W] [--threads T] [--kill-worker-at F] [--json]`: the stack up,
// one `sentinel serve` (API + poller) and W `sentinel worker` processes, N two-image
// mammography studies stored into Orthanc as fast as it takes them (storescu and STOW-RS to
// Sentinel, alternately, 8 at a time), then every count checked where it lands: jobs and
// outbox rows in PostgreSQL, SEG and SR instances in Orthanc, ORUs at the stand-in HIS.
// With --kill-worker-at 0.5 the first worker is SIGKILLed once half the studies are analysed.
// Prints one JSON object with --json. A script, not a test: its figures go into notes.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { openDatabase } from '../../src/db/data-source';
import { startHisListener } from '../../src/delivery/mllp';
import { DicomwebClient } from '../../src/dicomweb/client';
import { buildMultipartRelated } from '../../src/dicomweb/multipart';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram, type SampleStudy } from '../../src/samples/mammogram';
import { dicomwebTarget } from '../../src/service/services';
import { type ChildSentinel, spawnSentinel } from '../support/child';
import { bundledStorescuArgs } from '../../src/stack/bundled-orthanc';
import { ensureDatabase } from '../../src/stack/stack';
import { ensureStack, testConfig } from '../support/stack';

const run = promisify(execFile);

interface Options { studies: number; workers: number; threads: number; killAt?: number; json: boolean }

function parseArgs(argv: string[]): Options {
  const opts: Options = { studies: 20, workers: 2, threads: 1, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--studies') opts.studies = Number(argv[++i]);
    else if (a === '--workers') opts.workers = Number(argv[++i]);
    else if (a === '--threads') opts.threads = Number(argv[++i]);
    else if (a === '--kill-worker-at') opts.killAt = Number(argv[++i]);
    else if (a === '--json') opts.json = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!(opts.studies > 0 && opts.workers > 0 && opts.threads > 0)) throw new Error('--studies, --workers and --threads must be positive');
  return opts;
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number);
};

/** Peak resident set of a process so far (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const say = (msg: string): void => { if (!opts.json) console.error(msg); };
  const stack = await ensureStack();
  const his = await startHisListener({ port: 0 });
  const config: Config = testConfig({
    database: { url: stack.database.url.replace(/\/[^/]+$/, '/sentinel_load') },
    redis: { prefix: 'sentinel-load' },
    hl7: { destination: { host: '127.0.0.1', port: his.port, timeoutMs: 10_000 } },
    models: { dir: path.join(projectRoot, 'models'), threads: opts.threads },
    orthanc: { pollIntervalMs: 1000 },
    jobs: { stowSettleMs: 1000 },
    log: { level: 'info' },
  });
  await ensureDatabase(config.database.url);
  const ds = await openDatabase(config.database.url);
  await ds.query('truncate studies, jobs, findings, outbox, cursors, audit');
  await run('redis-cli', ['-u', config.redis.url, 'eval', "for _,k in ipairs(redis.call('keys', ARGV[1])) do redis.call('del', k) end", '0', 'sentinel-load:*']);

  say(`load test: ${opts.studies} studies, 1 API process, ${opts.workers} worker process(es)${opts.killAt !== undefined ? `, worker 1 killed at ${opts.killAt * 100}% analysed` : ''}`);
  const api = await spawnSentinel(config, ['serve']);
  const workers: ChildSentinel[] = [];
  for (let i = 0; i < opts.workers; i++) workers.push(await spawnSentinel(config, ['worker']));
  for (;;) { // the poller's first cursor: what is stored from now on is after it
    if ((await ds.query('select 1 from cursors') as unknown[]).length > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const token = config.auth.apiTokens[0] ?? '';

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-load-'));
  const studies: Array<{ study: SampleStudy; files: string[]; via: 'storescu' | 'stow'; submittedAt: number }> = [];
  for (let n = 0; n < opts.studies; n++) {
    const study: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `LD${String(n).padStart(6, '0')}${Date.now() % 1e4}`, patientId: `PLOAD${n}`, patientName: `Load^${n}` };
    const series = newUid();
    const files = (['L', 'R'] as const).map((laterality, i) => {
      const file = path.join(dir, `${n}-${laterality}.dcm`);
      fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality, view: 'CC', seriesInstanceUid: series, instanceNumber: i + 1 },
        { rows: 1024, columns: 800, spacingMm: 0.2, lesions: n % 2 === 0 ? [{ x: laterality === 'L' ? 600 : 200, y: 420, radius: 40 }] : [], seed: n * 2 + i }));
      return file;
    });
    studies.push({ study, files, via: n % 2 === 0 ? 'storescu' : 'stow', submittedAt: 0 });
  }

  const started = Date.now();
  let next = 0;
  const submitOne = async (): Promise<void> => {
    for (;;) {
      const s = studies[next++];
      if (!s) return;
      s.submittedAt = Date.now();
      if (s.via === 'storescu') {
        await run('storescu', [...bundledStorescuArgs(config), ...s.files]);
      } else {
        const boundary = 'loadtest';
        const body = buildMultipartRelated(s.files.map((f) => ({ contentType: 'application/dicom', body: fs.readFileSync(f) })), boundary);
        const res = await fetch(`http://127.0.0.1:${api.port}/dicomweb/studies`, {
          method: 'POST', body, headers: { Authorization: `Bearer ${token}`, 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
        });
        if (res.status !== 200) throw new Error(`STOW-RS answered ${res.status}: ${await res.text()}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, submitOne));
  const submittedS = (Date.now() - started) / 1000;
  say(`submitted ${opts.studies} studies in ${submittedS.toFixed(1)} s`);

  const uids = studies.map((s) => s.study.studyInstanceUid);
  let killed = false;
  const peak = new Map<number, number>();
  const track = (): void => { for (const c of [api, ...workers]) peak.set(c.pid, Math.max(peak.get(c.pid) ?? 0, peakRssMb(c.pid))); };
  const deadline = Date.now() + Math.max(600_000, opts.studies * 20_000);
  let done = 0;
  while (Date.now() < deadline) {
    track();
    const [row] = await ds.query(
      `select count(*)::int as n from jobs j where j.study_instance_uid = any($1) and j.state = 'succeeded'
         and not exists (select 1 from outbox o where o.job_id = j.id and o.state <> 'delivered')`, [uids]) as Array<{ n: number }>;
    done = row?.n ?? 0;
    if (!killed && opts.killAt !== undefined && done >= opts.killAt * opts.studies && workers[0]) {
      track();
      await workers[0].kill('SIGKILL');
      killed = true;
      say(`worker 1 (pid ${workers[0].pid}) killed at ${done} studies done`);
    }
    if (done >= opts.studies) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const elapsedS = (Date.now() - started) / 1000;

  // The counts, where each lands.
  const jobs = await ds.query(`select study_instance_uid, id, state from jobs where study_instance_uid = any($1)`, [uids]) as Array<{ study_instance_uid: string; id: string; state: string }>;
  const orus = await ds.query(`select j.study_instance_uid, o.delivered_at from outbox o join jobs j on j.id = o.job_id where o.kind = 'hl7' and o.state = 'delivered' and j.study_instance_uid = any($1)`, [uids]) as Array<{ study_instance_uid: string; delivered_at: Date }>;
  const dicomweb = new DicomwebClient(dicomwebTarget(config));
  let duplicates = 0;
  let lost = 0;
  const latencies: number[] = [];
  const problems: string[] = [];
  for (const s of studies) {
    const uid = s.study.studyInstanceUid;
    const mine = jobs.filter((j) => j.study_instance_uid === uid);
    const atHis = his.messages.filter((m) => m.includes(s.study.accessionNumber)).length;
    const series = await dicomweb.searchSeries(uid);
    const srs = series.filter((x) => x.modality === 'SR').length;
    const segs = series.filter((x) => x.modality === 'SEG');
    const segRows = (await ds.query(`select count(*)::int as n from outbox o join jobs j on j.id = o.job_id where j.study_instance_uid = $1 and o.label = 'SEG'`, [uid]) as Array<{ n: number }>)[0]?.n ?? 0;
    // The TID 1500 SR and, for mammography, the CAD SR: each its own series.
    const srRows = (await ds.query(`select count(*)::int as n from outbox o join jobs j on j.id = o.job_id where j.study_instance_uid = $1 and o.label in ('SR', 'CAD SR') and o.destination is null`, [uid]) as Array<{ n: number }>)[0]?.n ?? 0;
    let segInstances = 0;
    for (const x of segs) segInstances += (await dicomweb.seriesMetadata(uid, x.seriesInstanceUid)).length;
    if (mine.length > 1 || atHis > 1 || srs > srRows || segInstances > segRows) {
      duplicates++;
      problems.push(`${s.study.accessionNumber}: ${mine.length} jobs, ${atHis} ORUs at the HIS, ${srs} SR series for ${srRows} SR rows, ${segInstances} SEG instances for ${segRows} SEG rows`);
    } else if (mine.length === 0 || mine[0]?.state !== 'succeeded' || atHis === 0 || srRows === 0 || srs !== srRows || segInstances !== segRows) {
      lost++;
      problems.push(`${s.study.accessionNumber}: ${mine.length} jobs (${mine[0]?.state ?? '-'}), ${atHis} ORUs at the HIS, ${srs} SR, ${segInstances}/${segRows} SEG`);
    }
    const oru = orus.find((o) => o.study_instance_uid === uid);
    if (oru) latencies.push((new Date(oru.delivered_at).getTime() - s.submittedAt) / 1000);
  }
  track();
  const result = {
    studies: opts.studies,
    workers: opts.workers,
    threads: opts.threads,
    worker_killed: killed,
    analysed: done,
    duplicates,
    lost,
    p50_s: Number(quantile(latencies, 0.5).toFixed(2)),
    p95_s: Number(quantile(latencies, 0.95).toFixed(2)),
    max_s: Number(Math.max(...latencies).toFixed(2)),
    studies_per_min: Number((done / (elapsedS / 60)).toFixed(1)),
    submitted_s: Number(submittedS.toFixed(1)),
    elapsed_s: Number(elapsedS.toFixed(1)),
    peak_rss_mb: Math.round(Math.max(...peak.values())),
    peak_rss_mb_by_process: [api, ...workers].map((c, i) => ({ role: i === 0 ? 'api' : `worker ${i}`, mb: Math.round(peak.get(c.pid) ?? 0) })),
    model: 'mg-lesion-detector (shipped), 2 images of 1024x800 per study',
    problems: problems.slice(0, 20),
  };
  console.log(opts.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  for (const c of [api, ...workers]) await c.kill('SIGTERM');
  await his.close();
  await ds.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(lost + duplicates === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(2);
});
