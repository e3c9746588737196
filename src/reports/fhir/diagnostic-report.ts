// FHIR R4 for one analysed study, as a transaction Bundle for a hospital's FHIR server: a
// DiagnosticReport naming the ImagingStudy by its Study Instance UID and the SR documents by
// their SOP Instance UIDs, its result Observations (the suspicion score with the exam score,
// the category, each finding with its body site and laterality), and a Device for the model
// version that made them, created only if the server has none with its Device UID. The
// patient is referred to by identifier (Patient ID), so no Patient is created here.
import crypto from 'node:crypto';
import type { Bundle, BundleEntry, CodeableConcept, Coding, Device, DiagnosticReport, Identifier, Observation, Quantity, Reference } from 'fhir/r4';
import type { Code } from '../../domain/codes';
import { Codes } from '../../domain/codes';
import { type DensityAssessment, type DocumentRef, type Finding, type StudyContext, type StudyResult, allFindings, findingCode } from '../../domain/findings';
import type { PipelineReporting } from '../../domain/reporting';
import { type AlgorithmInfo, deviceUid } from '../seg/common';

/** Sentinel's own codes (the 99SENTINEL / 99SEN codes of the DICOM objects and the ORU). */
export const SENTINEL_CODE_SYSTEM = 'urn:sentinel:ai-results';
const DICOM_UID = 'urn:dicom:uid';
const UCUM = 'http://unitsofmeasure.org';
const SYSTEMS: Record<string, string> = {
  SCT: 'http://snomed.info/sct',
  DCM: 'http://dicom.nema.org/resources/ontology/DCM',
  LN: 'http://loinc.org',
  UCUM,
  '99SENTINEL': SENTINEL_CODE_SYSTEM,
};

export interface FhirInput {
  result: StudyResult;
  study: StudyContext;
  algorithm: AlgorithmInfo;
  reporting: PipelineReporting;
  /** The SR documents holding the result (the DiagnosticReport's identifiers). */
  reports: DocumentRef[];
  /** A re-analysis replacing an earlier result: status corrected. */
  corrected?: boolean;
  /** Seed of the bundle's urn:uuid identities, so the same analysis gives the same Bundle. */
  seed: string;
  now: Date;
}

