// The servers Sentinel depends on go away and come back, each through a TCP forwarder the test
// takes down (open connections cut, new ones refused, as when the server stops): Redis down
// (intake goes on, the row in PostgreSQL is the truth, /health says degraded, the work runs
// once Redis is back), PostgreSQL down (no crash, intake answers 503, work resumes), the HIS
// down for long (ORUs wait and then reach it in the order they were made).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { JobRow } from '../../src/db/entities/job';
import { OutboxRow } from '../../src/db/entities/outbox';
import { startHisListener } from '../../src/delivery/mllp';
import { buildMultipartRelated } from '../../src/dicomweb/multipart';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram, type SampleStudy } from '../../src/samples/mammogram';
import { ensureStack } from '../support/stack';
import { type Forwarder, type Harness, startForwarder, startHarness, storescu, waitUntil } from '../support/e2e';

jest.setTimeout(240_000);

let h: Harness;
let redis: Forwarder;
let postgres: Forwarder;

beforeAll(async () => {
  const config = await ensureStack();
  const r = new URL(config.redis.url);
  const p = new URL(config.database.url);
  redis = await startForwarder(Number(r.port || 6379));
  postgres = await startForwarder(Number(p.port || 5432));
  r.port = String(redis.port);
  p.port = String(postgres.port);
  h = await startHarness({ redisUrl: r.toString(), databaseUrl: p.toString(), jobs: { analyzeAttempts: 20, deliverAttempts: 60 } });
});
afterAll(async () => {
  await redis?.up().catch(() => undefined);
  await postgres?.up().catch(() => undefined);
  await h?.close();
  await redis?.down();
  await postgres?.down();
});

function mammogram(name: string): { study: SampleStudy; bytes: Buffer } {
  const study: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `DEP${Date.now() % 1e8}`, patientId: `P-${name}`, patientName: `Test^${name}` };
  const bytes = buildSyntheticMammogram(study, { laterality: 'L', view: 'MLO', seriesInstanceUid: newUid(), instanceNumber: 1 },
    { rows: 1024, columns: 800, spacingMm: 0.2, lesions: [{ x: 500, y: 500, radius: 40 }], seed: 7 });
  return { study, bytes: Buffer.from(bytes) };
}

const stow = (bytes: Buffer): request.Test => request(h.baseUrl).post('/dicomweb/studies').set('Authorization', `Bearer ${h.token}`)
  .set('Content-Type', 'multipart/related; type="application/dicom"; boundary=b0undary')
  .send(buildMultipartRelated([{ contentType: 'application/dicom', body: bytes }], 'b0undary'));

const jobOf = async (uid: string): Promise<JobRow | undefined> => (await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: uid }))[0];
const succeeded = (uid: string) => async (): Promise<JobRow | undefined> => {
  const j = await jobOf(uid);
  return j?.state === 'succeeded' ? j : undefined;
};
const allDelivered = (jobId: string) => async (): Promise<OutboxRow[] | undefined> => {
  const rows = await h.services.ds.getRepository(OutboxRow).findBy({ jobId });
  return rows.length === 4 && rows.every((r) => r.state === 'delivered') ? rows : undefined;
};

it('Redis down for a minute: intake keeps accepting, /health says degraded, and what was taken in meanwhile runs once Redis is back; the audit trail shows it all', async () => {
  await redis.down();
  const { study, bytes } = mammogram('redis-down');
  const accepted = await stow(bytes);
  expect(`${accepted.status} ${accepted.status === 200 ? '' : accepted.text}`).toBe('200 ');
  const job = await waitUntil('the job row, queued while Redis is down', async () => jobOf(study.studyInstanceUid), 30_000);
  expect(job.state).toBe('queued');
  const health = await request(h.baseUrl).get('/health').expect(503);
  const body = health.body as { status: string; dependencies: Array<{ name: string; ok: boolean }> };
  expect(body.status).toBe('degraded');
  expect(body.dependencies.find((d) => d.name === 'redis')?.ok).toBe(false);
  await new Promise((r) => setTimeout(r, 60_000)); // down for a minute; nothing can run
  expect((await jobOf(study.studyInstanceUid))?.state).toBe('queued');

  await redis.up();
  const done = await waitUntil('analysed once Redis is back', succeeded(study.studyInstanceUid), 90_000);
  await waitUntil('delivered', allDelivered(done.id), 60_000);
  expect(done.attempts).toBe(1);
  expect(h.his.messages.filter((m) => m.includes(study.accessionNumber))).toHaveLength(1);
  await request(h.baseUrl).get('/health').expect(200);

  // The audit trail says what came in and what went out for the study, behind the token.
  await request(h.baseUrl).get(`/audit?study=${study.studyInstanceUid}`).expect(401);
  const audit = await request(h.baseUrl).get(`/audit?study=${study.studyInstanceUid}`).set('Authorization', `Bearer ${h.token}`).expect(200);
  const entries = (audit.body as { entries: Array<{ direction: string; channel: string; outcome: string; objectUid: string | null }> }).entries;
  const seen = new Set(entries.map((e) => `${e.direction} ${e.channel} ${e.outcome}`));
  for (const e of ['in stow-rs accepted', 'out dicomweb sending', 'out dicomweb delivered', 'out mllp sending', 'out mllp delivered']) expect(seen).toContain(e);
  expect(JSON.stringify(entries)).not.toContain(study.patientId);
});

