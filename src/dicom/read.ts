// Reading DICOM Part 10 bytes with dicom-parser: lazy, no copy of the pixel data. Gives the
// identifying UIDs, the pixel description, each frame's bytes in the stored transfer syntax,
// and the attributes pipelines and writers need. A file that is not DICOM, or is cut short,
// raises DicomParseError with a reason a person can read; nothing half-parsed escapes.
// dicom-parser reads values lazily and throws strings when a corrupted length points past
// the end of the file, so every read through ParsedDicom turns those into DicomParseError
// too: a corrupt file fails its job for good, with its reason, instead of crashing a worker.
import dicomParser, { type DataSet } from 'dicom-parser';
import { SentinelError } from '../errors/errors';
import { Tag, parserKey, tagName } from './tags';
import type { StudyContext } from '../domain/findings';
import { studyContextFrom } from './study-context';

export class DicomParseError extends SentinelError {
  constructor(readonly reason: string) {
    super('bad_request', `not a readable DICOM file: ${reason}`, false);
    this.name = 'DicomParseError';
  }
}

/** dicom-parser's own words (thrown as strings, Errors, or { exception, dataSet }), without its function names. */
function libraryReason(err: unknown): string {
  const inner = typeof err === 'object' && err !== null && 'exception' in err ? (err as { exception: unknown }).exception : err;
  const raw = inner instanceof Error ? inner.message : String(inner);
  const reason = raw.replace(/^\w*[pP]arser[.:][\w.]*(: | - )/, '');
  return /buffer overrun|overread|past end of buffer/.test(reason) ? `an element's length runs past the end of the file (${reason})` : reason;
}

/** A read of the parsed file that may meet a corrupt value: only DicomParseError (or another SentinelError) leaves it. */
function guarded<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof SentinelError) throw err;
    throw new DicomParseError(`${what}: ${libraryReason(err)}`);
  }
}

export interface PixelDescription {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  photometricInterpretation: string;
  planarConfiguration: number;
}

const SUPPORTED_BITS_ALLOCATED = new Set([1, 8, 16]);

/**
 * A pixel description sizes every buffer a decoder allocates, so it is checked before any
 * is: values the decoders do not handle are 'unsupported', values that contradict each
 * other are a malformed file.
 */
export function checkPixelDescription(d: PixelDescription): PixelDescription {
  if (!(d.rows > 0 && d.columns > 0 && Number.isInteger(d.rows) && Number.isInteger(d.columns) && d.rows <= 0xffff && d.columns <= 0xffff)) {
    throw new DicomParseError(`Rows ${d.rows} x Columns ${d.columns} is not an image size`);
  }
  if (!SUPPORTED_BITS_ALLOCATED.has(d.bitsAllocated)) throw new SentinelError('unsupported', `Bits Allocated ${d.bitsAllocated} is not supported (1, 8 or 16)`);
  if (d.samplesPerPixel !== 1 && d.samplesPerPixel !== 3) throw new SentinelError('unsupported', `Samples per Pixel ${d.samplesPerPixel} is not supported (1 or 3)`);
  if (!(d.bitsStored >= 1 && d.bitsStored <= d.bitsAllocated)) throw new DicomParseError(`Bits Stored ${d.bitsStored} does not fit Bits Allocated ${d.bitsAllocated}`);
  if (d.bitsAllocated === 1 && d.samplesPerPixel !== 1) throw new DicomParseError(`1-bit pixels with ${d.samplesPerPixel} samples per pixel`);
  return d;
}



/** The binary-valued tags this reader takes numbers from, with their VR (PS3.6), for Implicit VR files. */
const IMPLICIT_BINARY_VR: Record<string, 'US' | 'UL' | 'SS'> = {
  [Tag.SamplesPerPixel]: 'US',
  [Tag.PlanarConfiguration]: 'US',
  [Tag.Rows]: 'US',
  [Tag.Columns]: 'US',
  [Tag.BitsAllocated]: 'US',
  [Tag.BitsStored]: 'US',
  [Tag.HighBit]: 'US',
  [Tag.PixelRepresentation]: 'US',
};

export interface ParsedDicom {
  dataSet: DataSet;
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  modality: string;
  numberOfFrames: number;
  hasPixelData: boolean;
  string(tag: string): string | undefined;
  number(tag: string, index?: number): number | undefined;
  pixelDescription(): PixelDescription;
  /** Each frame's bytes in the stored transfer syntax (no copy for native data). */
  frames(): Uint8Array[];
}

const ENCAPSULATED_EXCEPTIONS = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99']);

export function isEncapsulated(transferSyntaxUid: string): boolean {
  return !ENCAPSULATED_EXCEPTIONS.has(transferSyntaxUid);
}

