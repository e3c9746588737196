// HL7 v2.5.1 ORU^R01 (Observation Result, chapter 7) for one analysed study, built with
// node-hl7-client's Message builder, which escapes HL7 delimiters in every value (\F\ \S\
// \T\ \R\ \E\). Observation codes are local (coding system 99SEN, listed in README.md):
// there is no LOINC code for an AI suspicion score.
import { Message } from 'node-hl7-client';
import type { Config } from '../../config/schema';
import type { DensityAssessment, DocumentRef, StudyContext, StudyResult } from '../../domain/findings';
import { allFindings } from '../../domain/findings';
import type { PipelineReporting } from '../../domain/reporting';

export const LOCAL_CODING_SYSTEM = '99SEN';

export interface OruInput {
  result: StudyResult;
  study: StudyContext;
  sender: { application: string; facility: string };
  receiver: { application: string; facility: string };
  messageControlId: string;
  timestamp: Date;
  processingId?: 'P' | 'T' | 'D';
  /** The analysing pipeline's universal service (OBR-4) and study measurements. */
  reporting: PipelineReporting;
  /** A corrected result (a re-analysis replacing an earlier one): result status C instead of F. */
  corrected?: boolean;
  /** The SR documents holding this result: each named by its Study and SOP Instance UIDs. */
  reports?: DocumentRef[];
}

export function hl7Timestamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

const round = (v: number, digits = 3): string => Number(v.toFixed(digits)).toString();

