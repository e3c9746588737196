// FHIR R4 out, end to end: a study analysed by the real service (bundled Orthanc, PostgreSQL,
// Redis) gives a transaction Bundle that the outbox POSTs to a FHIR endpoint answering as a
// FHIR server does (a transaction-response Bundle with a location per entry; 503 while busy; a
// 4xx with an OperationOutcome when it refuses), with the same retries as the ORU. Every
// resource received is judged by the independent R4 validator (the `fhir` package).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Fhir } from 'fhir';
import type { Bundle, DiagnosticReport } from 'fhir/r4';
import request from 'supertest';
import { AuditRow } from '../../src/db/entities/audit';
import { JobRow } from '../../src/db/entities/job';
import { OutboxRow } from '../../src/db/entities/outbox';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram, type SampleStudy } from '../../src/samples/mammogram';
import { type Harness, startHarness, storescu, waitUntil } from '../support/e2e';

jest.setTimeout(180_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-fhir-e2e-'));
const validator = new Fhir();

/**
 * The test FHIR server: by study (its Study Instance UID in the Bundle), what it answers to
 * the next Bundles of that study, and every request it got. Keyed by study because the tests'
 * Orthanc may still announce an earlier suite's studies, whose Bundles come here too.
 */
const fhirServer = {
  answers: new Map<string, Array<'busy' | 'accept' | 'refuse'>>(),
  received: [] as Array<{ path: string; contentType: string | undefined; auth: string | undefined; body: string }>,
  server: undefined as http.Server | undefined,
};

function answer(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/fhir+json' });
  res.end(JSON.stringify(body));
}

async function startFhirServer(): Promise<number> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      fhirServer.received.push({ path: req.url ?? '', contentType: req.headers['content-type'], auth: req.headers.authorization, body });
      const study = [...fhirServer.answers.keys()].find((uid) => body.includes(uid));
      const mode = (study ? fhirServer.answers.get(study)?.shift() : undefined) ?? 'accept';
      if (mode === 'busy') return answer(res, 503, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient', diagnostics: 'busy, try later' }] });
      if (mode === 'refuse') {
        return answer(res, 422, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: 'Patient with identifier PID-refused is not known here' }] });
      }
      const bundle = JSON.parse(body) as Bundle;
      if (bundle.resourceType !== 'Bundle' || bundle.type !== 'transaction') return answer(res, 400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'not a transaction Bundle' }] });
      answer(res, 200, {
        resourceType: 'Bundle', type: 'transaction-response',
        entry: (bundle.entry ?? []).map((e, i) => ({ response: { status: '201 Created', location: `${e.resource?.resourceType}/${i + 1}/_history/1` } })),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fhirServer.server = server;
  return (server.address() as AddressInfo).port;
}

let h: Harness;

beforeAll(async () => {
  const port = await startFhirServer();
  h = await startHarness({ fhir: { baseUrl: `http://127.0.0.1:${port}/fhir/`, token: 'fhir-test-token', timeoutMs: 5000 } });
});
afterAll(async () => {
  await h?.close();
  await new Promise((r) => fhirServer.server?.close(r));
});

function writeStudy(name: string): { study: SampleStudy; files: string[] } {
  const study: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `F${Date.now() % 1e8}`, patientId: `PID-${name}`, patientName: `Fhir^${name}` };
  const series = newUid();
  const files = (['L', 'R'] as const).map((laterality, i) => {
    const file = path.join(dir, `${name}-${laterality}.dcm`);
    fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality, view: 'CC', seriesInstanceUid: series, instanceNumber: i + 1 },
      { rows: 1024, columns: 800, spacingMm: 0.2, lesions: laterality === 'L' ? [{ x: 600, y: 420, radius: 40 }] : [], seed: i + 3 }));
    return file;
  });
  return { study, files };
}

async function settledRows(studyInstanceUid: string): Promise<OutboxRow[] | undefined> {
  const [job] = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid });
  if (!job || job.state !== 'succeeded') return undefined;
  const rows = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job.id });
  return rows.length > 0 && rows.every((r) => r.state === 'delivered' || r.state === 'failed') ? rows : undefined;
}