export function parseDicom(bytes: Uint8Array): ParsedDicom {
  if (bytes.length < 132 || String.fromCharCode(...bytes.subarray(128, 132)) !== 'DICM') {
    throw new DicomParseError(bytes.length < 132 ? `only ${bytes.length} bytes` : 'no DICM preamble (not a Part 10 file)');
  }
  let dataSet: DataSet;
  try {
    // A Buffer lets dicom-parser inflate Deflated Explicit VR Little Endian with Node's zlib.
    dataSet = dicomParser.parseDicom(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new DicomParseError(libraryReason(err));
  }
  const str = (tag: string): string | undefined => guarded(`cannot read (${tagName(tag)})`, () => {
    const v = dataSet.string(parserKey(tag));
    return v === undefined || v === '' ? undefined : v;
  });
  const num = (tag: string, index = 0): number | undefined => guarded(`cannot read (${tagName(tag)})`, () => {
    const el = dataSet.elements[parserKey(tag)];
    if (!el) return undefined;
    // Implicit VR carries no VR: the tag's own VR decides (a two-character IS such as Number
    // of Frames "62" is text, not the 16-bit integer 12854).
    const vr = el.vr ?? IMPLICIT_BINARY_VR[tag];
    const key = parserKey(tag);
    if (vr === 'US') return dataSet.uint16(key, index);
    if (vr === 'UL') return dataSet.uint32(key, index);
    if (vr === 'SS') return dataSet.int16(key, index);
    const v = dataSet.floatString(key, index);
    return v === undefined || !Number.isFinite(v) ? undefined : v;
  });
  const required = (tag: string, name: string): string => {
    const v = str(tag);
    if (!v) throw new DicomParseError(`missing ${name}`);
    return v;
  };
  const transferSyntaxUid = str(Tag.TransferSyntaxUID) ?? '1.2.840.10008.1.2';
  const pixelElement = dataSet.elements[parserKey(Tag.PixelData)];
  const numberOfFrames = Math.max(1, Math.round(num(Tag.NumberOfFrames) ?? 1));

  const pixelDescription = (): PixelDescription => guarded('cannot read the pixel description', () => {
    const rows = dataSet.uint16(parserKey(Tag.Rows));
    const columns = dataSet.uint16(parserKey(Tag.Columns));
    if (!rows || !columns) throw new DicomParseError('missing Rows or Columns');
    const bitsAllocated = dataSet.uint16(parserKey(Tag.BitsAllocated)) ?? 16;
    return checkPixelDescription({
      rows,
      columns,
      samplesPerPixel: dataSet.uint16(parserKey(Tag.SamplesPerPixel)) ?? 1,
      bitsAllocated,
      bitsStored: dataSet.uint16(parserKey(Tag.BitsStored)) ?? bitsAllocated,
      highBit: dataSet.uint16(parserKey(Tag.HighBit)) ?? bitsAllocated - 1,
      pixelRepresentation: dataSet.uint16(parserKey(Tag.PixelRepresentation)) ?? 0,
      photometricInterpretation: str(Tag.PhotometricInterpretation) ?? 'MONOCHROME2',
      planarConfiguration: dataSet.uint16(parserKey(Tag.PlanarConfiguration)) ?? 0,
    });
  });

  const encapsulatedFrames = (): Uint8Array[] => {
    if (!pixelElement?.encapsulatedPixelData) throw new DicomParseError('transfer syntax is encapsulated but Pixel Data is not');
    const fragments = pixelElement.fragments ?? [];
    const bot = pixelElement.basicOffsetTable ?? [];
    // Every frame has a fragment of its own or an offset table entry: a corrupted Number of
    // Frames is refused here, by name, rather than by a loop over millions of frames.
    if (numberOfFrames > Math.max(fragments.length, bot.length)) {
      throw new DicomParseError(`Number of Frames is ${numberOfFrames} but the pixel data holds only ${fragments.length} fragments`);
    }
    try {
      if (numberOfFrames === 1) {
        return [dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixelElement, 0, fragments.length) as Uint8Array];
      }
      const offsets = bot.length
        ? bot
        : fragments.length === numberOfFrames
          ? fragments.map((f) => f.offset)
          : dicomParser.createJPEGBasicOffsetTable(dataSet, pixelElement);
      return Array.from({ length: numberOfFrames }, (_, i) =>
        dicomParser.readEncapsulatedImageFrame(dataSet, pixelElement, i, offsets, fragments) as Uint8Array);
    } catch (err) {
      throw new DicomParseError(`encapsulated pixel data unreadable: ${libraryReason(err)}`);
    }
  };

  const nativeFrames = (): Uint8Array[] => {
    if (!pixelElement) throw new DicomParseError('no Pixel Data');
    const bytesOf = dataSet.byteArray as Uint8Array;
    const d = pixelDescription();
    const frameBits = d.rows * d.columns * d.samplesPerPixel * d.bitsAllocated;
    const present = Math.max(0, Math.min(pixelElement.length, bytesOf.length - pixelElement.dataOffset));
    // Checked before any frame is cut out: a corrupted Number of Frames must not make
    // billions of views, and the message names the whole shortfall.
    const needed = Math.ceil((numberOfFrames * frameBits) / 8);
    if (needed > present) {
      throw new DicomParseError(`pixel data is truncated: ${numberOfFrames} frame(s) of ${d.rows} x ${d.columns} x ${d.samplesPerPixel} x ${d.bitsAllocated} bits need ${needed} bytes, ${present} present`);
    }
    return Array.from({ length: numberOfFrames }, (_, i) => {
      const startBit = i * frameBits;
      return bytesOf.subarray(pixelElement.dataOffset + Math.floor(startBit / 8), pixelElement.dataOffset + Math.ceil((startBit + frameBits) / 8));
    });
  };

  const frames = (): Uint8Array[] => guarded('cannot read the pixel data', () => {
    if (!pixelElement) throw new DicomParseError('no Pixel Data');
    if (!Number.isSafeInteger(numberOfFrames) || numberOfFrames > 0x7fffffff) throw new DicomParseError(`Number of Frames ${numberOfFrames} is not a frame count`);
    return isEncapsulated(transferSyntaxUid) ? encapsulatedFrames() : nativeFrames();
  });

  return {
    dataSet,
    transferSyntaxUid,
    sopClassUid: required(Tag.SOPClassUID, 'SOP Class UID'),
    sopInstanceUid: required(Tag.SOPInstanceUID, 'SOP Instance UID'),
    studyInstanceUid: required(Tag.StudyInstanceUID, 'Study Instance UID'),
    seriesInstanceUid: required(Tag.SeriesInstanceUID, 'Series Instance UID'),
    modality: str(Tag.Modality) ?? '',
    numberOfFrames,
    hasPixelData: pixelElement !== undefined,
    string: str,
    number: num,
    pixelDescription,
    frames,
  };
}

