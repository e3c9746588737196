// One file the tool wrote: its header read without its pixel data (a level may be
// gigabytes), and written again corrected, with the Pixel Data element and whatever follows it
// copied byte for byte.
import fs from 'node:fs';
import dcmjs, { type NaturalizedDataset } from 'dcmjs';
import { naturalize, readPart10HeaderFile } from '../../dicom/part10';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../../dicom/uid';
import { dicomizeError } from './options';

export interface ToolFile {
  file: string;
  size: number;
  ds: NaturalizedDataset;
  meta: Record<string, unknown>;
  /** Where the Pixel Data element starts: everything from here on is copied as it is. */
  pixelDataOffset: number;
}

/** The header of one of the tool's files, read without loading its pixel data (a level may be gigabytes). */
export async function readToolFile(file: string): Promise<ToolFile> {
  let header;
  try {
    header = await readPart10HeaderFile(file);
  } catch (err) {
    throw dicomizeError(`${file} is not readable DICOM`, err);
  }
  if (!header.pixelData) throw dicomizeError(`${file} has no Pixel Data`);
  return { file, size: header.size, ds: naturalize(header.dataset), meta: header.meta, pixelDataOffset: header.pixelData.elementOffset };
}

/** The corrected header, then the tool's Pixel Data element and whatever follows it, byte for byte. */
export function writeFixed(t: ToolFile, out: string): void {
  const meta = { ...t.meta } as Record<string, { vr: string; Value: unknown[] }>;
  meta['00020012'] = { vr: 'UI', Value: [IMPLEMENTATION_CLASS_UID] };
  meta['00020013'] = { vr: 'SH', Value: [IMPLEMENTATION_VERSION_NAME] };
  delete meta['00020000'];
  const dict = new dcmjs.data.DicomDict(meta);
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(t.ds);
  const header = Buffer.from(dict.write());
  const src = fs.openSync(t.file, 'r');
  const dst = fs.openSync(out, 'w');
  try {
    fs.writeSync(dst, header);
    const chunk = Buffer.alloc(8 << 20);
    for (let pos = t.pixelDataOffset; pos < t.size;) {
      const n = fs.readSync(src, chunk, 0, Math.min(chunk.length, t.size - pos), pos);
      if (n <= 0) throw dicomizeError(`${t.file} ended early`);
      fs.writeSync(dst, chunk, 0, n);
      pos += n;
    }
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
  }
}
