// A PACS that goes down loses nothing: while Sentinel cannot reach Orthanc's HTTP API, a
// study stored over DICOM is not taken in (the Lua event's intake fails, the poller keeps its
// cursor), the service stays up and says what is down; when Orthanc answers again the study
// is analysed and its results delivered, once. Real Orthanc behind a TCP forwarder that the
// test takes down and brings back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
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
  h = await startHarness({ orthancUrl: `http://127.0.0.1:${pacs.port}` });
});
afterAll(async () => {
  await h?.close();
  await pacs?.down();
});

it('a study stored while the PACS API is down is analysed and delivered once it is back', async () => {
  const study: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `ACC${Date.now() % 1e8}`, patientId: 'P-outage', patientName: 'Test^Outage' };
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-outage-')), 'mg.dcm');
  fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality: 'L', view: 'MLO', seriesInstanceUid: newUid(), instanceNumber: 1 },
    { rows: 1024, columns: 800, spacingMm: 0.2, lesions: [{ x: 500, y: 500, radius: 40 }], seed: 7 }));

  await pacs.down();
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
    return r.length === 3 && r.every((x) => x.state === 'delivered') ? r : undefined;
  }, 60_000);
  expect(rows.map((r) => r.label).sort()).toEqual(['ORU^R01', 'SEG', 'SR']);
  expect(job.source).toBe('orthanc-changes');
  expect(await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: study.studyInstanceUid })).toHaveLength(1);
  expect(h.his.messages.filter((m) => m.includes(study.accessionNumber))).toHaveLength(1);
});
