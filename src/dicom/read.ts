// Reading DICOM Part 10 bytes with dicom-parser: lazy, no copy of the pixel data. Gives the
// identifying UIDs, the pixel description, each frame's bytes in the stored transfer syntax,
// and the attributes pipelines and writers need. A file that is not DICOM, or is cut short,
// raises DicomParseError with a reason a person can read; nothing half-parsed escapes.
import dicomParser, { type DataSet } from 'dicom-parser';
import type { StudyContext } from '../pipelines/findings';

export class DicomParseError extends Error {
  readonly retryable = false;
  constructor(readonly reason: string) {
    super(`not a readable DICOM file: ${reason}`);
    this.name = 'DicomParseError';
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

export const Tag = {
  TransferSyntaxUID: 'x00020010',
  SOPClassUID: 'x00080016',
  SOPInstanceUID: 'x00080018',
  StudyDate: 'x00080020',
  StudyTime: 'x00080030',
  AccessionNumber: 'x00080050',
  Modality: 'x00080060',
  ReferringPhysicianName: 'x00080090',
  StudyDescription: 'x00081030',
  PatientName: 'x00100010',
  PatientID: 'x00100020',
  PatientBirthDate: 'x00100030',
  PatientSex: 'x00100040',
  ViewPosition: 'x00185101',
  StudyInstanceUID: 'x0020000d',
  SeriesInstanceUID: 'x0020000e',
  StudyID: 'x00200010',
  Laterality: 'x00200060',
  ImageLaterality: 'x00200062',
  FrameOfReferenceUID: 'x00200052',
  SamplesPerPixel: 'x00280002',
  PhotometricInterpretation: 'x00280004',
  PlanarConfiguration: 'x00280006',
  NumberOfFrames: 'x00280008',
  Rows: 'x00280010',
  Columns: 'x00280011',
  PixelSpacing: 'x00280030',
  ImagerPixelSpacing: 'x00181164',
  BitsAllocated: 'x00280100',
  BitsStored: 'x00280101',
  HighBit: 'x00280102',
  PixelRepresentation: 'x00280103',
  WindowCenter: 'x00281050',
  WindowWidth: 'x00281051',
  RescaleIntercept: 'x00281052',
  RescaleSlope: 'x00281053',
  VOILUTFunction: 'x00281056',
  PresentationIntentType: 'x00088010',
  ViewCodeSequence: 'x00540220',
  CodeMeaning: 'x00080104',
  CodeValue: 'x00080100',
  PixelData: 'x7fe00010',
} as const;

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
    const reason = typeof err === 'string' ? err : err instanceof Error ? err.message : String((err as { exception?: string })?.exception ?? err);
    throw new DicomParseError(reason.replace(/^dicomParser\.\w+: /, ''));
  }
  const str = (tag: string): string | undefined => {
    const v = dataSet.string(tag);
    return v === undefined || v === '' ? undefined : v;
  };
  const num = (tag: string, index = 0): number | undefined => {
    const el = dataSet.elements[tag];
    if (!el) return undefined;
    if (el.vr === 'US' || (el.vr === undefined && el.length === 2)) return dataSet.uint16(tag, index);
    if (el.vr === 'UL') return dataSet.uint32(tag, index);
    if (el.vr === 'SS') return dataSet.int16(tag, index);
    const v = dataSet.floatString(tag, index);
    return v === undefined || Number.isNaN(v) ? undefined : v;
  };
  const required = (tag: string, name: string): string => {
    const v = str(tag);
    if (!v) throw new DicomParseError(`missing ${name}`);
    return v;
  };
  const transferSyntaxUid = str(Tag.TransferSyntaxUID) ?? '1.2.840.10008.1.2';
  const pixelElement = dataSet.elements[Tag.PixelData];
  const numberOfFrames = Math.max(1, Math.round(num(Tag.NumberOfFrames) ?? 1));

