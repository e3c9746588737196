// What every Sentinel SEG shares: patient and study copied from the source, Sentinel as the
// equipment, and segment descriptions with coded type, algorithm identification and the
// finding's tracking identifiers (shared with the SR).
import type { NaturalizedDataset } from '../../dicom/write';
import type { Finding } from '../../domain/findings';
import { Codes } from '../../domain/codes';
import { findingCode } from '../../domain/findings';

export interface SeriesInfo {
  seriesInstanceUid: string;
  seriesNumber: number;
  instanceNumber: number;
  sopInstanceUid: string;
}

export interface AlgorithmInfo {
  name: string;
  version: string;
  modelId: string;
}

const PATIENT_STUDY = [
  'PatientName', 'PatientID', 'IssuerOfPatientID', 'PatientBirthDate', 'PatientSex', 'PatientAge', 'OtherPatientIDsSequence',
  'StudyInstanceUID', 'StudyDate', 'StudyTime', 'StudyID', 'AccessionNumber', 'ReferringPhysicianName', 'StudyDescription',
  'IssuerOfAccessionNumberSequence', 'SpecificCharacterSet',
];

/** Patient and General Study modules, copied as they are from the source image. */
export function patientAndStudy(source: NaturalizedDataset): NaturalizedDataset {
  const out: NaturalizedDataset = {};
  for (const k of PATIENT_STUDY) if (source[k] !== undefined) out[k] = source[k];
  for (const k of ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'StudyID', 'AccessionNumber', 'ReferringPhysicianName']) {
    out[k] ??= '';
  }
  return out;
}

/** LO and SH values have a length limit (PS3.5 6.2): model names and ids are cut to fit. */
export function lo(value: string): string {
  return value.length <= 64 ? value : `${value.slice(0, 63).trimEnd()}~`;
}

export function dicomDateTime(now: Date): { date: string; time: string } {
  const iso = now.toISOString();
  return { date: iso.slice(0, 10).replace(/-/g, ''), time: iso.slice(11, 19).replace(/:/g, '') };
}

/** SOP, series and instance identification of a new Sentinel object, dated `now`. */
export function newInstance(sopClassUid: string, modality: string, series: SeriesInfo, seriesDescription: string, now: Date): NaturalizedDataset {
  const { date, time } = dicomDateTime(now);
  return {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: sopClassUid,
    SOPInstanceUID: series.sopInstanceUid,
    Modality: modality,
    SeriesInstanceUID: series.seriesInstanceUid,
    SeriesNumber: series.seriesNumber,
    SeriesDescription: seriesDescription,
    SeriesDate: date,
    SeriesTime: time,
    InstanceNumber: series.instanceNumber,
    ContentDate: date,
    ContentTime: time,
    InstanceCreationDate: date,
    InstanceCreationTime: time,
  };
}

/** A stable UID per model and version (2.25 + a hash of both): it changes when the model version does. */
export function deviceUid(algorithm: AlgorithmInfo): string {
  let h = 0n;
  for (const ch of `${algorithm.modelId}@${algorithm.version}`) h = (h * 131n + BigInt(ch.charCodeAt(0))) % (1n << 120n);
  return `2.25.${h.toString()}`;
}

/** IHE AI Results (AIR): the equipment that made an AI result is a processing algorithm (99IHE 1630). */
export const ProcessingAlgorithm = { CodeValue: '1630', CodingSchemeDesignator: '99IHE', CodeMeaning: 'Processing Algorithm' };

/**
 * General Equipment as the model, and the SOP Common module's Contributing Equipment Sequence
 * as IHE AIR asks of every AI result: purpose Processing Algorithm, manufacturer, model name,
 * software version and a Device UID that changes with the model version.
 */
export function equipment(algorithm: AlgorithmInfo, now?: Date): NaturalizedDataset {
  const { date, time } = dicomDateTime(now ?? new Date());
  return {
    Manufacturer: 'Sentinel',
    ManufacturerModelName: lo(algorithm.modelId),
    DeviceSerialNumber: lo(algorithm.modelId),
    SoftwareVersions: lo(`${algorithm.modelId} ${algorithm.version}`),
    ContributingEquipmentSequence: [{
      PurposeOfReferenceCodeSequence: [ProcessingAlgorithm],
      Manufacturer: 'Sentinel',
      ManufacturerModelName: lo(algorithm.modelId),
      SoftwareVersions: lo(`${algorithm.modelId} ${algorithm.version}`),
      DeviceUID: deviceUid(algorithm),
      ContributionDateTime: `${date}${time}`,
      ContributionDescription: lo(`AI analysis by ${algorithm.name} ${algorithm.version} (research use only)`),
    }],
  };
}

/** Segment Description's algorithm attributes: an automatic AI algorithm, named and versioned. */
export function segmentAlgorithm(algorithm: AlgorithmInfo): NaturalizedDataset {
  return {
    SegmentAlgorithmType: 'AUTOMATIC',
    SegmentAlgorithmName: lo(algorithm.name),
    SegmentationAlgorithmIdentificationSequence: [{
      AlgorithmFamilyCodeSequence: [Codes.artificialIntelligence],
      AlgorithmName: lo(algorithm.name),
      AlgorithmVersion: lo(algorithm.version),
    }],
  };
}

export function segmentDescription(finding: Finding, number: number, algorithm: AlgorithmInfo): NaturalizedDataset {
  return {
    SegmentNumber: number,
    SegmentLabel: lo(`${finding.trackingId} ${finding.type} ${finding.score.toFixed(2)}`),
    SegmentDescription: `AI ${finding.type}, score ${finding.score.toFixed(3)} (research use only)`,
    SegmentedPropertyCategoryCodeSequence: [Codes.morphologicallyAlteredStructure],
    SegmentedPropertyTypeCodeSequence: [findingCode(finding)],
    ...segmentAlgorithm(algorithm),
    TrackingID: finding.trackingId,
    TrackingUID: finding.trackingUid,
    RecommendedDisplayCIELabValue: finding.type === 'calcification' ? [43690, 34406, 17476] : [54534, 48379, 6554],
  };
}

/** Who corrected an analysis (a signed-in user, or the name an API client gave). */
export interface Reader {
  name: string;
}

/** A user name as a DICOM person name: its family-name component, without the component separators. */
export function personName(name: string): string {
  return name.replace(/[\^=\\]/g, ' ').trim().slice(0, 64) || 'reader';
}
