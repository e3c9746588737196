// The one reading of a study's context (the Patient and General Study attributes the writers
// copy into SEG, SR and ORU, and dicomize into a slide joining the study), from a parsed Part
// 10 file or from DICOM JSON (DICOMweb metadata, a local file's header) alike. Patient fields
// go into DICOM objects and HL7 messages only, never into logs.
import type { StudyContext } from '../domain/findings';
import { type DicomJson, str } from './json';
import { Tag } from './tags';

const FIELDS: ReadonlyArray<[Exclude<keyof StudyContext, 'studyInstanceUid'>, string]> = [
  ['accessionNumber', Tag.AccessionNumber],
  ['studyId', Tag.StudyID],
  ['studyDate', Tag.StudyDate],
  ['studyTime', Tag.StudyTime],
  ['studyDescription', Tag.StudyDescription],
  ['referringPhysicianName', Tag.ReferringPhysicianName],
  ['patientId', Tag.PatientID],
  ['patientName', Tag.PatientName],
  ['patientBirthDate', Tag.PatientBirthDate],
  ['patientSex', Tag.PatientSex],
];

/** The context from any reader of string values by tag (empty values read as absent). */
export function studyContextFrom(read: (tag: string) => string | undefined, studyInstanceUid: string): StudyContext {
  const context: StudyContext = { studyInstanceUid };
  for (const [field, tag] of FIELDS) {
    const v = read(tag);
    if (v !== undefined && v !== '') context[field] = v;
  }
  return context;
}

export function studyContextFromJson(ds: DicomJson, studyInstanceUid = str(ds, Tag.StudyInstanceUID) ?? ''): StudyContext {
  return studyContextFrom((tag) => str(ds, tag), studyInstanceUid);
}