  const pixelDescription = (): PixelDescription => {
    const rows = dataSet.uint16(Tag.Rows);
    const columns = dataSet.uint16(Tag.Columns);
    if (!rows || !columns) throw new DicomParseError('missing Rows or Columns');
    const bitsAllocated = dataSet.uint16(Tag.BitsAllocated) ?? 16;
    return {
      rows,
      columns,
      samplesPerPixel: dataSet.uint16(Tag.SamplesPerPixel) ?? 1,
      bitsAllocated,
      bitsStored: dataSet.uint16(Tag.BitsStored) ?? bitsAllocated,
      highBit: dataSet.uint16(Tag.HighBit) ?? bitsAllocated - 1,
      pixelRepresentation: dataSet.uint16(Tag.PixelRepresentation) ?? 0,
      photometricInterpretation: str(Tag.PhotometricInterpretation) ?? 'MONOCHROME2',
      planarConfiguration: dataSet.uint16(Tag.PlanarConfiguration) ?? 0,
    };
  };

  const frames = (): Uint8Array[] => {
    if (!pixelElement) throw new DicomParseError('no Pixel Data');
    const bytesOf = dataSet.byteArray as Uint8Array;
    if (isEncapsulated(transferSyntaxUid)) {
      if (!pixelElement.encapsulatedPixelData) throw new DicomParseError('transfer syntax is encapsulated but Pixel Data is not');
      const fragments = pixelElement.fragments ?? [];
      try {
        if (numberOfFrames === 1) {
          return [dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixelElement, 0, fragments.length) as Uint8Array];
        }
        const bot = pixelElement.basicOffsetTable?.length
          ? pixelElement.basicOffsetTable
          : fragments.length === numberOfFrames
            ? fragments.map((f) => f.offset)
            : dicomParser.createJPEGBasicOffsetTable(dataSet, pixelElement);
        return Array.from({ length: numberOfFrames }, (_, i) =>
          dicomParser.readEncapsulatedImageFrame(dataSet, pixelElement, i, bot, fragments) as Uint8Array);
      } catch (err) {
        throw new DicomParseError(`encapsulated pixel data unreadable: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const d = pixelDescription();
    const frameBits = d.rows * d.columns * d.samplesPerPixel * d.bitsAllocated;
    const out: Uint8Array[] = [];
    for (let i = 0; i < numberOfFrames; i++) {
      const startBit = i * frameBits;
      const start = pixelElement.dataOffset + Math.floor(startBit / 8);
      const end = pixelElement.dataOffset + Math.ceil((startBit + frameBits) / 8);
      if (end > pixelElement.dataOffset + pixelElement.length || end > bytesOf.length) {
        throw new DicomParseError(`pixel data is truncated: frame ${i + 1} of ${numberOfFrames} needs ${end - pixelElement.dataOffset} bytes, ${Math.min(pixelElement.length, bytesOf.length - pixelElement.dataOffset)} present`);
      }
      out.push(bytesOf.subarray(start, end));
    }
    return out;
  };

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
  const viewItem = p.dataSet.elements[Tag.ViewCodeSequence]?.items?.[0]?.dataSet;
  if (!view && viewItem) {
    const meaning = viewItem.string(Tag.CodeMeaning) ?? '';
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
  return {
    studyInstanceUid: p.studyInstanceUid,
    accessionNumber: p.string(Tag.AccessionNumber),
    studyId: p.string(Tag.StudyID),
    studyDate: p.string(Tag.StudyDate),
    studyTime: p.string(Tag.StudyTime),
    studyDescription: p.string(Tag.StudyDescription),
    referringPhysicianName: p.string(Tag.ReferringPhysicianName),
    patientId: p.string(Tag.PatientID),
    patientName: p.string(Tag.PatientName),
    patientBirthDate: p.string(Tag.PatientBirthDate),
    patientSex: p.string(Tag.PatientSex),
  };
}
