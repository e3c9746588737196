// The one way Sentinel writes DICOM bytes: a naturalized dataset (dcmjs keywords) to a
// Part 10 file in Explicit VR Little Endian with Sentinel's own file meta information.
import dcmjs, { type NaturalizedDataset } from 'dcmjs';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, TransferSyntax } from './uid';

export type { NaturalizedDataset };

/** Sentinel's file meta information (group 0002) for an instance in a transfer syntax, denaturalized. */
export function fileMeta(sopClassUid: unknown, sopInstanceUid: unknown, transferSyntaxUid: string): Record<string, unknown> {
  return dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUid,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: transferSyntaxUid,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  });
}

export function writePart10(dataset: NaturalizedDataset): Buffer {
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dict = new DicomDict(fileMeta(dataset.SOPClassUID, dataset.SOPInstanceUID, TransferSyntax.ExplicitVRLittleEndian));
  const body = { ...dataset };
  delete body._meta;
  dict.dict = DicomMetaDictionary.denaturalizeDataset(body);
  return Buffer.from(dict.write());
}
