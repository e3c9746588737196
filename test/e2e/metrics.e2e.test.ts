// GET /metrics after a real study went through: Prometheus text read back by the Prometheus
// project's own parser (Debian's python3-prometheus-client), behind the API token, counting
// what the database says happened.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobRow } from '../../src/db/entities/job';
import { OutboxRow } from '../../src/db/entities/outbox';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram } from '../../src/samples/mammogram';
import { freePort, spawnSentinel } from '../support/child';
import { type Harness, startHarness, storescu, waitUntil } from '../support/e2e';

jest.setTimeout(180_000);

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

interface Sample { name: string; labels: Record<string, string>; value: number }

/** Every sample of a Prometheus text exposition, parsed by prometheus_client.parser. */
function parse(text: string): Sample[] {
  const script = [
    'import sys, json',
    'from prometheus_client.parser import text_string_to_metric_families',
    'out = [{"name": s.name, "labels": s.labels, "value": s.value} for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples]',
    'print(json.dumps(out))',
  ].join('\n');
  const res = spawnSync('/usr/bin/python3', ['-c', script], { input: text, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`prometheus_client could not parse /metrics: ${res.stderr}`);
  return JSON.parse(res.stdout) as Sample[];
}

const sum = (samples: Sample[], name: string, labels: Record<string, string> = {}): number => samples
  .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  .reduce((a, s) => a + s.value, 0);

describe('GET /metrics', () => {
  it('refuses a scrape without the API token', async () => {
    const res = await fetch(`${h.baseUrl}/metrics`);
    expect(res.status).toBe(401);
  });

  it('counts intake, analysis stages, inference and deliveries, and reads jobs and messages by state from PostgreSQL', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-metrics-'));
    const study = { studyInstanceUid: newUid(), accessionNumber: 'ACC-METRICS', patientId: 'P-METRICS', patientName: 'Metrics^Test' };
    const series = newUid();
    const files = (['L', 'R'] as const).map((laterality, i) => {
      const file = path.join(dir, `${laterality}.dcm`);
      fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality, view: 'CC', seriesInstanceUid: series, instanceNumber: i + 1 }, { rows: 512, columns: 400, spacingMm: 0.2, seed: i + 1 }));
      return file;
    });
    storescu(h.config, files);
    const job = await waitUntil('the study analysed and every output delivered', async () => {
      const [j] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: study.studyInstanceUid });
      if (!j || j.state !== 'succeeded') return undefined;
      const rows = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: j.id });
      return rows.length > 0 && rows.every((r) => r.state === 'delivered') ? j : undefined;
    }, 120_000);

    const res = await fetch(`${h.baseUrl}/metrics`, { headers: { Authorization: `Bearer ${h.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const samples = parse(await res.text());

    expect(sum(samples, 'sentinel_studies_received_total', { outcome: 'queued' })).toBeGreaterThanOrEqual(1);
    expect(sum(samples, 'sentinel_analyses_total', { pipeline: 'mammography', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    for (const stage of ['fetch', 'analyse', 'reports', 'persist', 'total']) {
      expect(sum(samples, 'sentinel_stage_duration_seconds_count', { pipeline: 'mammography', stage })).toBeGreaterThanOrEqual(1);
    }
    // Both films went through the model: at least one batch each.
    expect(sum(samples, 'sentinel_model_inference_duration_seconds_count', { model: job.modelId })).toBeGreaterThanOrEqual(2);
    expect(sum(samples, 'sentinel_model_inference_duration_seconds_sum', { model: job.modelId })).toBeGreaterThan(0);

    // What PostgreSQL holds, as the scrape read it.
    const outbox = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job.id });
    const dicom = outbox.filter((r) => r.kind === 'dicom').length;
    expect(sum(samples, 'sentinel_outbox_messages', { kind: 'dicom', state: 'delivered' })).toBeGreaterThanOrEqual(dicom);
    expect(sum(samples, 'sentinel_deliveries_total', { channel: 'dicomweb', outcome: 'delivered' })).toBeGreaterThanOrEqual(dicom);
    expect(sum(samples, 'sentinel_deliveries_total', { channel: 'mllp', outcome: 'delivered' })).toBeGreaterThanOrEqual(1);
    const succeeded = await h.services.ds.getRepository(JobRow).countBy({ pipeline: 'mammography', state: 'succeeded' });
    expect(sum(samples, 'sentinel_jobs', { pipeline: 'mammography', state: 'succeeded' })).toBe(succeeded);
    expect(sum(samples, 'sentinel_dependency_up', { dependency: 'redis' })).toBe(1);
    expect(sum(samples, 'sentinel_dependency_up', { dependency: 'postgresql' })).toBe(1);
    expect(samples.some((s) => s.name === 'sentinel_queue_jobs' && s.labels.queue === 'analyze')).toBe(true);
    // Node's own figures, and no UID anywhere among the labels.
    expect(samples.some((s) => s.name === 'sentinel_process_resident_memory_bytes')).toBe(true);
    expect(samples.every((s) => Object.values(s.labels).every((v) => !/^\d+(\.\d+){3,}$/.test(v)))).toBe(true);
  });

  it("a worker in its own process serves its own /metrics with --metrics-port, behind the token", async () => {
    const port = await freePort();
    const worker = await spawnSentinel(h.config, ['worker', '--metrics-port', String(port)]);
    try {
      const url = `http://127.0.0.1:${port}/metrics`;
      await waitUntil('the worker metrics port', () => fetch(url).then(() => true, () => undefined), 30_000);
      expect((await fetch(url)).status).toBe(401);
      const res = await fetch(url, { headers: { Authorization: `Bearer ${h.token}` } });
      expect(res.status).toBe(200);
      const names = new Set(parse(await res.text()).map((s) => s.name));
      expect(names.has('sentinel_process_cpu_user_seconds_total')).toBe(true);
      // Its own process only: the shared figures are the API's.
      expect(names.has('sentinel_jobs')).toBe(false);
    } finally {
      expect(await worker.kill('SIGTERM')).toBe(0);
    }
  });
});
