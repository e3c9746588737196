// The viewer's DICOMweb proxy under hostile paths (issue 7). The PACS account it uses can read
// all of Orthanc's REST API, so the guarantee is about what reaches the PACS: only QIDO-RS and
// WADO-RS resources, whatever the encoding. Requests go out raw through node's http.request
// (supertest and URL parsers normalise `..` and backslashes away before a server ever sees
// them), into the real viewer app on a real port, in front of a stand-in PACS that records
// every request it receives.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { createViewerApp } from '../../../src/viewer/server';

const TOKEN = 'viewer-test-token-0123456789';
const AUTH = `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}`;
const S = '/dicom-web/studies/1.2.840.113619.2.55/series/3.4/instances/5.6';

interface Answer { status: number; body: string }

describe('viewer DICOMweb proxy: only DICOMweb resources reach the PACS', () => {
  let pacs: http.Server;
  let viewer: http.Server;
  let viewerPort = 0;
  const seen: Array<{ url?: string; method?: string }> = [];

  /** One request exactly as written: the path is put on the request line untouched. */
  function send(rawPath: string, method = 'GET'): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: viewerPort, path: rawPath, method, headers: { authorization: AUTH, host: 'viewer.local' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  beforeAll(async () => {
    // Answers every path the way Orthanc's DICOMweb plugin answers metadata, with absolute
    // BulkDataURIs on its own host, one of them inside a sequence item.
    pacs = http.createServer((req, res) => {
      seen.push({ url: req.url, method: req.method });
      res.setHeader('Content-Type', 'application/dicom+json');
      res.end(JSON.stringify([{
        '00282000': { vr: 'OB', BulkDataURI: `http://127.0.0.1${S}/bulk/00282000` },
        '0040A730': { vr: 'SQ', Value: [{ '0040A160': { vr: 'UT', BulkDataURI: `http://127.0.0.1${S}/bulk/0040a730/1/0040a160` } }] },
      }]));
    });
    await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
    const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'ohif-dist-'));
    fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>OHIF</title>');
    const config = loadConfig({
      env: {},
      overrides: {
        auth: { apiTokens: [TOKEN] },
        orthanc: { url: `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`, username: 'sentinel', password: 'pacs-secret' },
      },
    });
    const app = createViewerApp({ config, distDir: dist });
    viewer = await new Promise<http.Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    viewerPort = (viewer.address() as AddressInfo).port;
  });

  afterAll(async () => {
    viewer.closeAllConnections();
    await new Promise<void>((resolve) => viewer.close(() => resolve()));
    await new Promise<void>((resolve) => pacs.close(() => resolve()));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  // Each of these, forwarded as the old proxy did, is answered by Orthanc from its REST API.
  const refused: Array<[string, string, number]> = [
    ['encoded slashes', '/dicom-web/..%2f..%2fsystem', 400],
    ['encoded slashes, upper case', '/dicom-web/studies/..%2F..%2F..%2Fpatients', 400],
    ['encoded dots', '/dicom-web/%2e%2e/%2e%2e/system', 400],
    ['raw dots', '/dicom-web/../system', 400],
    ['raw dots after a study', '/dicom-web/studies/1.2/../../changes', 400],
    ['a single dot', '/dicom-web/./studies', 400],
    ['double encoding', '/dicom-web/%252e%252e%252f%252e%252e%252fsystem', 400],
    ['double-encoded dot segments', '/dicom-web/studies/%252e%252e/%252e%252e/statistics', 400],
    ['triple encoding', '/dicom-web/%25252e%25252e/system', 400],
    ['a raw backslash', '/dicom-web/..\\system', 400],
    ['raw backslashes after a study', '/dicom-web/studies/1.2\\..\\..\\system', 400],
    ['an encoded backslash', '/dicom-web/..%5csystem', 400],
    ['an encoded backslash, double', '/dicom-web/..%255c..%255csystem', 400],
    ['an encoded NUL', '/dicom-web/studies/1.2%00', 400],
    ['a lone percent sign', '/dicom-web/studies/1.2%', 400],
    ['overlong UTF-8 dots', '/dicom-web/%c0%ae%c0%ae/system', 400],
    ['an empty segment', '/dicom-web//system', 400],
    ['a host where a segment belongs', '/dicom-web//127.0.0.1:8042/system', 400],
    ['an absolute-form request target', 'http://pacs.internal/dicom-web/studies', 400],
    ['Orthanc /system', '/dicom-web/system', 404],
    ['Orthanc /patients', '/dicom-web/patients', 404],
    ['Orthanc /changes', '/dicom-web/changes?limit=100', 404],
    ['Orthanc /statistics', '/dicom-web/statistics', 404],
    ['Orthanc /tools/...', '/dicom-web/tools/find', 404],
    ['Orthanc /tools/reset under dots', '/dicom-web/%2e%2e/%2e%2e/tools/reset', 400],
    ['an Orthanc instance file', '/dicom-web/instances/6e2c0ec2-5d99b2d4-3fe1fd69-ea5ee34f-b7ae1c4b/file', 404],
    ['an Orthanc study id where a UID belongs', '/dicom-web/studies/6e2c0ec2-5d99b2d4-3fe1fd69-ea5ee34f-b7ae1c4b', 400],
    ['the plugin\'s remote servers', '/dicom-web/servers', 404],
    ['the plugin\'s web client', '/dicom-web/app/client/index.html', 404],
    ['a non-UID series segment', '/dicom-web/studies/1.2/series/system', 400],
    ['a UID with an empty component', '/dicom-web/studies/1..2', 400],
    ['a UID of 65 characters', `/dicom-web/studies/1.${'2'.repeat(63)}`, 400],
    ['an encoded ? hidden in a UID', '/dicom-web/studies/1.2%3fx=/series', 400],
    ['a file under an instance', `${S}/file`, 404],
    ['instances under a study by UID', '/dicom-web/studies/1.2/instances/5.6', 404],
    ['a frame list that is not numbers', `${S}/frames/1;2`, 400],
    ['frames without a list', `${S}/frames`, 400],
    ['a bulkdata path with a dot segment', `${S}/bulk/..`, 400],
    ['a bulkdata path that is not tags', `${S}/bulk/system`, 400],
    ['a bulkdata path ending in an item number', `${S}/bulk/0040a730/1`, 404],
    ['a fragment in the query', '/dicom-web/studies?x=1#/../../system', 400],
    ['the bare root', '/dicom-web', 400],
  ];

  it.each(refused)('refuses %s (%s) and the PACS never sees it', async (_what, rawPath, status) => {
    const answer = await send(rawPath);
    expect(answer.status).toBe(status);
    expect(seen).toEqual([]);
  });

  it('says why in plain words, without echoing the path back', async () => {
    const traversal = await send('/dicom-web/..%2f..%2fsystem');
    expect(traversal.body).toMatch(/separator/);
    const other = await send('/dicom-web/system');
    expect(other.body).toMatch(/not a DICOMweb resource/);
    expect(other.body).not.toContain('system');
    expect(seen).toEqual([]);
  });

  it('refuses HEAD of an Orthanc path too, and any write', async () => {
    expect((await send('/dicom-web/system', 'HEAD')).status).toBe(404);
    expect((await send('/dicom-web/studies', 'POST')).status).toBe(405);
    expect((await send('/dicom-web/studies/1.2', 'DELETE')).status).toBe(405);
    expect(seen).toEqual([]);
  });

  // What OHIF 3 and dicomweb-client send, each arriving at the PACS's DICOMweb root unchanged.
  const passed: Array<[string, string]> = [
    ['a study search', '/studies?PatientName=DOE*&limit=25&offset=0&fuzzymatching=false&includefield=00081030'],
    ['a study search whose query looks like a path', '/studies?PatientID=../../system&x=%2f..%2f'],
    ['a series search', '/studies/1.2.840.113619.2.55/series?Modality=MG&includefield=0008103E'],
    ['top-level series QIDO', '/series?StudyInstanceUID=1.2.840.113619.2.55'],
    ['top-level instance QIDO', '/instances?SOPInstanceUID=5.6'],
    ['a study\'s instances', '/studies/1.2/instances?includefield=all'],
    ['study metadata', '/studies/1.2.840.113619.2.55/metadata'],
    ['a whole study', '/studies/1.2'],
    ['series metadata', '/studies/1.2/series/3.4/metadata'],
    ['an instance search', '/studies/1.2/series/3.4/instances?limit=1'],
    ['series thumbnail', '/studies/1.2/series/3.4/thumbnail?viewport=128,128'],
    ['an instance', '/studies/1.2.840.113619.2.55/series/3.4/instances/5.6'],
    ['instance metadata', '/studies/1.2.840.113619.2.55/series/3.4/instances/5.6/metadata'],
    ['a rendered instance', '/studies/1.2.840.113619.2.55/series/3.4/instances/5.6/rendered?window=40,400,linear&quality=90'],
    ['one frame', '/studies/1.2.840.113619.2.55/series/3.4/instances/5.6/frames/1'],
    ['a frame list', '/studies/1.2.840.113619.2.55/series/3.4/instances/5.6/frames/1,2,17'],
    ['a rendered frame', '/studies/1.2.840.113619.2.55/series/3.4/instances/5.6/frames/3/rendered?accept=image/jpeg'],
    ['a frame thumbnail', '/studies/1.2.840.113619.2.55/series/3.4/instances/5.6/frames/3/thumbnail'],
    ['bulkdata', '/studies/1.2.840.113619.2.55/series/3.4/instances/5.6/bulk/00282000'],
    ['nested bulkdata', '/studies/1.2.840.113619.2.55/series/3.4/instances/5.6/bulk/0040A730/0/0040A160'],
    ['deeper nested bulkdata', '/studies/1.2/series/3.4/instances/5.6/bulk/0040a730/1/0040a730/2/0040a160'],
    ['a 64-character UID', `/studies/1.${'2'.repeat(62)}`],
  ];

  it.each(passed)('passes %s on unchanged', async (_what, rest) => {
    const answer = await send(`/dicom-web${rest}`);
    expect(answer.status).toBe(200);
    expect(seen.map((r) => r.url)).toEqual([`/dicom-web${rest}`]);
  });

  it('passes HEAD on as HEAD', async () => {
    expect((await send('/dicom-web/studies/1.2/series/3.4/metadata', 'HEAD')).status).toBe(200);
    expect(seen).toEqual([{ url: '/dicom-web/studies/1.2/series/3.4/metadata', method: 'HEAD' }]);
  });

  it('rebuilds the upstream path from decoded segments: an encoded comma in a frame list arrives as a comma', async () => {
    await send(`${S}/frames/1%2C2`);
    expect(seen.map((r) => r.url)).toEqual([`${S}/frames/1,2`]);
  });

  it('accepts back every BulkDataURI it rewrote, plain and inside a sequence', async () => {
    const metadata = await send(`${S}/metadata`);
    const uris = [...metadata.body.matchAll(/"BulkDataURI":"([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(uris).toEqual([`http://viewer.local${S}/bulk/00282000`, `http://viewer.local${S}/bulk/0040a730/1/0040a160`]);
    seen.length = 0;
    for (const uri of uris) expect((await send(new URL(uri).pathname)).status).toBe(200);
    expect(seen.map((r) => r.url)).toEqual(uris.map((u) => new URL(u).pathname));
  });
});
