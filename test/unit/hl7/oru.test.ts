// ORU^R01 content, escaping, and independent parsing by Debian's python3-hl7.
import { spawnSync } from 'node:child_process';
import { mammography } from '../../../src/pipelines/mammography';
import { Message } from 'node-hl7-client';
import type { StudyContext, StudyResult } from '../../../src/domain/findings';
import { buildOruR01, checkAck } from '../../../src/reports/hl7';
import { buildAck } from '../../../src/reports/hl7';

const ref = { studyInstanceUid: '1.2.3.4', seriesInstanceUid: '1.2.3.4.5', sopInstanceUid: '1.2.3.4.5.6', sopClassUid: '1.2.840.10008.5.1.4.1.1.1.2', rows: 100, columns: 80 };
const result: StudyResult = {
  studyInstanceUid: '1.2.3.4', pipeline: 'mammography', model: { id: 'mg-lesion-detector', version: '1.0.0', name: 'MG detector' },
  score: 0.8734, category: 'high', breasts: { L: { score: 0.8734, category: 'high' }, R: { score: 0.12, category: 'low' } },
  images: [{ image: ref, laterality: 'L', view: 'CC', score: 0.8734, findings: [
    { trackingId: 'F1', trackingUid: '2.25.1', type: 'mass', score: 0.8734, image: ref, centre: { x: 40.2, y: 50.7 }, contour: [], box: { x: 0, y: 0, width: 1, height: 1 }, areaMm2: 123.45 },
  ] }],
};
const study: StudyContext = {
  studyInstanceUid: '1.2.3.4', accessionNumber: 'ACC|77^&', patientId: 'MRN~123', patientName: 'Smith&Jones^Anne\\Marie', patientBirthDate: '19700102', patientSex: 'F', studyDate: '20261101', studyTime: '093000',
};
const text = buildOruR01({ result, study, sender: { application: 'SENTINEL', facility: 'AI' }, receiver: { application: 'HIS', facility: 'HOSP' }, messageControlId: 'CTRL123', timestamp: new Date('2026-11-22T10:00:00Z'), reporting: mammography.reporting });

function python(script: string, input: string): string {
  const res = spawnSync('/usr/bin/python3', ['-c', script], { input, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(res.stderr);
  return res.stdout.trim();
}

describe('ORU^R01', () => {
  it('is v2.5.1 with our control id, one PID, ORC, OBR and an OBX per observation', () => {
    const segments = text.split('\r').map((s) => s.slice(0, 3));
    expect(segments).toEqual(['MSH', 'PID', 'ORC', 'OBR', 'OBX', 'OBX', 'OBX', 'OBX', 'OBX', 'OBX', 'OBX']);
    const m = new Message({ text });
    expect([m.get('MSH.9.1').toString(), m.get('MSH.9.2').toString(), m.get('MSH.9.3').toString()]).toEqual(['ORU', 'R01', 'ORU_R01']);
    expect(m.get('MSH.10').toString()).toBe('CTRL123');
    expect(m.get('MSH.12').toString()).toBe('2.5.1');
    expect(m.get('OBR.3.1').toString()).toBe('1.2.3.4');
    expect(m.get('OBR.25').toString()).toBe('F');
  });

  it('escapes HL7 delimiters in patient data so they survive a round trip', () => {
    const m = new Message({ text });
    expect(m.get('PID.3.1').toString()).toBe('MRN~123');
    expect(m.get('PID.5.1').toString()).toBe('Smith&Jones');
    expect(m.get('PID.5.2').toString()).toBe('Anne\\Marie');
    expect(m.get('OBR.2').toString()).toBe('ACC|77^&');
    expect(text).toContain('ACC\\F\\77\\S\\\\T\\');
  });

  it('is parsed by python3-hl7 with the accession number, study UID, score and finding', () => {
    const out = python(
      'import hl7, sys, json\n' +
      'm = hl7.parse(sys.stdin.read())\n' +
      'obx = m.segments("OBX")\n' +
      'print(json.dumps({"control": str(m.segment("MSH")[10]), "obr3": str(m.segment("OBR")[3][0][0]), "pid3": str(m.segment("PID")[3]),' +
      ' "n_obx": len(obx), "score": str(obx[0][5]), "codes": [str(o[3][0][0]) for o in obx], "finding": str(obx[5][5]),' +
      ' "category": [str(obx[1][5][0][i]) for i in range(3)]}))',
      text,
    );
    const parsed = JSON.parse(out) as { control: string; obr3: string; pid3: string; n_obx: number; score: string; codes: string[]; finding: string; category: string[] };
    expect(parsed.control).toBe('CTRL123');
    expect(parsed.obr3).toBe('1.2.3.4');
    expect(parsed.n_obx).toBe(7);
    expect(parsed.score).toBe('0.873');
    expect(parsed.codes).toEqual(['AISCORE', 'AICAT', 'AISCORE-R', 'AISCORE-L', 'AINFIND', 'AIFINDING', 'AIMODEL']);
    // The coded category is three CWE components, not one escaped string.
    expect(parsed.category).toEqual([result.category.toUpperCase(), `${result.category} suspicion`, '99SEN']);
    expect(parsed.finding).toContain('mass; score 0.873; image 1.2.3.4.5.6; centre 40,51 px; area 123.5 mm2');
  });
});

describe('ACK verdicts', () => {
  it('AA with our control id is accepted', () => {
    expect(checkAck(buildAck(text, 'AA'), 'CTRL123')).toEqual({ ok: true });
  });
  it('AE may pass later (retry), AR will not', () => {
    expect(checkAck(buildAck(text, 'AE'), 'CTRL123')).toMatchObject({ ok: false, retryable: true });
    expect(checkAck(buildAck(text, 'AR'), 'CTRL123')).toMatchObject({ ok: false, retryable: false });
  });
  it('an ACK for another message is not ours', () => {
    expect(checkAck(buildAck(text, 'AA'), 'OTHER')).toMatchObject({ ok: false, reason: expect.stringContaining('expected "OTHER"') });
  });
  it('garbage is an unreadable ACK, retried', () => {
    expect(checkAck('hello', 'CTRL123')).toMatchObject({ ok: false, retryable: true });
  });
});
