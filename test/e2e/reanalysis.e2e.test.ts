// A study that changes after its analysis is analysed again: a third image stored into an
// analysed two-image study gives a second job, whose SR names the first SR it replaces
// (Predecessor Documents Sequence, read back by dcmdump) and whose ORU is a correction (OBR-25
// C, read by python3-hl7). The same images sent again give no new analysis.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { AuditRow } from '../../src/db/entities/audit';
import { JobRow } from '../../src/db/entities/job';
import { OutboxRow } from '../../src/db/entities/outbox';
import { buildMultipartRelated } from '../../src/dicomweb/multipart';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram, type SampleStudy } from '../../src/samples/mammogram';
import { dcmdump } from '../support/dicom-judges';
import { type Harness, startHarness, storescu, waitUntil } from '../support/e2e';

jest.setTimeout(180_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-reanalysis-'));
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const study: SampleStudy = { studyInstanceUid: newUid(), accessionNumber: `RE${Date.now() % 1e6}`, patientId: 'P-re', patientName: 'Again^Test' };
const series = newUid();

function image(laterality: 'L' | 'R', view: 'CC' | 'MLO', n: number): string {
  const file = path.join(dir, `${laterality}${view}.dcm`);
  fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality, view, seriesInstanceUid: series, instanceNumber: n },
    { rows: 1024, columns: 800, spacingMm: 0.2, lesions: [{ x: laterality === 'L' ? 600 : 200, y: 420, radius: 40 }], seed: n }));
  return file;
}

async function delivered(): Promise<Array<{ job: JobRow; out: OutboxRow[] }> | undefined> {
  const jobs = await h.services.ds.getRepository(JobRow).find({ where: { studyInstanceUid: study.studyInstanceUid }, order: { createdAt: 'ASC' } });
  const all = [];
  for (const job of jobs) {
    if (job.state !== 'succeeded') return undefined;
    const out = await h.services.ds.getRepository(OutboxRow).findBy({ jobId: job.id });
    if (!out.every((r) => r.state === 'delivered')) return undefined;
    all.push({ job, out });
  }
  return all;
}

function obr25(oru: string): string {
  const py = spawnSync('/usr/bin/python3', ['-c', 'import hl7,sys; m=hl7.parse(sys.stdin.read()); print(m.segment("OBR")[25])'], { input: oru, encoding: 'utf8' });
  expect(py.status).toBe(0);
  return py.stdout.trim();
}

describe('re-analysis when a study changes', () => {
  it('a new image after the analysis gives a second analysis whose SR replaces the first and whose ORU is a correction', async () => {
    const first = [image('L', 'CC', 1), image('R', 'CC', 2)];
    storescu(h.config, first);
    const one = await waitUntil('the first analysis delivered', async () => {
      const d = await delivered();
      return d?.length === 1 ? d : undefined;
    }, 90_000);

    storescu(h.config, [image('L', 'MLO', 3)]);
    const two = await waitUntil('a second analysis delivered', async () => {
      const d = await delivered();
      return d?.length === 2 ? d : undefined;
    }, 90_000);
    const [a, b] = two as [{ job: JobRow; out: OutboxRow[] }, { job: JobRow; out: OutboxRow[] }];
    expect(a.job.id).toBe(one[0]!.job.id);
    expect(b.job.supersedes).toBe(a.job.id);
    expect(b.job.imageSet).not.toBe(a.job.imageSet);
    // The second looked at all three images.
    expect((b.job.result as { images: number }).images).toBe(3);

    const firstSr = a.out.find((r) => r.label === 'SR')!;
    const secondSr = b.out.find((r) => r.label === 'SR')!;
    const dump = dcmdump(secondSr.payload);
    expect(dump).toContain('PredecessorDocumentsSequence');
    expect(dump).toContain(firstSr.objectUid);
    expect(dcmdump(firstSr.payload)).not.toContain('PredecessorDocumentsSequence');
    // And the Mammography CAD SR names the CAD SR it replaces.
    const firstCad = a.out.find((r) => r.label === 'CAD SR')!;
    const secondCad = b.out.find((r) => r.label === 'CAD SR')!;
    expect(dcmdump(secondCad.payload)).toContain(firstCad.objectUid);
    expect(dcmdump(secondCad.payload)).not.toContain(firstSr.objectUid);

    expect(obr25(a.out.find((r) => r.label === 'ORU^R01')!.payload.toString('utf8'))).toBe('F');
    expect(obr25(b.out.find((r) => r.label === 'ORU^R01')!.payload.toString('utf8'))).toBe('C');
    expect(h.his.messages.filter((m) => m.includes(study.accessionNumber!))).toHaveLength(2);
  });

  it('the same images sent again are not analysed again', async () => {
    const since = new Date();
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.dcm')).map((f) => path.join(dir, f));
    const body = buildMultipartRelated(files.map((f) => ({ contentType: 'application/dicom', body: fs.readFileSync(f) })), 'b0undary');
    await request(h.baseUrl).post('/dicomweb/studies').set('Authorization', `Bearer ${h.token}`)
      .set('Content-Type', 'multipart/related; type="application/dicom"; boundary=b0undary').send(body).expect(200);
    // Intake has looked at the study again (its audit row), and found these images analysed.
    await waitUntil('intake after the STOW-RS', async () => {
      const rows = await h.services.ds.getRepository(AuditRow).createQueryBuilder('a')
        .where('a.study_instance_uid = :s and a.channel = :c and a.object_uid is null and a.at >= :since', { s: study.studyInstanceUid, c: 'stow-rs', since })
        .getCount();
      return rows > 0 ? true : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await h.services.ds.getRepository(JobRow).countBy({ studyInstanceUid: study.studyInstanceUid })).toBe(2);
  });
});
