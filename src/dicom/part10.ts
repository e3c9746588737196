// The one reader of a Part 10 file's header (everything before Pixel Data), in memory or on
// disk, never loading the pixels: dicom-parser finds where Pixel Data begins and how long it
// says it is, dcmjs decodes everything before it. What it gives: the file meta and the
// dataset as DICOM JSON, a naturalized dataset for the writers to copy from, and the Pixel
// Data element's place, which STOW-RS intake checks against the file's size (a truncated
// upload) and `dicomize` copies from byte for byte.
import fs from 'node:fs/promises';
import dcmjs from 'dcmjs';
import dicomParser from 'dicom-parser';
import { SentinelError } from '../errors/errors';
import type { DicomJson } from './json';
import { Tag, parserKey } from './tags';
import { TransferSyntax } from './uid';
import type { NaturalizedDataset } from './write';

export interface Part10Header {
  /** File meta information (group 0002) as DICOM JSON. */
  meta: DicomJson;
  /** The dataset before Pixel Data, as DICOM JSON (upper-case tags). */
  dataset: DicomJson;
  /** Pixel Data: where its element starts, where its value starts, its declared length (undefined: encapsulated). */
  pixelData?: { elementOffset: number; valueOffset: number; length?: number };
}

/** The header's bytes ended before the header did: read more of the file. */
class HeaderCut extends SentinelError {
  constructor(message: string) {
    super('bad_request', message);
    this.name = 'HeaderCut';
  }
}

function notDicom(message: string, cause?: unknown): SentinelError {
  return new SentinelError('bad_request', `not a readable DICOM file: ${message}`, false, { cause });
}

function reasonOf(err: unknown): string {
  const text = typeof err === 'string' ? err : err instanceof Error ? err.message : String(err);
  return text.replace(/^dicomParser\.\w+: /, '');
}

const upper = (json: DicomJson): DicomJson => Object.fromEntries(Object.entries(json).map(([t, el]) => [t.toUpperCase(), el]));

/**
 * The header of the Part 10 bytes given (the whole file). Throws a bad_request SentinelError
 * saying why when they are not a readable DICOM file.
 */
export function parsePart10Header(bytes: Uint8Array): Part10Header {
  try {
    return parseHeader(bytes);
  } catch (err) {
    throw err instanceof HeaderCut ? notDicom(err.message, err) : err;
  }
}

/** As parsePart10Header, but a header running past the bytes given is a HeaderCut (read more). */
function parseHeader(bytes: Uint8Array): Part10Header {
  if (bytes.length < 132 || String.fromCharCode(...bytes.subarray(128, 132)) !== 'DICM') {
    throw notDicom(bytes.length < 132 ? `only ${bytes.length} bytes` : 'no DICM preamble (not a Part 10 file)');
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let el: dicomParser.Element | undefined;
  let deflated = false;
  try {
    const parsed = dicomParser.parseDicom(buffer, { untilTag: parserKey(Tag.PixelData) });
    el = parsed.elements[parserKey(Tag.PixelData)];
    deflated = parsed.string(parserKey(Tag.TransferSyntaxUID)) === TransferSyntax.DeflatedExplicitVRLittleEndian;
  } catch (err) {
    throw new HeaderCut(reasonOf(err));
  }
  // In a deflated file the offsets are in the inflated stream: dcmjs reads the whole buffer.
  let pixelData: Part10Header['pixelData'];
  let end = bytes.length;
  if (el && !deflated) {
    // Explicit VR OB/OW: tag (4), VR (2), reserved (2), length (4) before the value; Implicit VR: tag (4), length (4).
    const explicit = el.dataOffset >= 12 && buffer.toString('latin1', el.dataOffset - 8, el.dataOffset - 6).match(/^O[BW]$/) !== null;
    const elementOffset = el.dataOffset - (explicit ? 12 : 8);
    if (elementOffset < 132 || buffer.readUInt16LE(elementOffset) !== 0x7fe0 || buffer.readUInt16LE(elementOffset + 2) !== 0x0010) {
      throw notDicom('the Pixel Data element is not where its value says');
    }
    pixelData = { elementOffset, valueOffset: el.dataOffset, ...(el.length !== 0xffffffff && !el.hadUndefinedLength ? { length: el.length } : {}) };
    end = elementOffset;
  }
  const prefix = bytes.subarray(0, end);
  let file: ReturnType<typeof dcmjs.data.DicomMessage.readFile>;
  try {
    file = dcmjs.data.DicomMessage.readFile(prefix.buffer.slice(prefix.byteOffset, prefix.byteOffset + prefix.byteLength) as ArrayBuffer, { untilTag: '7FE00010', includeUntilTagValue: false });
  } catch (err) {
    // dcmjs throws plain Errors (RangeErrors too) when a length runs past the end: a corrupt
    // file, to be refused for good like any other.
    throw notDicom(err instanceof Error ? err.message : String(err), err);
  }
  const dataset = upper(file.dict as DicomJson);
  delete dataset[Tag.PixelData];
  return { meta: upper(file.meta as DicomJson), dataset, ...(pixelData ? { pixelData } : {}) };
}

/** The header as one DICOM JSON dataset, with the file meta Transfer Syntax UID (0002,0010) in it, as describeSlide reads it. */
export function part10ToDicomJson(bytes: Uint8Array): DicomJson {
  const { meta, dataset } = parsePart10Header(bytes);
  const ts = meta[Tag.TransferSyntaxUID];
  return ts ? { [Tag.TransferSyntaxUID]: ts, ...dataset } : dataset;
}

/** The header as a naturalized dataset (dcmjs keywords), without its pixel data or file meta: what a writer copies from. */
export function readNaturalizedHeader(bytes: Uint8Array): NaturalizedDataset {
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsePart10Header(bytes).dataset);
}

export function naturalize(json: DicomJson): NaturalizedDataset {
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(json);
}

/** Headers larger than the first read are read again with more, up to this. */
const FIRST_READ = 1024 * 1024;
const LARGEST_HEADER = 64 * 1024 * 1024;

/** The header of a Part 10 file on disk, reading only as much of it as the header takes. */
export async function readPart10HeaderFile(file: string): Promise<Part10Header & { size: number }> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    for (let length = Math.min(size, FIRST_READ); ; length = Math.min(size, length * 8, LARGEST_HEADER)) {
      const bytes = Buffer.alloc(length);
      await handle.read(bytes, 0, length, 0);
      try {
        return { ...parseHeader(bytes), size };
      } catch (err) {
        // A header cut by the read parses as an overrun: read more, up to a bound.
        if (err instanceof HeaderCut && length < size && length < LARGEST_HEADER) continue;
        if (err instanceof HeaderCut) throw notDicom(err.message, err);
        throw err;
      }
    }
  } finally {
    await handle.close();
  }
}
