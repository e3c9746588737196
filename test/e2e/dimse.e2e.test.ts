// DICOM in and out, judged by dcmtk's own tools: echoscu and storescu into Sentinel's C-STORE
// SCP (only the configured calling AE title, from its host, with our called AE title, gets an
// association; what is stored goes into the PACS through the same receive step as STOW-RS and
// is analysed once), and storescp as a DICOM destination, which receives exactly the SEG and
// SR objects the outbox sent.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditRow } from '../../src/db/entities/audit';
import { JobRow } from '../../src/db/entities/job';
import { OutboxRow } from '../../src/db/entities/outbox';
import { part10ToDicomJson } from '../../src/dicom/part10';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram, type SampleStudy } from '../../src/samples/mammogram';
import { type Harness, startHarness, waitUntil } from '../support/e2e';

jest.setTimeout(180_000);

const PORT = 11190;
const DESTINATION_PORT = 11191;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-dimse-'));
const receivedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-storescp-'));
let h: Harness;
let destination: ChildProcess;

beforeAll(async () => {
  // The DICOM destination: dcmtk's storescp, keeping every object it receives.
  destination = spawn('storescp', ['-aet', 'RESULTS', '-od', receivedDir, '+xa', String(DESTINATION_PORT)], { stdio: 'ignore' });
  h = await startHarness({
    dimse: {
      port: PORT, host: '127.0.0.1', aet: 'SENTINEL', allowedCallers: [{ aet: 'TEST_SCU', host: '127.0.0.1' }],
      destinations: [{ name: 'results', aet: 'RESULTS', host: '127.0.0.1', port: DESTINATION_PORT }],
    },
  });
});
afterAll(async () => {
  destination?.kill();
  await h?.close();
});

/** A dcmtk tool run without blocking this process (the SCP under test answers from it). */
function dcmtk(tool: 'echoscu' | 'storescu', calling: string, called: string, files: string[] = []): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, ['-aet', calling, '-aec', called, '127.0.0.1', String(PORT), ...files]);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output }));
  });
}

describe('the DICOM C-STORE SCP', () => {
  it('answers C-ECHO from the allowed AE title, and rejects an unknown calling or a wrong called AE title', async () => {
    expect((await dcmtk('echoscu', 'TEST_SCU', 'SENTINEL')).status).toBe(0);
    const stranger = await dcmtk('echoscu', 'STRANGER', 'SENTINEL');
    expect(stranger.status).not.toBe(0);
    expect(stranger.output).toMatch(/Association Rejected|calling AE title not recognized/i);
    const misaddressed = await dcmtk('echoscu', 'TEST_SCU', 'SOMEONE_ELSE');
    expect(misaddressed.status).not.toBe(0);
    expect(misaddressed.output).toMatch(/Association Rejected|called AE title not recognized/i);
  });

  it('a study sent by storescu is stored in the PACS and analysed once: SEG, SR and ORU delivered, and the DICOM destination (storescp) receives exactly the SEG and SR sent', async () => {
    const study: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `DIMSE${Date.now() % 1e6}`, patientId: 'P-dimse', patientName: 'Dimse^Test' };
    const series = newUid();
    const files = (['L', 'R'] as const).map((laterality, i) => {
      const file = path.join(dir, `${laterality}.dcm`);
      fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality, view: 'CC', seriesInstanceUid: series, instanceNumber: i + 1 },
        { rows: 1024, columns: 800, spacingMm: 0.2, lesions: [{ x: laterality === 'L' ? 600 : 200, y: 420, radius: 40 }], seed: i + 1 }));
      return file;
    });
    const sent = await dcmtk('storescu', 'TEST_SCU', 'SENTINEL', files);
    expect(sent.status).toBe(0);

    // In the PACS, both instances.
    const instances = await waitUntil('both instances in the PACS', async () => {
      const s = await h.services.dicomweb.searchSeries(study.studyInstanceUid).catch(() => []);
      const mg = s.find((x) => x.modality === 'MG');
      if (!mg) return undefined;
      const meta = await h.services.dicomweb.seriesMetadata(study.studyInstanceUid, mg.seriesInstanceUid);
      return meta.length === 2 ? meta : undefined;
    }, 30_000);
    expect(instances).toHaveLength(2);

    const rows = await waitUntil('SEG, SR and ORU delivered', async () => {
      const jobs = await h.services.ds.getRepository(JobRow).findBy({ studyInstanceUid: study.studyInstanceUid });
      const job = jobs[0];
      if (!job || job.state !== 'succeeded') return undefined;
      const out = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job.id });
      return out.length > 0 && out.every((r) => r.state === 'delivered') ? { jobs, out } : undefined;
    }, 90_000);
    expect(rows.jobs).toHaveLength(1);
    // Into the PACS by STOW-RS, and each object again to the DICOM destination; one ORU.
    expect(rows.out.filter((r) => r.destination === null).map((r) => r.label).sort()).toEqual(['CAD SR', 'ORU^R01', 'SEG', 'SEG', 'SR']);
    expect(rows.out.filter((r) => r.destination === 'results').map((r) => r.label).sort()).toEqual(['CAD SR', 'SEG', 'SEG', 'SR']);

    // The destination holds exactly the objects sent, as dcmtk reads them.
    const sentUids = rows.out.filter((r) => r.destination === 'results').map((r) => r.objectUid).sort();
    // (Only this study's: the tests' Orthanc may still announce an earlier suite's studies, whose results go there too.)
    const got = fs.readdirSync(receivedDir).map((f) => part10ToDicomJson(new Uint8Array(fs.readFileSync(path.join(receivedDir, f)))))
      .filter((ds) => String(ds['0020000D']?.Value?.[0]) === study.studyInstanceUid);
    expect(got.map((ds) => String(ds['00080018']?.Value?.[0])).sort()).toEqual(sentUids);

    // Each C-STORE is in the audit trail as received over DIMSE, with the caller's address.
    const audit = await h.services.ds.getRepository(AuditRow).findBy({ studyInstanceUid: study.studyInstanceUid, channel: 'dimse' });
    const received = audit.filter((a) => a.direction === 'in' && a.objectUid);
    expect(received.map((a) => a.outcome)).toEqual(['accepted', 'accepted']);
    expect(received.every((a) => a.peer.startsWith('127.0.0.1:'))).toBe(true);
    expect(h.his.messages.filter((m) => m.includes(study.accessionNumber!))).toHaveLength(1);
  });
});
