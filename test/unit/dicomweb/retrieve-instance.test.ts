// Retrieving a whole instance, or frames: in its stored transfer syntax and uncompressed on the wire (a
// server that gzips a 27 MB mammogram as it sends it takes 15 times longer), the multipart
// answer unwrapped; an answer without its part is an error. A real HTTP server on loopback.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { DicomwebClient } from '../../../src/dicomweb/client';
import { buildMultipartRelated } from '../../../src/dicomweb/multipart';

let server: http.Server;
let seen: http.IncomingHttpHeaders[] = [];
let url = '';
const instance = Buffer.alloc(300_000, 7);

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.headers);
    const frames = /\/frames\/([\d,]+)$/.exec(req.url ?? '');
    if (frames) {
      // Each frame's bytes name it; frame 99 is one the server leaves out; /busy/ is a server that is down.
      if (req.url?.includes('/busy/')) {
        res.writeHead(503);
        res.end();
        return;
      }
      const numbers = (frames[1] as string).split(',').map(Number).filter((n) => n !== 99);
      res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/octet-stream"; boundary=f1' });
      res.end(buildMultipartRelated(numbers.map((n) => ({ contentType: 'application/octet-stream', body: Buffer.alloc(1000 + n, n) })), 'f1'));
      return;
    }
    if (req.url?.endsWith('/gzipped')) {
      // A server that compresses though asked not to.
      res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b1', 'Content-Encoding': 'gzip' });
      res.end(zlib.gzipSync(buildMultipartRelated([{ contentType: 'application/dicom', body: instance }], 'b1')));
      return;
    }
    if (req.url?.endsWith('/cut')) {
      // Announces the whole answer, sends a third of it, hangs up.
      const whole = buildMultipartRelated([{ contentType: 'application/dicom', body: instance }], 'b1');
      res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b1', 'Content-Length': String(whole.length) });
      res.write(whole.subarray(0, Math.floor(whole.length / 3)), () => res.destroy());
      return;
    }
    if (req.url?.endsWith('/stalls')) {
      // Starts the answer, then sends nothing more.
      res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b1', 'Content-Length': '100000' });
      res.write(Buffer.alloc(1000));
      return;
    }
    if (req.url?.endsWith('/empty')) {
      res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b1' });
      res.end('--b1--\r\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b1' });
    res.end(buildMultipartRelated([{ contentType: 'application/dicom', body: instance }], 'b1'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => { seen = []; });

it('asks for the stored transfer syntax, uncompressed, and returns the part', async () => {
  const client = new DicomwebClient({ url, username: 'u', password: 'p' });
  const got = await client.retrieveInstance('1.2', '1.2.3', '1.2.3.4');
  expect(Buffer.from(got).equals(instance)).toBe(true);
  expect(seen).toHaveLength(1);
  expect(seen[0]!.accept).toBe('multipart/related; type="application/dicom"; transfer-syntax=*');
  expect(seen[0]!['accept-encoding']).toBe('identity');
  expect(seen[0]!.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
});

it('an answer compressed anyway is inflated; one cut short is an error a retry may mend', async () => {
  const client = new DicomwebClient({ url });
  expect(Buffer.from(await client.retrieveInstance('1.2', '1.2.3', 'gzipped')).equals(instance)).toBe(true);
  await expect(client.retrieveInstance('1.2', '1.2.3', 'cut')).rejects.toMatchObject({ kind: 'unavailable', retryable: true });
});

it('an answer that starts and then stalls fails at the timeout, which covers the whole answer', async () => {
  const client = new DicomwebClient({ url, timeoutMs: 300 });
  await expect(client.retrieveInstance('1.2', '1.2.3', 'stalls')).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/did not answer within 300 ms/) });
});

it('an answer without the instance is an error that says so', async () => {
  const client = new DicomwebClient({ url });
  await expect(client.retrieveInstance('1.2', '1.2.3', 'empty')).rejects.toThrow(/empty response/);
});

it('frames come in the order asked, several per request, in their stored transfer syntax, uncompressed', async () => {
  const client = new DicomwebClient({ url });
  const got = await client.retrieveFrames('1.2', '1.2.3', '1.2.3.4', [5, 2, 9]);
  expect(got.map((f) => [f.length, f[0]])).toEqual([[1005, 5], [1002, 2], [1009, 9]]);
  expect(seen).toHaveLength(1);
  expect(seen[0]!.accept).toBe('multipart/related; type="application/octet-stream"; transfer-syntax=*');
  expect(seen[0]!['accept-encoding']).toBe('identity');
});

it('an answer short of a frame, or a server that is down, is an error a retry may mend', async () => {
  const client = new DicomwebClient({ url });
  await expect(client.retrieveFrames('1.2', '1.2.3', '1.2.3.4', [1, 99])).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/asked 2 frames, received 1/) });
  await expect(client.retrieveFrames('1.2', '1.2.3', 'busy', [1])).rejects.toMatchObject({ kind: 'unavailable', retryable: true, message: expect.stringMatching(/HTTP 503/) });
});
