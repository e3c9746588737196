// One instance of a slide as DICOM JSON describes it: identity, frame size and count,
// transfer syntax, concatenation and optical paths, and its functional groups.
import { SentinelError } from '../errors/errors';
import { type DicomJson, firstItem, items, num, str, strs } from '../dicom/json';
import { Tag } from '../dicom/tags';

export interface SlideInstance {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  instanceNumber?: number;
  imageType: string[];
  rows: number;
  columns: number;
  numberOfFrames: number;
  /** Undefined when the metadata does not say (Orthanc's DICOMweb plugin does not). */
  transferSyntaxUid?: string;
  concatenationUid?: string;
  inConcatenationNumber?: number;
  /** Frames before this part of a concatenation (0 when not concatenated). */
  concatenationFrameOffset: number;
  opticalPathIdentifiers: string[];
  dataset: DicomJson;
}

export const badSlide = (msg: string): SentinelError => new SentinelError('bad_request', `not a usable whole-slide image: ${msg}`);

export function sharedGroup(ds: DicomJson): DicomJson | undefined {
  return firstItem(ds, Tag.SharedFunctionalGroupsSequence);
}

export function perFrameGroups(ds: DicomJson): DicomJson[] {
  return items(ds, Tag.PerFrameFunctionalGroupsSequence);
}

function transferSyntaxOf(ds: DicomJson): string | undefined {
  return str(ds, Tag.AvailableTransferSyntaxUID) ?? str(ds, Tag.TransferSyntaxUID);
}

function opticalPathIds(ds: DicomJson): string[] {
  const ids = items(ds, Tag.OpticalPathSequence).map((it) => str(it, Tag.OpticalPathIdentifier)).filter((s): s is string => s !== undefined);
  if (ids.length > 0) return ids;
  const shared = str(firstItem(sharedGroup(ds), Tag.OpticalPathIdentificationSequence), Tag.OpticalPathIdentifier);
  return shared ? [shared] : [];
}

export function toInstance(ds: DicomJson): SlideInstance {
  const sop = str(ds, Tag.SOPInstanceUID);
  if (!sop) throw badSlide('an instance has no SOP Instance UID');
  return {
    studyInstanceUid: str(ds, Tag.StudyInstanceUID) ?? '',
    seriesInstanceUid: str(ds, Tag.SeriesInstanceUID) ?? '',
    sopInstanceUid: sop,
    instanceNumber: num(ds, Tag.InstanceNumber),
    imageType: strs(ds, Tag.ImageType).map((s) => s.toUpperCase()),
    rows: num(ds, Tag.Rows) ?? 0,
    columns: num(ds, Tag.Columns) ?? 0,
    numberOfFrames: Math.max(1, Math.round(num(ds, Tag.NumberOfFrames) ?? 1)),
    transferSyntaxUid: transferSyntaxOf(ds),
    concatenationUid: str(ds, Tag.ConcatenationUID),
    inConcatenationNumber: num(ds, Tag.InConcatenationNumber),
    concatenationFrameOffset: num(ds, Tag.ConcatenationFrameOffsetNumber) ?? 0,
    opticalPathIdentifiers: opticalPathIds(ds),
    dataset: ds,
  };
}

