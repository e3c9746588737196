// The identifying header of a Part 10 file on disk, read without loading its pixel data: what
// STOW-RS intake needs to accept or refuse a part of any size. Parsing stops at Pixel Data;
// a Pixel Data element whose declared length runs past the end of the file is a truncated
// instance and is refused, as reading it whole would be.
import fs from 'node:fs/promises';
import dicomParser from 'dicom-parser';
import { Tag, parserKey } from './tags';
import { SentinelError } from '../errors/errors';

export interface DicomHeader {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  modality?: string;
}

/** Headers larger than the first read are read again with this much. */
const FIRST_READ = 1024 * 1024;
const LARGEST_HEADER = 64 * 1024 * 1024;

class Truncated extends SentinelError {
  constructor(message: string) {
    super('bad_request', message);
    this.name = 'Truncated';
  }
}

function parse(bytes: Buffer, fileSize: number): DicomHeader {
  if (bytes.length < 132 || bytes.subarray(128, 132).toString('latin1') !== 'DICM') {
    throw new SentinelError('bad_request', bytes.length < 132 ? `only ${bytes.length} bytes` : 'no DICM preamble (not a Part 10 file)');
  }
  const dataSet = dicomParser.parseDicom(bytes, { untilTag: parserKey(Tag.PixelData) });
  const pixels = dataSet.elements[parserKey(Tag.PixelData)];
  if (pixels && pixels.length !== undefined && pixels.length !== 0xffffffff && pixels.dataOffset + pixels.length > fileSize) {
    throw new Truncated(`pixel data is truncated: ${pixels.length} bytes declared, ${Math.max(0, fileSize - pixels.dataOffset)} present`);
  }
  const str = (tag: string): string | undefined => dataSet.string(parserKey(tag)) || undefined;
  return { sopClassUid: str(Tag.SOPClassUID), sopInstanceUid: str(Tag.SOPInstanceUID), studyInstanceUid: str(Tag.StudyInstanceUID), modality: str(Tag.Modality) };
}

function reasonOf(err: unknown): string {
  const text = typeof err === 'string' ? err : err instanceof Error ? err.message : String(err);
  return text.replace(/^dicomParser\.\w+: /, '');
}

/** The header, or a reason a person can read why the file is not a readable DICOM instance. */
export async function readDicomHeader(file: string): Promise<{ header: DicomHeader } | { reason: string }> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    let length = Math.min(size, FIRST_READ);
    for (;;) {
      const bytes = Buffer.alloc(length);
      await handle.read(bytes, 0, length, 0);
      try {
        return { header: parse(bytes, size) };
      } catch (err) {
        // A header cut by the first read parses as an overrun: read more, up to a bound.
        if (!(err instanceof Truncated) && length < size && length < LARGEST_HEADER) {
          length = Math.min(size, length * 8, LARGEST_HEADER);
          continue;
        }
        return { reason: `not a readable DICOM file: ${reasonOf(err)}` };
      }
    }
  } finally {
    await handle.close();
  }
}