it('PostgreSQL down: no crash, intake answers 503, and a study stored meanwhile is analysed once it is back', async () => {
  await postgres.down();
  const { study, bytes } = mammogram('pg-down');
  const auth = { Authorization: `Bearer ${h.token}` };
  const event = await request(h.baseUrl).post('/events/orthanc').set(auth).send({ changeType: 'StableStudy', resourceId: 'x', studyInstanceUid: study.studyInstanceUid });
  expect(event.status).toBe(503);
  expect((event.body as { error: { kind: string } }).error.kind).toBe('unavailable');
  const stowed = await stow(bytes).catch((err: { status?: number }) => err);
  expect((stowed as { status?: number }).status).toBe(503);
  await request(h.baseUrl).get('/studies').set(auth).expect(503);
  expect((await request(h.baseUrl).get('/health').expect(503)).body).toMatchObject({ status: 'degraded' });

  // Stored in the PACS over DICOM while Sentinel's database is away.
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-pg-')), 'mg.dcm');
  fs.writeFileSync(file, bytes);
  storescu(h.config, [file]);
  await new Promise((r) => setTimeout(r, 5000));

  await postgres.up();
  const done = await waitUntil('analysed once PostgreSQL is back', succeeded(study.studyInstanceUid), 90_000);
  await waitUntil('delivered', allDelivered(done.id), 60_000);
  expect(h.his.messages.filter((m) => m.includes(study.accessionNumber))).toHaveLength(1);
});

it('the HIS down for long: every ORU waits in the outbox with its reason and reaches the HIS, in order, when it is back', async () => {
  const port = h.his.port;
  await h.his.close();
  const studies = [mammogram('his-1'), mammogram('his-2'), mammogram('his-3')];
  for (const s of studies) {
    await stow(s.bytes).expect(200);
    await waitUntil('analysed', succeeded(s.study.studyInstanceUid), 60_000);
  }
  const orus = await waitUntil('the ORUs refused by the absent HIS', async () => {
    const rows = await h.services.ds.getRepository(OutboxRow).find({ where: { kind: 'hl7', state: 'pending' }, order: { createdAt: 'ASC' } });
    return rows.length === 3 && rows[0]?.lastError ? rows : undefined;
  }, 30_000);
  expect(orus[0]?.lastError).toMatch(/ECONNREFUSED|refused|closed/i);
  await new Promise((r) => setTimeout(r, 5000)); // several retries' worth

  const back = await startHisListener({ port });
  try {
    await waitUntil('all three ORUs at the HIS', async () => back.messages.length >= 3 || undefined, 60_000);
    expect(back.messages.map((m) => studies.findIndex((s) => m.includes(s.study.accessionNumber)))).toEqual([0, 1, 2]);
    const rows = await waitUntil('the ORU rows delivered', async () => {
      const r = await Promise.all(orus.map((o) => h.services.ds.getRepository(OutboxRow).findOneByOrFail({ id: o.id })));
      return r.every((x) => x.state === 'delivered') ? r : undefined;
    }, 30_000);
    // The oldest was retried until the HIS came back; the ones behind it waited their turn
    // instead of knocking on a closed door.
    expect(rows[0]?.attempts).toBeGreaterThan(1);
    expect(rows[2]?.attempts).toBe(1);
  } finally {
    await back.close();
  }
});