export function buildOruR01(input: OruInput): string {
  const { result, study } = input;
  const m = new Message({
    messageHeader: { msh_9_1: 'ORU', msh_9_2: 'R01', msh_9_3: 'ORU_R01', msh_10: input.messageControlId, msh_11_1: input.processingId ?? 'P' },
  });
  m.set('MSH.3', input.sender.application);
  m.set('MSH.4', input.sender.facility);
  m.set('MSH.5', input.receiver.application);
  m.set('MSH.6', input.receiver.facility);
  m.set('MSH.7', hl7Timestamp(input.timestamp));
  m.set('MSH.12', '2.5.1');
  m.set('MSH.15', 'AL');
  m.set('MSH.16', 'NE');
  m.set('MSH.18', 'UNICODE UTF-8');

  const pid = m.addSegment('PID');
  pid.set('1', '1');
  if (study.patientId) {
    pid.set('3.1', study.patientId);
    pid.set('3.5', 'MR');
  }
  // DICOM PN "Family^Given^Middle^Prefix^Suffix" maps onto XPN components 1-5 in order.
  const name = (study.patientName ?? '').split('=')[0]?.split('^') ?? [];
  name.slice(0, 5).forEach((part, i) => part && pid.set(`5.${i + 1}`, part));
  if (study.patientBirthDate) pid.set('7', study.patientBirthDate);
  if (study.patientSex) pid.set('8', study.patientSex);

  const { code: serviceCode, text: serviceText } = input.reporting.oruService;
  const orc = m.addSegment('ORC');
  orc.set('1', 'RE');
  if (study.accessionNumber) orc.set('2', study.accessionNumber);
  orc.set('3.1', result.studyInstanceUid);
  orc.set('3.2', 'SENTINEL');
  orc.set('5', 'CM');

  const obr = m.addSegment('OBR');
  obr.set('1', '1');
  if (study.accessionNumber) obr.set('2', study.accessionNumber);
  obr.set('3.1', result.studyInstanceUid);
  obr.set('3.2', 'SENTINEL');
  obr.set('4.1', serviceCode);
  obr.set('4.2', serviceText);
  obr.set('4.3', LOCAL_CODING_SYSTEM);
  if (study.studyDate) obr.set('7', `${study.studyDate}${(study.studyTime ?? '').slice(0, 6)}`);
  obr.set('22', hl7Timestamp(input.timestamp));
  const status = input.corrected ? 'C' : 'F';
  obr.set('25', status);

  let n = 0;
  const obx = (type: string, code: string, text: string, value: string | [string, string, string], opts: { units?: [string, string, string]; subId?: string; system?: string; status?: string } = {}): void => {
    const s = m.addSegment('OBX');
    s.set('1', String(++n));
    s.set('2', type);
    s.set('3.1', code);
    s.set('3.2', text);
    s.set('3.3', opts.system ?? LOCAL_CODING_SYSTEM);
    if (opts.subId) s.set('4', opts.subId);
    if (typeof value === 'string') {
      s.set('5', value);
    } else {
      // Coded values are components (CWE: identifier^text^coding system), not escaped text.
      s.set('5.1', value[0]);
      s.set('5.2', value[1]);
      s.set('5.3', value[2]);
    }
    if (opts.units) {
      s.set('6.1', opts.units[0]);
      s.set('6.2', opts.units[1]);
      s.set('6.3', opts.units[2]);
    }
    s.set('11', opts.status ?? status);
    s.set('14', hl7Timestamp(input.timestamp));
  };
  const ratio: [string, string, string] = ['{ratio}', 'ratio', 'UCUM'];
  const scale: [string, string, string] = ['{score}', 'score', 'UCUM'];
  obx('NM', 'AISCORE', 'AI suspicion score', round(result.score), { units: ratio });
  if (result.examScore !== undefined) obx('NM', 'AIEXAM', 'AI exam score (1-10)', String(result.examScore), { units: scale });
  obx('CWE', 'AICAT', 'AI suspicion category', [result.category.toUpperCase(), `${result.category} suspicion`, LOCAL_CODING_SYSTEM]);
  for (const side of ['R', 'L'] as const) {
    const b = result.breasts[side];
    const breast = side === 'R' ? 'right' : 'left';
    if (b) obx('NM', `AISCORE-${side}`, `AI suspicion score, ${breast} breast`, round(b.score), { units: ratio });
    if (b?.examScore !== undefined) obx('NM', `AIEXAM-${side}`, `AI exam score (1-10), ${breast} breast`, String(b.examScore), { units: scale });
  }
  if (result.density) {
    // Breast composition: the class's code where the model gives one (SNOMED CT is "SCT" in HL7 table 0396 too), else Sentinel's.
    const composition = (d: DensityAssessment): [string, string, string] => (d.code
      ? [d.code.CodeValue, d.code.CodeMeaning, d.code.CodingSchemeDesignator]
      : [d.predicted.toUpperCase(), d.predicted, LOCAL_CODING_SYSTEM]);
    obx('CWE', 'AIDENS', 'AI breast composition', composition(result.density.exam));
    for (const side of ['R', 'L'] as const) {
      const d = result.density.breasts[side];
      if (d) obx('CWE', `AIDENS-${side}`, `AI breast composition, ${side === 'R' ? 'right' : 'left'} breast`, composition(d));
    }
  }
  result.images.forEach((image, i) => {
    if (!image.classification) return;
    const c = image.classification.predicted;
    obx('CWE', 'AICLASS', 'AI image classification', [c.toUpperCase(), c, LOCAL_CODING_SYSTEM], { subId: String(i + 1) });
  });
  const findings = allFindings(result);
  obx('NM', 'AINFIND', 'Number of AI findings', String(findings.length));
  for (const m of input.reporting.measurements?.(result) ?? []) {
    if (m.oru) obx('NM', m.oru.code, m.oru.text, round(m.value, m.oru.digits), m.oru.units ? { units: m.oru.units } : {});
  }
  for (const f of findings) {
    const parts = [
      f.type,
      `score ${round(f.score)}`,
      ...(f.examScore !== undefined ? [`exam score ${f.examScore}`] : []),
      `image ${f.image.sopInstanceUid}${f.image.frameNumber ? ` frame ${f.image.frameNumber}` : ''}`,
      `centre ${Math.round(f.centre.x)},${Math.round(f.centre.y)} px`,
      ...(f.areaMm2 !== undefined ? [`area ${round(f.areaMm2, 1)} mm2`] : []),
      ...(f.measurements ?? []).map((x) => `${x.concept.CodeMeaning.toLowerCase()} ${round(x.value, 1)} ${x.unit.CodeMeaning}`),
    ];
    obx('ST', 'AIFINDING', 'AI finding', parts.join('; '), { subId: f.trackingId });
  }
  // Where the full result lives: each SR's study (DICOM's code for a Study Instance UID, as IHE
  // reports name it; result status O, a reference rather than an observation) and its SOP
  // Instance UID, grouped by sub-id.
  (input.reports ?? []).forEach((r, i) => {
    const subId = `SR${i + 1}`;
    obx('ST', '113014', 'Study', r.studyInstanceUid, { system: 'DCM', subId, status: 'O' });
    obx('ST', 'AISRUID', 'AI report SOP Instance UID', r.sopInstanceUid, { subId, status: 'O' });
  });
  obx('ST', 'AIMODEL', 'AI model', `${result.model.id} ${result.model.version} (${result.model.name}); research use only, not a medical device`);
  return m.toString();
}

/** A message control id (MSH-10): at most 20 characters in v2.5.1, unique enough per sender. */
export function newMessageControlId(now: Date): string {
  return `SEN${now.getTime().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`.toUpperCase().slice(0, 20);
}

/** The ORU for one analysed study, with a new control id, as the outbox sends it. */
export function oruForStudy(result: StudyResult, study: StudyContext, hl7: Pick<Config['hl7'], 'sender' | 'receiver' | 'processingId'>, reporting: PipelineReporting, now: Date, opts: Pick<OruInput, 'corrected' | 'reports'> = {}): { controlId: string; text: string } {
  const controlId = newMessageControlId(now);
  const text = buildOruR01({ result, study, sender: hl7.sender, receiver: hl7.receiver, messageControlId: controlId, timestamp: now, processingId: hl7.processingId, reporting, ...opts });
  return { controlId, text };
}
