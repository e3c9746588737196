// A PACS that goes down loses nothing: while Sentinel cannot reach Orthanc's HTTP API, a
// study stored over DICOM is not taken in (the Lua event's intake fails, the poller keeps its
// cursor), the service stays up and says what is down; when Orthanc answers again the study
// is analysed and its results delivered, once. A PACS that goes down between intake and
// analysis makes the job wait with its reason and retry. Real Orthanc behind a TCP forwarder
// that the test takes down and brings back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { buildMultipartRelated } from '../../src/dicomweb/multipart';
import { JobRow } from '../../src/db/entities/job';
import { OutboxRow } from '../../src/db/entities/outbox';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram, type SampleStudy } from '../../src/samples/mammogram';
import { ensureStack } from '../support/stack';
import { type Forwarder, type Harness, startForwarder, startHarness, storescu, waitUntil } from '../support/e2e';

jest.setTimeout(180_000);

let h: Harness;
let pacs: Forwarder;

beforeAll(async () => {
  const config = await ensureStack();
  pacs = await startForwarder(config.orthanc.bundled.httpPort);
  // Analysis retries long enough to outlast the outage; STOW intake waits 2 s before analysing.
  h = await startHarness({ orthancUrl: `http://127.0.0.1:${pacs.port}`, jobs: { analyzeAttempts: 20, stowSettleMs: 2000 } });
});
afterAll(async () => {
  await h?.close();
  await pacs?.down();
});

function mammogram(name: string): { study: SampleStudy; bytes: Buffer } {
  const study: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `ACC${Date.now() % 1e8}`, patientId: `P-${name}`, patientName: `Test^${name}` };
  const bytes = buildSyntheticMammogram(study, { laterality: 'L', view: 'MLO', seriesInstanceUid: newUid(), instanceNumber: 1 },
    { rows: 1024, columns: 800, spacingMm: 0.2, lesions: [{ x: 500, y: 500, radius: 40 }], seed: 7 });
  return { study, bytes: Buffer.from(bytes) };
}

it('a study stored while the PACS API is down is analysed and delivered once it is back', async () => {
  const { study, bytes } = mammogram('outage');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-outage-')), 'mg.dcm');
  fs.writeFileSync(file, bytes);

  await pacs.down(); // the harness waited for Sentinel's first contact with the PACS
  storescu(h.config, [file]);
  await new Promise((r) => setTimeout(r, 5000)); // stable in Orthanc; Sentinel has tried and failed to reach it

  const health = await request(h.baseUrl).get('/health').expect(503);
  const deps = (health.body as { dependencies: Array<{ name: string; ok: boolean }> }).dependencies;
  expect(deps.find((d) => d.name === 'orthanc')?.ok).toBe(false);
  expect(deps.filter((d) => d.name !== 'orthanc').every((d) => d.ok)).toBe(true);
  await request(h.baseUrl).get('/studies').set('Authorization', `Bearer ${h.token}`).expect(200);
  expect(await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: study.studyInstanceUid })).toEqual([]);

  await pacs.up();
  const job = await waitUntil('the study analysed after the PACS came back', async () => {
    const [j] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: study.studyInstanceUid });
    return j?.state === 'succeeded' ? j : undefined;
  }, 90_000);
  const rows = await waitUntil('SEG, SR and ORU delivered', async () => {
    const r = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job.id });
    return r.length === 4 && r.every((x) => x.state === 'delivered') ? r : undefined;
  }, 60_000);
  expect(rows.map((r) => r.label).sort()).toEqual(['CAD SR', 'ORU^R01', 'SEG', 'SR']);
  expect(job.source).toBe('orthanc-changes');
  expect(await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: study.studyInstanceUid })).toHaveLength(1);
  expect(h.his.messages.filter((m) => m.includes(study.accessionNumber))).toHaveLength(1);
});

it('the PACS going down between intake and analysis: the job waits with its reason, retries, and succeeds once it is back', async () => {
  const { study, bytes } = mammogram('midway');
  const body = buildMultipartRelated([{ contentType: 'application/dicom', body: bytes }], 'b0undary');
  await request(h.baseUrl).post('/dicomweb/studies').set('Authorization', `Bearer ${h.token}`)
    .set('Content-Type', 'multipart/related; type="application/dicom"; boundary=b0undary').send(body).expect(200);
  const jobs = h.services.ds.getRepository(JobRow);
  // Intake has routed the study (it needed the PACS for that); the analysis waits 2 s to start.
  const created = await waitUntil('the job created', async () => (await jobs.findBy({ studyInstanceUid: study.studyInstanceUid }))[0], 1500);
  await pacs.down();
  expect(created.state).toBe('queued');
  try {
    const waiting = await waitUntil('the analysis refused by the down PACS', async () => {
      const j = await jobs.findOneBy({ id: created.id });
      return j && j.attempts >= 1 && j.error ? j : undefined;
    }, 30_000);
    // Not failed: it will be tried again (and may already be, on a busy machine: backoff is 200 ms here).
    expect(['queued', 'running']).toContain(waiting.state);
    expect(waiting.error).toMatch(/unreachable|ECONNREFUSED|unavailable/i);
  } finally {
    await pacs.up();
  }
  const done = await waitUntil('the job succeeded after the PACS came back', async () => {
    const j = await jobs.findOneBy({ id: created.id });
    return j?.state === 'succeeded' ? j : undefined;
  }, 60_000);
  expect(done.attempts).toBeGreaterThan(1);
  await waitUntil('SEG, SR and ORU delivered', async () => {
    const r = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: done.id });
    return r.length === 4 && r.every((x) => x.state === 'delivered') ? r : undefined;
  }, 60_000);
  expect(h.his.messages.filter((m) => m.includes(study.accessionNumber))).toHaveLength(1);
});

it('the PACS refusing writes when results go back: SEG and SR wait in the outbox with the reason, nothing is marked delivered that is not stored, and they land once it takes them', async () => {
  const { study, bytes } = mammogram('writeback');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-writeback-')), 'mg.dcm');
  fs.writeFileSync(file, bytes);
  pacs.refuseWrites = true;
  try {
    storescu(h.config, [file]);
    const job = await waitUntil('the study analysed', async () => {
      const [j] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: study.studyInstanceUid });
      return j?.state === 'succeeded' ? j : undefined;
    }, 90_000);
    const waiting = await waitUntil('SEG and SR refused at least twice', async () => {
      const r = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job.id, kind: 'dicom' });
      return r.length === 3 && r.every((x) => x.attempts >= 2 && x.lastError) ? r : undefined;
    }, 60_000);
    expect(waiting.every((r) => r.state === 'pending')).toBe(true);
    expect(waiting[0]?.lastError).toMatch(/unreachable|reset|closed|socket hang up/i);
    const series = await h.services.dicomweb.searchSeries(study.studyInstanceUid);
    expect(series.filter((s) => s.modality === 'SEG' || s.modality === 'SR')).toEqual([]);
  } finally {
    pacs.refuseWrites = false;
  }
  const [job] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: study.studyInstanceUid });
  await waitUntil('SEG and SR delivered', async () => {
    const r = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job!.id, kind: 'dicom' });
    return r.every((x) => x.state === 'delivered') ? r : undefined;
  }, 60_000);
  const series = await h.services.dicomweb.searchSeries(study.studyInstanceUid);
  expect(series.filter((s) => s.modality === 'SR')).toHaveLength(2); // TID 1500 and Mammography CAD
  expect(series.filter((s) => s.modality === 'SEG')).toHaveLength(1);
});