describe('FHIR R4 to a FHIR server', () => {
  it('each analysed study: a transaction Bundle POSTed to the FHIR base URL, retried while the server is busy, valid R4 throughout, naming the study and its SRs', async () => {
    const { study, files } = writeStudy('accepted');
    fhirServer.answers.set(study.studyInstanceUid, ['busy']);
    storescu(h.config, files);
    const rows = await waitUntil('every output delivered', () => settledRows(study.studyInstanceUid), 90_000);
    expect(rows.every((r) => r.state === 'delivered')).toBe(true);
    const fhir = rows.find((r) => r.kind === 'fhir')!;
    expect(fhir.label).toBe('FHIR');
    expect(fhir.attempts).toBe(2); // 503 first, then 200
    expect(fhir.response).toMatch(/^200: Device\/1\/_history\/1, Observation\/2\/_history\/1, /);
    expect(fhir.response).toMatch(/DiagnosticReport\/\d+\/_history\/1$/);

    // The server got the same Bundle twice, as FHIR JSON with the bearer token.
    const mine = fhirServer.received.filter((r) => r.body.includes(study.studyInstanceUid));
    expect(mine).toHaveLength(2);
    expect(mine[0]?.body).toBe(mine[1]?.body);
    expect(mine[0]).toMatchObject({ path: '/fhir', contentType: 'application/fhir+json', auth: 'Bearer fhir-test-token' });

    const bundle = JSON.parse(mine[1]!.body) as Bundle;
    const verdict = validator.validate(bundle, { errorOnUnexpected: true });
    expect(verdict.messages.filter((m) => m.severity === 'error')).toEqual([]);
    for (const e of bundle.entry ?? []) expect(validator.validate(e.resource as object, { errorOnUnexpected: true }).messages.filter((m) => m.severity === 'error')).toEqual([]);
    const report = bundle.entry?.find((e) => e.resource?.resourceType === 'DiagnosticReport')?.resource as DiagnosticReport;
    expect(report.imagingStudy?.[0]?.identifier).toEqual({ system: 'urn:dicom:uid', value: `urn:oid:${study.studyInstanceUid}` });
    const srUids = rows.filter((r) => r.label === 'SR' || r.label === 'CAD SR').map((r) => `urn:oid:${r.objectUid}`).sort();
    expect(report.identifier?.filter((i) => i.system === 'urn:dicom:uid').map((i) => i.value).sort()).toEqual(srUids);
    expect(report.subject?.identifier?.value).toBe(study.patientId);

    // Inspectable as sent, and in the audit trail.
    const sent = await request(h.baseUrl).get(`/outputs/${fhir.id}`).set('Authorization', `Bearer ${h.token}`).expect(200);
    expect(sent.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(JSON.stringify(sent.body)).toBe(mine[1]!.body);
    const audit = await h.services.ds.getRepository(AuditRow).findBy({ studyInstanceUid: study.studyInstanceUid, channel: 'fhir' });
    // Two attempts: the busy one recorded as failed (and retried), then delivered.
    expect(audit.map((a) => a.outcome).sort()).toEqual(['delivered', 'failed', 'sending', 'sending']);
  });

  it('a Bundle the server refuses (4xx with an OperationOutcome) fails at once with the server\'s words as the reason; the other outputs are delivered', async () => {
    const { study, files } = writeStudy('refused');
    fhirServer.answers.set(study.studyInstanceUid, ['refuse']);
    storescu(h.config, files);
    const rows = await waitUntil('every output settled', () => settledRows(study.studyInstanceUid), 90_000);
    const fhir = rows.find((r) => r.kind === 'fhir')!;
    expect(fhir.state).toBe('failed');
    expect(fhir.attempts).toBe(1);
    expect(fhir.lastError).toMatch(/answered 422: error processing Patient with identifier PID-refused is not known here/);
    expect(rows.filter((r) => r.kind !== 'fhir').every((r) => r.state === 'delivered')).toBe(true);
  });
});
