// The dataset Sentinel gives the tool for a slide (patient, study, one Frame of Reference for
// all levels, container, specimen, equipment, Position Reference Indicator, TILED_SPARSE), and
// the study's patient and study attributes when the slide joins a study already in the PACS.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../config/load';
import type { DicomwebClient } from '../../dicomweb/client';
import { SentinelError } from '../../errors/errors';
import type { DicomJson } from '../../dicom/json';
import { studyContextFromJson } from '../../dicom/study-context';
import type { PatientStudyContext } from './options';

/** DS (PS3.5 6.2): at most 16 characters. */
export function formatDs(v: number): string {
  if (!Number.isFinite(v)) throw new SentinelError('bad_request', `not a decimal string value: ${v}`);
  for (let p = 15; p >= 1; p--) {
    const s = String(Number(v.toPrecision(p)));
    if (s.length <= 16) return s;
  }
  return v.toExponential(6);
}

function softwareVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0';
  } catch {
    return '0';
  }
}

/** The patient and study attributes of a study already in the PACS, so that a slide added to it matches. */
export async function studyContextFromPacs(client: Pick<DicomwebClient, 'studyMetadata'>, studyInstanceUid: string): Promise<PatientStudyContext | undefined> {
  let instances: DicomJson[];
  try {
    instances = await client.studyMetadata(studyInstanceUid);
  } catch (err) {
    if (err instanceof SentinelError && err.kind === 'not_found') return undefined;
    throw err;
  }
  const ds = instances[0];
  if (!ds) return undefined;
  const context: PatientStudyContext & { studyInstanceUid?: string } = studyContextFromJson(ds, studyInstanceUid);
  delete context.studyInstanceUid;
  return context;
}

export function datasetFor(opts: {
  studyInstanceUid: string; seriesInstanceUid: string; frameOfReferenceUid: string; containerIdentifier: string;
  specimenIdentifier: string; specimenUid: string; context: PatientStudyContext; seriesNumber: number; seriesDescription: string;
}): Record<string, unknown> {
  const c = opts.context;
  const entries: Record<string, unknown> = {
    PatientID: c.patientId ?? opts.containerIdentifier,
    PatientName: c.patientName ?? '',
    PatientBirthDate: c.patientBirthDate ?? '',
    PatientSex: c.patientSex ?? '',
    StudyInstanceUID: opts.studyInstanceUid,
    StudyID: c.studyId ?? '1',
    AccessionNumber: c.accessionNumber ?? '',
    ReferringPhysicianName: c.referringPhysicianName ?? '',
    StudyDescription: c.studyDescription ?? 'Whole-slide pathology',
    SeriesInstanceUID: opts.seriesInstanceUid,
    SeriesNumber: String(opts.seriesNumber),
    SeriesDescription: opts.seriesDescription,
    FrameOfReferenceUID: opts.frameOfReferenceUid,
    PositionReferenceIndicator: 'SLIDE_CORNER',
    Manufacturer: 'Sentinel',
    ManufacturerModelName: 'sentinel dicomize (OrthancWSIDicomizer)',
    DeviceSerialNumber: 'NONE',
    SoftwareVersions: `sentinel ${softwareVersion()}`,
    ImageType: 'DERIVED\\PRIMARY\\VOLUME\\NONE',
    FocusMethod: 'AUTO',
    ExtendedDepthOfField: 'NO',
    AcquisitionContextSequence: [],
    ContainerIdentifier: opts.containerIdentifier,
    IssuerOfTheContainerIdentifierSequence: [],
    ContainerTypeCodeSequence: [{ CodeValue: '433466003', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Microscope slide' }],
    SpecimenDescriptionSequence: [{
      SpecimenIdentifier: opts.specimenIdentifier,
      SpecimenUID: opts.specimenUid,
      IssuerOfTheSpecimenIdentifierSequence: [],
      SpecimenPreparationSequence: [],
    }],
    SpecimenLabelInImage: 'NO',
    BurnedInAnnotation: 'NO',
    DimensionOrganizationType: 'TILED_SPARSE',
  };
  if (c.studyDate) entries.StudyDate = c.studyDate;
  if (c.studyTime) entries.StudyTime = c.studyTime;
  return entries;
}