/** A version 8 UUID from a seed (SHA-256), for urn:uuid full URLs. */
export function uuidFrom(seed: string): string {
  const h = crypto.createHash('sha256').update(`sentinel-fhir:${seed}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x80;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

function coding(c: Code): Coding {
  return { system: SYSTEMS[c.CodingSchemeDesignator] ?? `urn:dicom:coding-scheme:${c.CodingSchemeDesignator}`, code: c.CodeValue, display: c.CodeMeaning };
}

const concept = (c: Code, text?: string): CodeableConcept => ({ coding: [coding(c)], ...(text ? { text } : {}) });
const sentinel = (code: string, display: string): CodeableConcept => ({ coding: [{ system: SENTINEL_CODE_SYSTEM, code, display }], text: display });
const uidIdentifier = (uid: string): Identifier => ({ system: DICOM_UID, value: `urn:oid:${uid}` });
const ratio = (value: number): Quantity => ({ value: Number(value.toFixed(4)), unit: 'ratio', system: UCUM, code: '{ratio}' });

/** FHIR date (YYYY-MM-DD) from a DICOM DA, or undefined. */
function fhirDate(da: string | undefined): string | undefined {
  return da && /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : undefined;
}

/** Right breast, left breast, or the breast (CID 6022 Side's SNOMED CT concepts). */
function bodySite(laterality: 'L' | 'R' | undefined): CodeableConcept {
  return concept(laterality === 'R' ? Codes.rightBreast : laterality === 'L' ? Codes.leftBreast : Codes.breast);
}

export function buildFhirBundle(input: FhirInput): Bundle {
  const { result, study, algorithm } = input;
  const url = (what: string): string => `urn:uuid:${uuidFrom(`${input.seed}:${what}`)}`;
  const status = input.corrected ? 'corrected' : 'final';
  const issued = input.now.toISOString();
  const effective = fhirDate(study.studyDate) ?? issued;
  const subject: Reference | undefined = study.patientId ? { identifier: { value: study.patientId }, ...(study.patientName ? { display: study.patientName.split('=')[0]?.replace(/\^+/g, ' ').trim() } : {}) } : undefined;
  const imagingStudy: Reference = { type: 'ImagingStudy', identifier: uidIdentifier(result.studyInstanceUid) };
  const deviceUrl = url('device');
  const common: Pick<Observation, 'status' | 'category' | 'subject' | 'effectiveDateTime' | 'issued' | 'device' | 'derivedFrom'> = {
    status,
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'imaging', display: 'Imaging' }] }],
    ...(subject ? { subject } : {}),
    effectiveDateTime: effective,
    issued,
    device: { reference: deviceUrl },
    derivedFrom: [imagingStudy],
  };

  const device: Device = {
    resourceType: 'Device',
    identifier: [uidIdentifier(deviceUid(algorithm))],
    manufacturer: 'Sentinel',
    deviceName: [{ name: algorithm.name, type: 'model-name' }],
    modelNumber: algorithm.modelId,
    version: [{ value: algorithm.version }],
    note: [{ text: 'AI model. Research use only: not a medical device, not for diagnosis.' }],
  };

  const observations: Array<{ url: string; resource: Observation }> = [];
  type Component = NonNullable<Observation['component']>[number];
  const examComponent = (exam: number | undefined): Component[] => (exam === undefined ? [] : [{ code: sentinel('AIEXAM', 'AI exam score (1-10)'), valueInteger: exam }]);
  // FHIR JSON has no empty arrays: a resource without components leaves the element out.
  const components = (list: Component[]): Pick<Observation, 'component'> => (list.length > 0 ? { component: list } : {});
  observations.push({
    url: url('score'),
    resource: {
      resourceType: 'Observation', ...common,
      code: sentinel('AISCORE', 'AI suspicion score'),
      valueQuantity: ratio(result.score),
      ...components(examComponent(result.examScore)),
    },
  });
  observations.push({
    url: url('category'),
    resource: {
      resourceType: 'Observation', ...common,
      code: sentinel('AICAT', 'AI suspicion category'),
      valueCodeableConcept: sentinel(result.category.toUpperCase(), `${result.category[0]?.toUpperCase()}${result.category.slice(1)} suspicion`),
    },
  });
  for (const side of ['R', 'L'] as const) {
    const b = result.breasts[side];
    if (!b) continue;
    observations.push({
      url: url(`breast-${side}`),
      resource: {
        resourceType: 'Observation', ...common,
        code: sentinel('AISCORE', 'AI suspicion score'),
        bodySite: bodySite(side),
        valueQuantity: ratio(b.score),
        ...components([...examComponent(b.examScore), { code: sentinel('AICAT', 'AI suspicion category'), valueCodeableConcept: sentinel(b.category.toUpperCase(), `${b.category} suspicion`) }]),
      },
    });
  }
  // Breast composition, per breast and for the exam (the denser breast), by the density model the note names.
  if (result.density) {
    const { exam, breasts } = result.density;
    const composition = (d: DensityAssessment, side?: 'L' | 'R'): Observation => ({
      resourceType: 'Observation', ...common,
      code: concept(Codes.breastComposition),
      ...(side ? { bodySite: bodySite(side) } : {}),
      valueCodeableConcept: d.code ? concept(d.code) : sentinel(d.predicted.toUpperCase(), d.predicted),
      note: [{ text: `AI breast composition${side ? '' : ' of the exam (the denser breast)'}: ${d.predicted}, probability ${Number((d.probabilities[d.predicted] ?? 0).toFixed(3))}, by model ${d.model.id} ${d.model.version}. Research use only.` }],
    });
    for (const side of ['R', 'L'] as const) {
      const d = breasts[side];
      if (d) observations.push({ url: url(`density-${side}`), resource: composition(d, side) });
    }
    observations.push({ url: url('density'), resource: composition(exam) });
  }
  const laterality = new Map(result.images.map((i) => [i.image.sopInstanceUid, i.laterality]));
  allFindings(result).forEach((f: Finding) => {
    observations.push({
      url: url(`finding-${f.trackingUid}`),
      resource: {
        resourceType: 'Observation', ...common,
        identifier: [uidIdentifier(f.trackingUid)],
        code: concept(findingCode(f), `AI finding ${f.trackingId}: ${findingCode(f).CodeMeaning}`),
        bodySite: bodySite(laterality.get(f.image.sopInstanceUid)),
        valueQuantity: ratio(f.score),
        ...components([
          ...examComponent(f.examScore),
          ...(f.areaMm2 !== undefined ? [{ code: concept(Codes.area), valueQuantity: { value: Number(f.areaMm2.toFixed(1)), unit: 'mm2', system: UCUM, code: 'mm2' } }] : []),
        ]),
        note: [{ text: `On image ${f.image.sopInstanceUid}${f.image.frameNumber ? ` frame ${f.image.frameNumber}` : ''}, centre ${Math.round(f.centre.x)},${Math.round(f.centre.y)} px; outlined in the SEG and SR of the study.` }],
      },
    });
  });

  const findings = allFindings(result).length;
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    identifier: [
      ...input.reports.map((r) => uidIdentifier(r.sopInstanceUid)),
      ...(study.accessionNumber ? [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN', display: 'Accession ID' }] }, value: study.accessionNumber }] : []),
    ],
    status,
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD', display: 'Radiology' }] }],
    code: concept(input.reporting.procedure, input.reporting.oruService.text),
    ...(subject ? { subject } : {}),
    effectiveDateTime: effective,
    issued,
    imagingStudy: [imagingStudy],
    result: observations.map((o) => ({ reference: o.url })),
    conclusion: `AI suspicion ${result.category}, score ${Number(result.score.toFixed(3))}${result.examScore !== undefined ? `, exam score ${result.examScore}/10` : ''}; ${findings} finding${findings === 1 ? '' : 's'}. `
      + `Model ${result.model.id} ${result.model.version}. Research use only: not a medical device, not for diagnosis.`,
  };

  const entries: BundleEntry[] = [
    { fullUrl: deviceUrl, resource: device, request: { method: 'POST', url: 'Device', ifNoneExist: `identifier=${DICOM_UID}|urn:oid:${deviceUid(algorithm)}` } },
    ...observations.map((o): BundleEntry => ({ fullUrl: o.url, resource: o.resource, request: { method: 'POST', url: 'Observation' } })),
    { fullUrl: url('report'), resource: report, request: { method: 'POST', url: 'DiagnosticReport' } },
  ];
  return { resourceType: 'Bundle', id: uuidFrom(`${input.seed}:bundle`), type: 'transaction', timestamp: issued, entry: entries };
}
