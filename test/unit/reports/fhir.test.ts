// FHIR R4 for an analysed study: every resource judged by an independent validator (the `fhir`
// package, FHIR.js, against the R4 structure definitions), every reference of the Bundle
// resolved, and what a FHIR client reads back: the report, its observations, the device.
import { Fhir } from 'fhir';
import type { Bundle, Device, DiagnosticReport, Observation } from 'fhir/r4';
import type { ImageRef, StudyResult } from '../../../src/domain/findings';
import { mammography } from '../../../src/pipelines/mammography';
import { SENTINEL_CODE_SYSTEM, buildFhirBundle } from '../../../src/reports/fhir/diagnostic-report';
import { deviceUid } from '../../../src/reports/seg/common';

const validator = new Fhir();
const algorithm = { name: 'Sentinel test detector', version: '1.2.0', modelId: 'test-detector' };
const ref = (sop: string): ImageRef => ({ studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', sopInstanceUid: sop, sopClassUid: '1.2.840.10008.5.1.4.1.1.1.2', rows: 100, columns: 80 });
const contour = [{ x: 10, y: 10 }, { x: 20, y: 10 }, { x: 20, y: 20 }];
const result: StudyResult = {
  studyInstanceUid: '1.2.3', pipeline: 'mammography', model: { id: 'test-detector', version: '1.2.0', name: 'Sentinel test detector' },
  score: 0.91, examScore: 10, category: 'high',
  breasts: { L: { score: 0.91, examScore: 10, category: 'high' }, R: { score: 0.04, examScore: 2, category: 'low' } },
  images: [
    { image: ref('1.2.3.4.1'), laterality: 'L', score: 0.91, examScore: 10, findings: [
      { trackingId: 'F1', trackingUid: '2.25.11', type: 'mass', score: 0.91, examScore: 10, image: ref('1.2.3.4.1'), centre: { x: 15, y: 14 }, contour, box: { x: 10, y: 10, width: 10, height: 10 }, areaMm2: 42.5 },
      { trackingId: 'F2', trackingUid: '2.25.12', type: 'calcification', score: 0.33, examScore: 8, image: ref('1.2.3.4.1'), centre: { x: 60, y: 70 }, contour, box: { x: 10, y: 10, width: 10, height: 10 } },
    ] },
    { image: ref('1.2.3.4.2'), laterality: 'R', score: 0.04, examScore: 2, findings: [] },
  ],
};
const study = { studyInstanceUid: '1.2.3', accessionNumber: 'ACC-F', patientId: 'PID-F', patientName: 'Fhir^Test', studyDate: '20261130' };
const reports = [{ studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.9', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.33', sopInstanceUid: '1.2.3.9.1' }];
const build = (corrected = false): Bundle => buildFhirBundle({ result, study, algorithm, reporting: mammography.reporting, reports, corrected, seed: 'job-1', now: new Date('2026-12-02T10:00:00Z') });

function resources<T>(bundle: Bundle, type: string): T[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === type) as T[];
}

describe('FHIR R4 DiagnosticReport bundle', () => {
  const bundle = build();

  it('is a transaction Bundle whose every resource the independent R4 validator accepts', () => {
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'transaction' });
    const whole = validator.validate(bundle, { errorOnUnexpected: true });
    expect(whole.messages.filter((m) => m.severity === 'error')).toEqual([]);
    expect(whole.valid).toBe(true);
    for (const e of bundle.entry ?? []) {
      const v = validator.validate(e.resource as object, { errorOnUnexpected: true });
      expect({ type: e.resource?.resourceType, errors: v.messages.filter((m) => m.severity === 'error') }).toEqual({ type: e.resource?.resourceType, errors: [] });
      expect(e.fullUrl).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(e.request?.method).toBe('POST');
    }
  });

  it('the validator is a real judge: it refuses an Observation without status, or with an element R4 does not have', () => {
    const obs = resources<Observation>(bundle, 'Observation')[0] as unknown as Record<string, unknown>;
    expect(validator.validate({ ...obs, status: undefined }, { errorOnUnexpected: true }).valid).toBe(false);
    expect(validator.validate({ ...obs, bodyStructure: { reference: 'BodyStructure/1' } }, { errorOnUnexpected: true }).valid).toBe(false);
  });

  it('the report names the ImagingStudy by its Study Instance UID, the SR and the accession, and every result it lists is in the Bundle', () => {
    const [report] = resources<DiagnosticReport>(bundle, 'DiagnosticReport');
    expect(report).toMatchObject({ status: 'final', imagingStudy: [{ type: 'ImagingStudy', identifier: { system: 'urn:dicom:uid', value: 'urn:oid:1.2.3' } }], effectiveDateTime: '2026-11-30' });
    expect(report?.identifier).toEqual(expect.arrayContaining([{ system: 'urn:dicom:uid', value: 'urn:oid:1.2.3.9.1' }, expect.objectContaining({ value: 'ACC-F' })]));
    expect(report?.subject).toEqual({ identifier: { value: 'PID-F' }, display: 'Fhir Test' });
    expect(report?.code.coding?.[0]).toEqual({ system: 'http://snomed.info/sct', code: '71651007', display: 'Mammography' });
    const urls = new Set((bundle.entry ?? []).map((e) => e.fullUrl));
    expect(report?.result?.length).toBe(6); // score, category, two breasts, two findings
    for (const r of report?.result ?? []) expect(urls.has(r.reference)).toBe(true);
    expect(report?.conclusion).toContain('exam score 10/10');
  });

  it('observations: the score with its exam score, the category, each breast, each finding with its SNOMED CT code, body site and laterality; all by the model version\'s Device', () => {
    const obs = resources<Observation>(bundle, 'Observation');
    const byCode = (code: string): Observation[] => obs.filter((o) => o.code.coding?.[0]?.code === code);
    const [score] = byCode('AISCORE').filter((o) => !o.bodySite);
    expect(score?.valueQuantity).toEqual({ value: 0.91, unit: 'ratio', system: 'http://unitsofmeasure.org', code: '{ratio}' });
    expect(score?.component).toEqual([{ code: expect.objectContaining({ coding: [expect.objectContaining({ system: SENTINEL_CODE_SYSTEM, code: 'AIEXAM' })] }) as unknown, valueInteger: 10 }]);
    expect(byCode('AICAT')[0]?.valueCodeableConcept?.coding?.[0]?.code).toBe('HIGH');
    const right = byCode('AISCORE').find((o) => o.bodySite?.coding?.[0]?.code === '73056007');
    expect(right?.component?.find((c) => c.valueInteger !== undefined)?.valueInteger).toBe(2);
    const mass = byCode('129788004')[0];
    expect(mass?.bodySite?.coding?.[0]).toEqual({ system: 'http://snomed.info/sct', code: '80248007', display: 'Left breast' });
    expect(mass?.identifier).toEqual([{ system: 'urn:dicom:uid', value: 'urn:oid:2.25.11' }]);
    expect(mass?.component?.map((c) => c.valueInteger ?? c.valueQuantity?.value)).toEqual([10, 42.5]);
    expect(byCode('129769006')[0]?.component?.map((c) => c.valueInteger)).toEqual([8]);
    const [device] = resources<Device>(bundle, 'Device');
    expect(device?.version).toEqual([{ value: '1.2.0' }]);
    expect(device?.identifier).toEqual([{ system: 'urn:dicom:uid', value: `urn:oid:${deviceUid(algorithm)}` }]);
    const deviceEntry = (bundle.entry ?? []).find((e) => e.resource?.resourceType === 'Device');
    expect(deviceEntry?.request?.ifNoneExist).toBe(`identifier=urn:dicom:uid|urn:oid:${deviceUid(algorithm)}`);
    for (const o of obs) expect(o.device?.reference).toBe(deviceEntry?.fullUrl);
  });

  it('a re-analysis is corrected throughout; the same analysis gives the same identities', () => {
    const again = build(true);
    expect(resources<DiagnosticReport>(again, 'DiagnosticReport')[0]?.status).toBe('corrected');
    expect(resources<Observation>(again, 'Observation').every((o) => o.status === 'corrected')).toBe(true);
    expect((again.entry ?? []).map((e) => e.fullUrl)).toEqual((bundle.entry ?? []).map((e) => e.fullUrl));
    expect(validator.validate(again, { errorOnUnexpected: true }).valid).toBe(true);
  });
});
