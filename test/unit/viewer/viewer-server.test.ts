// `sentinel viewer` without a browser: the token guards everything that carries patient
// data, the PACS credentials never reach the browser, DICOMweb is read-only, and Orthanc's
// BulkDataURIs are pointed at the viewer's own origin.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { loadConfig } from '../../../src/config/load';
import { buildAppConfig } from '../../../src/viewer/app-config';
import { rewriteBulkDataUris, splitIncludeFields } from '../../../src/viewer/dicomweb-proxy';
import { createViewerApp } from '../../../src/viewer/server';

const TOKEN = 'viewer-test-token-0123456789';
const basic = (password: string): string => `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;

describe('sentinel viewer', () => {
  let pacs: http.Server;
  const seen: Array<{ url?: string; authorization?: string; method?: string }> = [];
  let app: ReturnType<typeof createViewerApp>;

  beforeAll(async () => {
    // A stand-in Orthanc DICOMweb root that answers like Orthanc does (absolute BulkDataURIs on its own host).
    pacs = http.createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization, method: req.method });
      res.setHeader('Content-Type', 'application/dicom+json');
      res.end(JSON.stringify([{ '00282000': { vr: 'OB', BulkDataURI: 'http://127.0.0.1/dicom-web/studies/1.2/series/3.4/instances/5.6/bulk/00282000' } }]));
    });
    await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
    const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'ohif-dist-'));
    fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>OHIF</title>');
    fs.writeFileSync(path.join(dist, 'app-config.js'), 'window.config = { shipped: true };');
    fs.writeFileSync(path.join(dist, 'manifest.json'), '{}');
    const config = loadConfig({
      env: {},
      overrides: {
        auth: { apiTokens: [TOKEN] },
        orthanc: { url: `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`, username: 'sentinel', password: 'pacs-secret' },
      },
    });
    app = createViewerApp({ config, distDir: dist });
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => pacs.close(() => resolve()));
  });

  it('asks a browser for the API token (HTTP Basic) before serving the viewer or any study', async () => {
    const page = await request(app).get('/viewer?StudyInstanceUIDs=1.2').expect(401);
    expect(page.headers['www-authenticate']).toMatch(/^Basic /);
    await request(app).get('/dicom-web/studies').expect(401);
    await request(app).get('/dicom-web/studies').set('Authorization', basic('wrong-token-0123456789')).expect(401);
    await request(app).get('/manifest.json').expect(200);
    const ok = await request(app).get('/viewer?StudyInstanceUIDs=1.2').set('Authorization', basic(TOKEN)).expect(200);
    expect(ok.text).toContain('<title>OHIF</title>');
  });

  it('serves its own app-config.js: one same-origin DICOMweb source and no PACS credentials', async () => {
    const res = await request(app).get('/app-config.js').set('Authorization', basic(TOKEN)).expect(200);
    expect(res.text).not.toContain('shipped');
    expect(res.text).toContain("window.location.origin + \"/dicom-web\"");
    expect(res.text).not.toContain('pacs-secret');
    expect(res.text).toBe(buildAppConfig({ friendlyName: `Sentinel PACS (${new URL(`http://127.0.0.1:${(pacs.address() as AddressInfo).port}`).host})` }));
  });

  it('passes DICOMweb reads to the PACS with the PACS credentials, and points BulkDataURIs at itself', async () => {
    seen.length = 0;
    const res = await request(app).get('/dicom-web/studies/1.2/series/3.4/metadata').set('Authorization', basic(TOKEN)).set('Host', 'viewer.local:8091').expect(200);
    expect(seen[0]?.url).toBe('/dicom-web/studies/1.2/series/3.4/metadata');
    expect(seen[0]?.authorization).toBe(`Basic ${Buffer.from('sentinel:pacs-secret').toString('base64')}`);
    expect(res.text).toContain('"BulkDataURI":"http://viewer.local:8091/dicom-web/studies/1.2/series/3.4/instances/5.6/bulk/00282000"');
  });

  it('is read-only: nothing a browser sends is stored into the PACS', async () => {
    seen.length = 0;
    await request(app).post('/dicom-web/studies').set('Authorization', basic(TOKEN)).send('x').expect(405);
    expect(seen).toHaveLength(0);
  });

  it('does not pass a path out of the DICOMweb root', async () => {
    seen.length = 0;
    await request(app).get('/dicom-web/%2e%2e/%2e%2e/tools/reset').set('Authorization', basic(TOKEN)).expect(400);
    expect(seen).toHaveLength(0);
  });

  it('a missing script is a 404, not the app', async () => {
    await request(app).get('/static/js/missing.worker.js').set('Authorization', basic(TOKEN)).expect(404);
  });

  it("splits OHIF's includefield lists into one parameter each, which Orthanc 1.10 reads (a list it drops: the study list's No Description), and passes the rest as written", async () => {
    expect(splitIncludeFields('limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060')).toBe('limit=101&offset=0&fuzzymatching=false&includefield=00081030&includefield=00080060');
    expect(splitIncludeFields('includefield=00081030,00080060&StudyDate=20260101-')).toBe('includefield=00081030&includefield=00080060&StudyDate=20260101-');
    expect(splitIncludeFields('includefield=00081030')).toBe('includefield=00081030');
    expect(splitIncludeFields('PatientName=A%2CB')).toBe('PatientName=A%2CB');
    expect(splitIncludeFields('')).toBe('');
    seen.length = 0;
    await request(app).get('/dicom-web/studies?limit=101&includefield=00081030%2C00080060').set('Authorization', basic(TOKEN)).expect(200);
    expect(seen.at(-1)?.url).toBe('/dicom-web/studies?limit=101&includefield=00081030&includefield=00080060');
  });

  it('rewrites any host and root that the PACS wrote, and leaves relative URIs alone', () => {
    const json = '{"a":{"BulkDataURI":"https://pacs:8042/orthanc/dicom-web/studies/1/bulk/x"},"b":{"BulkDataURI":"studies/1/bulk/y"}}';
    expect(rewriteBulkDataUris(json, 'http://127.0.0.1:8091/dicom-web')).toBe(
      '{"a":{"BulkDataURI":"http://127.0.0.1:8091/dicom-web/studies/1/bulk/x"},"b":{"BulkDataURI":"studies/1/bulk/y"}}');
  });
});
