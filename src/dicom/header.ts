// The identifying header of a Part 10 file on disk, read without loading its pixel data (by
// the one header reader, part10.ts): what STOW-RS intake needs to accept or refuse a part of
// any size. A Pixel Data element whose declared length runs past the end of the file is a
// truncated instance and is refused, as reading it whole would be.
import { SentinelError } from '../errors/errors';
import { str } from './json';
import { readPart10HeaderFile } from './part10';
import { Tag } from './tags';

export interface DicomHeader {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  modality?: string;
}

/** The header, or a reason a person can read why the file is not a readable DICOM instance. */
export async function readDicomHeader(file: string): Promise<{ header: DicomHeader } | { reason: string }> {
  try {
    const { dataset, pixelData, size } = await readPart10HeaderFile(file);
    if (pixelData?.length !== undefined && pixelData.valueOffset + pixelData.length > size) {
      return { reason: `not a readable DICOM file: pixel data is truncated: ${pixelData.length} bytes declared, ${Math.max(0, size - pixelData.valueOffset)} present` };
    }
    return {
      header: {
        sopClassUid: str(dataset, Tag.SOPClassUID),
        sopInstanceUid: str(dataset, Tag.SOPInstanceUID),
        studyInstanceUid: str(dataset, Tag.StudyInstanceUID),
        modality: str(dataset, Tag.Modality),
      },
    };
  } catch (err) {
    if (err instanceof SentinelError) return { reason: err.message };
    throw err;
  }
}
