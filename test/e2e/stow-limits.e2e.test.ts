// STOW-RS under load and abuse: a 1 GB request streams through with memory bounded (the
// refused part is spooled to disk, never held), a body past the configured limit is answered
// 413 (declared or discovered while streaming), and an upload that stalls is cut off with 408.
// Real Sentinel app on real sockets, real Orthanc behind it.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/api/app';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram, type SampleStudy } from '../../src/samples/mammogram';
import { spawnSentinel } from '../support/child';
import { type Harness, startHarness, waitUntil } from '../support/e2e';
import { JobRow } from '../../src/db/entities/job';

jest.setTimeout(240_000);

let h: Harness;
let strict: http.Server;
let strictPort = 0;

beforeAll(async () => {
  h = await startHarness();
  // The same service with tight STOW limits, on a port of its own.
  const app = createApp({ ...h.services, config: { ...h.services.config, stow: { ...h.services.config.stow, maxBytes: 8 * 1024 * 1024, idleTimeoutMs: 1500 } } });
  strict = await new Promise<http.Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  strictPort = (strict.address() as AddressInfo).port;
});
afterAll(async () => {
  strict?.closeAllConnections();
  await new Promise((r) => strict?.close(r));
  await h?.close();
});

const BOUNDARY = 'sentinel-big-upload';

function mammogram(): { study: SampleStudy; bytes: Buffer } {
  const study: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `BIG${Date.now() % 1e8}`, patientId: 'P-big', patientName: 'Test^Big' };
  return { study, bytes: Buffer.from(buildSyntheticMammogram(study, { laterality: 'R', view: 'CC', seriesInstanceUid: newUid(), instanceNumber: 1 }, { rows: 1024, columns: 800, spacingMm: 0.2, lesions: [], seed: 3 })) };
}

interface Sent { status: number; body: string; closed: boolean }

/** POST a multipart body produced chunk by chunk (never whole in memory). */
function post(port: number, chunks: () => AsyncGenerator<Buffer>, opts: { contentLength?: number } = {}): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path: '/dicomweb/studies',
      headers: {
        Authorization: `Bearer ${h.token}`,
        'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
        ...(opts.contentLength !== undefined ? { 'Content-Length': String(opts.contentLength) } : {}),
      },
    }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, closed: res.headers.connection === 'close' }));
    });
    req.on('error', reject);
    void (async () => {
      for await (const c of chunks()) {
        if (req.destroyed) return;
        if (!req.write(c)) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    })().catch(() => undefined);
  });
}

const part = (bytes: Buffer): Buffer => Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), bytes, Buffer.from('\r\n')]);
const closing = Buffer.from(`--${BOUNDARY}--\r\n`);

/** Resident set of a process now, in bytes. */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

it('a 1 GB request streams through a Sentinel process with its RSS growing by less than 100 MB; its good instance is stored and analysed', async () => {
  // The service in a process of its own, so what is measured is Sentinel, not the test's client.
  const api = await spawnSentinel(h.config, ['serve', '--no-poller']);
  try {
    const { study, bytes } = mammogram();
    const filler = Buffer.alloc(1024 * 1024, 0x41);
    await new Promise((r) => setTimeout(r, 1000)); // settled after start
    const before = rssOf(api.pid);
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, rssOf(api.pid)); }, 50);
    const sent = await post(api.port, async function* () {
      yield part(bytes);
      yield Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`);
      for (let i = 0; i < 1024; i++) yield filler; // 1 GiB that is not DICOM
      yield Buffer.from('\r\n');
      yield closing;
    });
    clearInterval(sampler);
    const growthMb = (peak - before) / 1024 / 1024;
    console.log(`1 GiB STOW-RS: Sentinel's RSS ${Math.round(before / 1048576)} MB before, peak ${Math.round(peak / 1048576)} MB (+${growthMb.toFixed(0)} MB)`);
    expect(`${sent.status} ${sent.status === 202 ? '' : sent.body}`).toBe('202 '); // one stored, one refused
    const answer = JSON.parse(sent.body) as Record<string, { Value: Array<Record<string, { Value: unknown[] }>> }>;
    expect(answer['00081199']?.Value).toHaveLength(1);
    expect(answer['00081198']?.Value?.[0]?.['00081197']?.Value).toEqual([0xc000]);
    expect(growthMb).toBeLessThan(100);
    await waitUntil('the stored study analysed', async () => {
      const [j] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: study.studyInstanceUid });
      return j?.state === 'succeeded' ? j : undefined;
    }, 60_000);
  } finally {
    await api.kill('SIGTERM');
  }
});

it('past stow.maxBytes: 413, whether the size is declared up front or found while streaming', async () => {
  const declared = await post(strictPort, async function* () { yield Buffer.alloc(0); }, { contentLength: 9 * 1024 * 1024 });
  expect(declared.status).toBe(413);
  expect(declared.body).toMatch(/stow\.maxBytes/);
  const chunk = Buffer.alloc(1024 * 1024, 0x42);
  const streamed = await post(strictPort, async function* () {
    yield Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`);
    for (let i = 0; i < 20; i++) yield chunk;
  });
  expect(streamed.status).toBe(413);
  expect(streamed.closed).toBe(true);
});

it('an upload that stalls is cut off with 408 and stores nothing', async () => {
  const { bytes } = mammogram();
  const started = Date.now();
  const stalled = await post(strictPort, async function* () {
    yield part(bytes).subarray(0, 5000);
    await new Promise((r) => setTimeout(r, 10_000)); // the sender goes quiet
  });
  expect(stalled.status).toBe(408);
  expect(Date.now() - started).toBeLessThan(8000);
  expect(stalled.body).toMatch(/idleTimeoutMs/);
});

it('a body with no part, or a broken one, is a 400 with its reason and stores nothing', async () => {
  const empty = await post(h.running.port, async function* () { yield closing; });
  expect(empty.status).toBe(400);
  expect(empty.body).toMatch(/no part/);
  const broken = await post(h.running.port, async function* () { yield Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\nDICM-ish`); });
  expect(broken.status).toBe(400);
  expect(broken.body).toMatch(/truncated upload/);
});

it('a sender that keeps its connection alive can send again on it after 6 s idle, past Node\'s 5 s default, without a reset', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = (bytes: Buffer): Promise<{ status: number; reused: boolean }> => new Promise((resolve, reject) => {
    const body = Buffer.concat([part(bytes), closing]);
    const req = http.request({
      host: '127.0.0.1', port: h.running.port, method: 'POST', path: '/dicomweb/studies', agent,
      headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`, 'Content-Length': String(body.length) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end(body);
  });
  try {
    const first = await send(mammogram().bytes);
    expect(first).toEqual({ status: 200, reused: false });
    await new Promise((r) => setTimeout(r, 6000));
    // Closed by the server at 5 s, the agent would have dropped the socket and opened another.
    expect(await send(mammogram().bytes)).toEqual({ status: 200, reused: true });
  } finally {
    agent.destroy();
  }
});
