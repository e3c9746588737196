// A mammography study stored into the bundled Orthanc comes back with SEG and SR in the same
// study, and the HIS gets one acknowledged ORU. Real Orthanc, PostgreSQL, Redis, sockets.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { CursorRow } from '../../src/db/entities/cursor';
import { JobRow } from '../../src/db/entities/job';
import { OutboxRow } from '../../src/db/entities/outbox';
import { newUid } from '../../src/dicom/uid';
import { CHANGES_CURSOR } from '../../src/intake/orthanc-changes';
import { OrthancRest } from '../../src/orthanc/rest';
import { buildMultipartRelated } from '../../src/dicomweb/multipart';
import { startHisListener } from '../../src/delivery/mllp';
import { buildSyntheticMammogram, type SampleStudy } from '../../src/samples/mammogram';
import { dciodvfy, dcmdump, dsrdump } from '../support/dicom-judges';
import { type Harness, startHarness, storescu, waitUntil } from '../support/e2e';

jest.setTimeout(180_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-e2e-'));
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

function writeStudy(name: string, lesion: boolean | 'both'): { study: SampleStudy; files: string[] } {
  const study: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `ACC${Date.now() % 1e8}`, patientId: `P-${name}`, patientName: `Test^${name}` };
  const series = newUid();
  const files = (['L', 'R'] as const).map((laterality, i) => {
    const file = path.join(dir, `${name}-${laterality}.dcm`);
    // The breast lies against the right edge on L images and the left edge on R images.
    const lesions = (lesion && laterality === 'L') || lesion === 'both' ? [{ x: laterality === 'L' ? 600 : 200, y: 420, radius: 40 }] : [];
    fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality, view: 'CC', seriesInstanceUid: series, instanceNumber: i + 1 }, { rows: 1024, columns: 800, spacingMm: 0.2, lesions, seed: i + 1 }));
    return file;
  });
  return { study, files };
}

async function jobsOf(studyUid: string): Promise<JobRow[]> {
  return h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: studyUid });
}

async function delivered(studyUid: string): Promise<OutboxRow[] | undefined> {
  const [job] = await jobsOf(studyUid);
  if (!job || job.state !== 'succeeded') return undefined;
  const rows = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job.id });
  return rows.length > 0 && rows.every((r) => r.state === 'delivered') ? rows : undefined;
}