export interface ImageAttributes {
  laterality?: 'L' | 'R';
  view?: string;
  pixelSpacingMm?: [number, number];
  rescaleSlope: number;
  rescaleIntercept: number;
  windowCenter?: number;
  windowWidth?: number;
  voiLutFunction?: string;
  presentationIntentType?: string;
}

const VIEW_MEANINGS: Array<[RegExp, string]> = [
  [/medio-?lateral oblique/i, 'MLO'],
  [/cranio-?caudal/i, 'CC'],
  [/medio-?lateral/i, 'ML'],
  [/latero-?medial/i, 'LM'],
];

export function readImageAttributes(p: ParsedDicom): ImageAttributes {
  const lat = (p.string(Tag.ImageLaterality) ?? p.string(Tag.Laterality))?.toUpperCase();
  let view = p.string(Tag.ViewPosition);
  const viewItem = p.dataSet.elements[parserKey(Tag.ViewCodeSequence)]?.items?.[0]?.dataSet;
  if (!view && viewItem) {
    const meaning = guarded('cannot read the View Code Sequence', () => viewItem.string(parserKey(Tag.CodeMeaning))) ?? '';
    view = VIEW_MEANINGS.find(([re]) => re.test(meaning))?.[1] ?? (meaning || undefined);
  }
  const spacing = (tag: string): [number, number] | undefined => {
    const r = p.number(tag, 0);
    const c = p.number(tag, 1);
    return r && c && r > 0 && c > 0 ? [r, c] : undefined;
  };
  return {
    laterality: lat === 'L' || lat === 'R' ? lat : undefined,
    view,
    pixelSpacingMm: spacing(Tag.PixelSpacing) ?? spacing(Tag.ImagerPixelSpacing),
    rescaleSlope: p.number(Tag.RescaleSlope) ?? 1,
    rescaleIntercept: p.number(Tag.RescaleIntercept) ?? 0,
    windowCenter: p.number(Tag.WindowCenter),
    windowWidth: p.number(Tag.WindowWidth),
    voiLutFunction: p.string(Tag.VOILUTFunction),
    presentationIntentType: p.string(Tag.PresentationIntentType),
  };
}

export function readStudyContext(p: ParsedDicom): StudyContext {
  return studyContextFrom(p.string, p.studyInstanceUid);
}
