// The one way Sentinel writes DICOM bytes: a naturalized dataset (dcmjs keywords) to a
// Part 10 file in Explicit VR Little Endian with Sentinel's own file meta information.
import dcmjs, { type NaturalizedDataset } from 'dcmjs';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, TransferSyntax } from './uid';

export type { NaturalizedDataset };

export function writePart10(dataset: NaturalizedDataset): Buffer {
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const version = new Uint8Array([0, 1]);
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: version.buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: TransferSyntax.ExplicitVRLittleEndian,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  });
  const dict = new DicomDict(meta);
  const body = { ...dataset };
  delete body._meta;
  dict.dict = DicomMetaDictionary.denaturalizeDataset(body);
  return Buffer.from(dict.write());
}