describe('mammography end to end', () => {
  let first: { study: SampleStudy; files: string[] };

  it('a study stored with storescu comes back with SEG and SR in the same study, one SEG series per image (OHIF 3.13 quirk: it shows one SEG per series), and one ORU to the HIS', async () => {
    first = writeStudy('first', 'both');
    const t0 = Date.now();
    storescu(h.config, first.files);
    const rows = await waitUntil('SEG, SR and ORU delivered', () => delivered(first.study.studyInstanceUid), 90_000);
    const seconds = (Date.now() - t0) / 1000;
    console.log(`storescu to SEG+SR stored and ORU acknowledged: ${seconds.toFixed(1)} s`);

    expect(rows.map((r) => r.label).sort()).toEqual(['CAD SR', 'ORU^R01', 'SEG', 'SEG', 'SR']);
    const series = await h.services.dicomweb.searchSeries(first.study.studyInstanceUid);
    // A SEG series for each image with findings (OHIF shows one SEG per series), the TID 1500 SR and the Mammography CAD SR.
    expect(series.filter((s) => s.modality === 'SEG')).toHaveLength(2);
    expect(series.filter((s) => s.modality === 'SR')).toHaveLength(2);
    // The objects in the study are exactly the ones the outbox sent: same SOP Instance UIDs, same kinds.
    const stored: Array<[string, string]> = [];
    for (const s of series.filter((x) => x.modality === 'SEG' || x.modality === 'SR')) {
      for (const meta of await h.services.dicomweb.seriesMetadata(first.study.studyInstanceUid, s.seriesInstanceUid)) {
        const sop = String(meta['00080018']?.Value?.[0]);
        const cad = meta['00080016']?.Value?.[0] === '1.2.840.10008.5.1.4.1.1.88.50';
        stored.push([sop, cad ? 'CAD SR' : s.modality]);
        const bytes = await h.services.dicomweb.retrieveInstance(first.study.studyInstanceUid, s.seriesInstanceUid, sop);
        expect(dciodvfy(bytes).errors).toEqual([]);
        expect(dcmdump(bytes)).toContain(first.study.studyInstanceUid);
        if (s.modality === 'SR') expect(dsrdump(bytes)).toContain(cad ? 'Single Image Finding' : 'Measurement Group');
      }
    }
    expect(stored.sort()).toEqual(rows.filter((r) => r.kind === 'dicom').map((r) => [r.objectUid, r.label]).sort());

    const orus = h.his.messages.filter((m) => m.includes(first.study.accessionNumber));
    expect(orus).toHaveLength(1);
    const py = spawnSync('/usr/bin/python3', ['-c', 'import hl7,sys; m=hl7.parse(sys.stdin.read()); print(m.segment("OBR")[2], m.segment("OBX")[5])'], { input: orus[0], encoding: 'utf8' });
    expect(py.status).toBe(0);
    expect(py.stdout).toContain(first.study.accessionNumber);

    const res = await request(h.baseUrl).get(`/studies/${first.study.studyInstanceUid}`).set('Authorization', `Bearer ${h.token}`).expect(200);
    const body = res.body as { study: { score: number; category: string }; jobs: Array<{ findings: Array<{ type: string }> }> };
    expect(body.study.score).toBeGreaterThan(0.5);
    // Every message is inspectable: the ORU as the HIS received it, the SEG as Orthanc stored it.
    const outputs = (body.jobs[0] as unknown as { outputs: Array<{ id: string; label: string }> }).outputs;
    const oruText = await request(h.baseUrl).get(`/outputs/${outputs.find((o) => o.label === 'ORU^R01')!.id}`).set('Authorization', `Bearer ${h.token}`).expect(200);
    expect(oruText.text.replace(/\r\n/g, '\r')).toBe(orus[0]);
    const segFile = await request(h.baseUrl).get(`/outputs/${outputs.find((o) => o.label === 'SEG')!.id}`).set('Authorization', `Bearer ${h.token}`)
      .buffer(true).parse((r, cb) => { const chunks: Buffer[] = []; r.on('data', (c: Buffer) => chunks.push(c)); r.on('end', () => cb(null, Buffer.concat(chunks))); }).expect(200);
    expect(dciodvfy(segFile.body as Buffer).errors).toEqual([]);
    await request(h.baseUrl).get(`/outputs/${outputs[0]!.id}`).expect(401);
    expect(body.jobs[0]?.findings.length).toBe(2);
  });

  it('the same study stored again and announced again is analysed once', async () => {
    storescu(h.config, first.files);
    const event = await request(h.baseUrl).post('/events/orthanc').set('Authorization', `Bearer ${h.token}`)
      .send({ changeType: 'StableStudy', resourceId: 'x', studyInstanceUid: first.study.studyInstanceUid }).expect(202);
    expect(event.body).toMatchObject({ outcome: 'accepted' });
    await new Promise((r) => setTimeout(r, 5000)); // past Orthanc's StableAge and a few polls
    expect(await jobsOf(first.study.studyInstanceUid)).toHaveLength(1);
    expect(h.his.messages.filter((m) => m.includes(first.study.accessionNumber))).toHaveLength(1);
  });

  it('a study stored while Sentinel is stopped is analysed after it starts', async () => {
    await h.stop();
    const late = writeStudy('late', false);
    storescu(h.config, late.files);
    await new Promise((r) => setTimeout(r, 4500)); // stable in Orthanc while Sentinel is down: the Lua event is lost
    await h.start();
    await waitUntil('the late study delivered', () => delivered(late.study.studyInstanceUid), 90_000);
    const [job] = await jobsOf(late.study.studyInstanceUid);
    expect(job?.source).toBe('orthanc-changes');
  });

  it("on its very first start Sentinel begins at the end of Orthanc's /changes feed: the PACS's history is not analysed", async () => {
    await h.stop();
    const old = writeStudy('history', true);
    storescu(h.config, old.files);
    await new Promise((r) => setTimeout(r, 4500)); // stable in Orthanc, in the feed's history
    const last = await new OrthancRest(h.config.orthanc).lastChange();
    await h.start({ firstStart: true });
    const cursor = await waitUntil('the first-start cursor', async () => (await h.services.ds.getRepository(CursorRow).findOneBy({ name: CHANGES_CURSOR })) ?? undefined, 10_000);
    expect(cursor.value).toBeGreaterThanOrEqual(last);
    await new Promise((r) => setTimeout(r, 2000)); // several polls
    expect(await jobsOf(old.study.studyInstanceUid)).toEqual([]);
  });

  it('an MG image with truncated pixel data gets a recorded, readable error and nothing is sent', async () => {
    const bad = writeStudy('bad', false);
    const bytes = fs.readFileSync(bad.files[0] as string);
    // Cut the pixel data short while keeping the file parseable: rewrite the PixelData length.
    const pos = bytes.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
    const kept = 1000;
    const cut = Buffer.concat([bytes.subarray(0, pos + 8), Buffer.alloc(4), bytes.subarray(pos + 12, pos + 12 + kept)]);
    cut.writeUInt32LE(kept, pos + 8);
    const file = path.join(dir, 'truncated.dcm');
    fs.writeFileSync(file, cut);
    storescu(h.config, [file]);
    const job = await waitUntil('the job to fail', async () => (await jobsOf(bad.study.studyInstanceUid)).find((j) => j.state === 'failed'), 60_000);
    expect(job.error).toMatch(/truncated/);
    expect(await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job.id })).toEqual([]);
    const res = await request(h.baseUrl).get(`/jobs/${job.id}`).set('Authorization', `Bearer ${h.token}`).expect(200);
    expect((res.body as { error: string }).error).toMatch(/truncated/);

    // Retried by hand it runs again, with fresh attempts, and fails again for the same reason;
    // a job that did not fail cannot be retried.
    await request(h.baseUrl).post(`/jobs/${job.id}/retry`).expect(401);
    await request(h.baseUrl).post(`/jobs/${job.id}/retry`).set('Authorization', `Bearer ${h.token}`).expect(202);
    const again = await waitUntil('the retried job to fail again', async () => {
      const [j] = await jobsOf(bad.study.studyInstanceUid);
      return j?.state === 'failed' && j.finishedAt ? j : undefined;
    }, 60_000);
    expect(again.attempts).toBe(1);
    expect(again.error).toMatch(/truncated/);
    const [good] = await jobsOf(first.study.studyInstanceUid);
    await request(h.baseUrl).post(`/jobs/${good!.id}/retry`).set('Authorization', `Bearer ${h.token}`).expect(409);
  });

  it('STOW-RS: good instances are stored and queued, a malformed part is refused with its reason, a truncated upload stores nothing', async () => {
    const s = writeStudy('stow', true);
    const body = buildMultipartRelated([
      { contentType: 'application/dicom', body: fs.readFileSync(s.files[0] as string) },
      { contentType: 'application/dicom', body: Buffer.from('this is not DICOM') },
    ], 'b0undary');
    const res = await request(h.baseUrl).post('/dicomweb/studies').set('Authorization', `Bearer ${h.token}`)
      .set('Content-Type', 'multipart/related; type="application/dicom"; boundary=b0undary').send(body).expect(202);
    const json = res.body as Record<string, { Value: Array<Record<string, { Value: unknown[] }>> }>;
    expect(json['00081199']?.Value).toHaveLength(1);
    expect(json['00081198']?.Value[0]?.['00081197']?.Value[0]).toBe(0xc000);
    await waitUntil('the STOW study delivered', () => delivered(s.study.studyInstanceUid), 90_000);

    const other = writeStudy('cut', false);
    const full = buildMultipartRelated([{ contentType: 'application/dicom', body: fs.readFileSync(other.files[0] as string) }], 'b0undary');
    await request(h.baseUrl).post('/dicomweb/studies').set('Authorization', `Bearer ${h.token}`)
      .set('Content-Type', 'multipart/related; type="application/dicom"; boundary=b0undary').send(full.subarray(0, full.length - 100)).expect(400);
    expect(await h.services.dicomweb.searchSeries(other.study.studyInstanceUid)).toEqual([]);
  });

  it('every data route needs the token; health does not', async () => {
    await request(h.baseUrl).get('/studies').expect(401);
    await request(h.baseUrl).post('/dicomweb/studies').send('x').expect(401);
    await request(h.baseUrl).get('/studies').set('Authorization', 'Bearer wrong-token-wrong-token').expect(401);
    const health = await request(h.baseUrl).get('/health').expect(200);
    expect((health.body as { dependencies: Array<{ ok: boolean }> }).dependencies.every((d) => d.ok)).toBe(true);
    const list = await request(h.baseUrl).get('/studies').set('Authorization', `Bearer ${h.token}`).expect(200);
    // Ranked by exam score (1-10), then raw score, most suspicious first; the test model's
    // scale is tenths, so an analysed study's exam score is ceil(10 x score).
    const studies = (list.body as { studies: Array<{ score: number | null; examScore: number | null }> }).studies;
    const keys = studies.map((s) => [s.examScore ?? -1, s.score ?? -1] as const);
    expect(keys).toEqual([...keys].sort((a, b) => b[0] - a[0] || b[1] - a[1]));
    const analysed = studies.filter((s) => s.score !== null);
    expect(analysed.length).toBeGreaterThan(1);
    for (const s of analysed) expect(s.examScore).toBe(Math.min(10, Math.max(1, Math.ceil(10 * (s.score as number)))));
  });

  it("Orthanc's own DICOMweb push (a \"Servers\" entry pointing at Sentinel's STOW-RS, token as password) is taken in and analysed once", async () => {
    const s = writeStudy('push', true);
    storescu(h.config, s.files);
    const { url, username, password } = h.config.orthanc;
    const orthanc = async (method: string, route: string, body: unknown): Promise<Response> => fetch(`${url}${route}`, {
      method,
      headers: { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`, 'Content-Type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const lookup = await (await orthanc('POST', '/tools/lookup', s.study.studyInstanceUid)).json() as Array<{ ID: string; Type: string }>;
    const studyId = lookup.find((r) => r.Type === 'Study')?.ID;
    expect(studyId).toBeDefined();
    expect((await orthanc('PUT', '/dicom-web/servers/sentinel-e2e', { Url: `${h.baseUrl}/dicomweb/`, Username: 'orthanc', Password: h.token })).status).toBe(200);
    try {
      const push = await orthanc('POST', '/dicom-web/servers/sentinel-e2e/stow', { Resources: [studyId], Synchronous: true });
      expect(push.status).toBe(200);
    } finally {
      await orthanc('DELETE', '/dicom-web/servers/sentinel-e2e', undefined);
    }
    await waitUntil('the pushed study delivered', () => delivered(s.study.studyInstanceUid), 90_000);
    await new Promise((r) => setTimeout(r, 4000)); // the Lua event and the poller see it too
    expect(await jobsOf(s.study.studyInstanceUid)).toHaveLength(1);
    expect(h.his.messages.filter((m) => m.includes(s.study.accessionNumber))).toHaveLength(1);
  });

  it('an HIS that is down loses nothing: the ORU waits in the outbox with its reason and is delivered once the HIS is back', async () => {
    const port = h.his.port;
    await h.his.close();
    const s = writeStudy('his-down', true);
    storescu(h.config, s.files);
    const outbox = h.services.ds.getRepository(OutboxRow);
    const waiting = await waitUntil('the ORU refused at least twice', async () => {
      const [job] = await jobsOf(s.study.studyInstanceUid);
      const oru = job ? await outbox.findOneBy({ jobId: job.id, label: 'ORU^R01' }) : null;
      return oru && oru.attempts >= 2 ? oru : undefined;
    }, 90_000);
    expect(waiting.state).toBe('pending');
    expect(waiting.lastError).toMatch(/ECONNREFUSED|refused|unavailable/i);

    const back = await startHisListener({ port });
    try {
      const rows = await waitUntil('the ORU delivered after the HIS came back', () => delivered(s.study.studyInstanceUid), 60_000);
      const oru = rows.find((r) => r.label === 'ORU^R01');
      expect(oru?.attempts).toBeGreaterThan(2);
      expect(oru?.lastError).toBeNull();
      expect(back.messages.filter((m) => m.includes(s.study.accessionNumber))).toHaveLength(1);
    } finally {
      await back.close();
    }
  });

  it('an ORU the HIS rejects (AR) fails with the reason at once, and once fixed is sent again by hand', async () => {
    const port = h.his.port;
    const rejecting = await startHisListener({ port, ackCode: 'AR' });
    const s = writeStudy('his-rejects', false);
    let oru: OutboxRow | undefined;
    try {
      storescu(h.config, s.files);
      oru = await waitUntil('the ORU marked failed', async () => {
        const [job] = await jobsOf(s.study.studyInstanceUid);
        const row = job ? await h.services.ds.getRepository(OutboxRow).findOneBy({ jobId: job.id, label: 'ORU^R01' }) : null;
        return row?.state === 'failed' ? row : undefined;
      }, 90_000);
      expect(oru.attempts).toBe(1);
      expect(oru.lastError).toMatch(/AR/);
    } finally {
      await rejecting.close();
    }
    const accepting = await startHisListener({ port });
    try {
      await request(h.baseUrl).post(`/outputs/${oru.id}/retry`).set('Authorization', `Bearer ${h.token}`).expect(202);
      await waitUntil('the ORU delivered after the retry', () => delivered(s.study.studyInstanceUid), 60_000);
      expect(accepting.messages.filter((m) => m.includes(s.study.accessionNumber))).toHaveLength(1);
      await request(h.baseUrl).post(`/outputs/${oru.id}/retry`).set('Authorization', `Bearer ${h.token}`).expect(409);
    } finally {
      await accepting.close();
    }
  });
});
