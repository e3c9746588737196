// One frame's bytes, in its stored transfer syntax, to samples in memory: typed arrays,
// samples interleaved, colour as RGB whatever the stored photometric interpretation.
// Frames come from files Sentinel does not control: whatever a codec makes of a corrupt one
// (a thrown string, a wasm trap, a size its header invents) leaves as a PixelDecodeError.
import { SentinelError } from '../../errors/errors';
import { type PixelDescription, checkPixelDescription } from '../read';
import { type FrameSize, decodeJpeg2000, decodeJpegBaseline, decodeJpegLossless, decodeJpegLs, decodeRle } from './codecs';

export class UnsupportedTransferSyntaxError extends SentinelError {
  constructor(readonly transferSyntaxUid: string) {
    super('unsupported', `transfer syntax ${transferSyntaxUid} is not supported`, false);
    this.name = 'UnsupportedTransferSyntaxError';
  }
}

export class PixelDecodeError extends SentinelError {
  constructor(message: string) {
    super('bad_request', message, false);
    this.name = 'PixelDecodeError';
  }
}

export interface DecodedFrame {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  photometricInterpretation: string;
  data: Uint8Array | Uint16Array | Int16Array;
}

export const TS = {
  ImplicitLittle: '1.2.840.10008.1.2',
  ExplicitLittle: '1.2.840.10008.1.2.1',
  Deflated: '1.2.840.10008.1.2.1.99',
  ExplicitBig: '1.2.840.10008.1.2.2',
  JpegBaseline: '1.2.840.10008.1.2.4.50',
  JpegExtended: '1.2.840.10008.1.2.4.51',
  JpegLossless: '1.2.840.10008.1.2.4.57',
  JpegLosslessSV1: '1.2.840.10008.1.2.4.70',
  JpegLsLossless: '1.2.840.10008.1.2.4.80',
  JpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  Jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  Jpeg2000: '1.2.840.10008.1.2.4.91',
  HtJ2kLossless: '1.2.840.10008.1.2.4.201',
  HtJ2kLosslessRpcl: '1.2.840.10008.1.2.4.202',
  HtJ2k: '1.2.840.10008.1.2.4.203',
  Rle: '1.2.840.10008.1.2.5',
} as const;

function typed(bytes: Uint8Array, bitsAllocated: number, signed: boolean, bigEndian = false): Uint8Array | Uint16Array | Int16Array {
  if (bitsAllocated <= 8) return bytes;
  const n = Math.floor(bytes.length / 2);
  // Little-endian samples at an even offset are read where they are, as 8-bit samples always
  // are: a full-field mammogram is 27 MB not copied (12 ms). Only a frame at an odd offset
  // inside its file, or big-endian, is copied into an aligned buffer.
  if (!bigEndian && bytes.byteOffset % 2 === 0) return signed ? new Int16Array(bytes.buffer, bytes.byteOffset, n) : new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const aligned = new Uint8Array(n * 2);
  if (bigEndian) {
    for (let i = 0; i < n; i++) {
      aligned[2 * i] = bytes[2 * i + 1] as number;
      aligned[2 * i + 1] = bytes[2 * i] as number;
    }
  } else {
    aligned.set(bytes.subarray(0, n * 2));
  }
  return signed ? new Int16Array(aligned.buffer) : new Uint16Array(aligned.buffer);
}

/** YBR_FULL (and the 422 variant once upsampled) to RGB, PS3.3 C.7.6.3.1.2. */
function ybrFullToRgb(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let i = 0; i < data.length; i += 3) {
    const y = data[i] as number;
    const cb = (data[i + 1] as number) - 128;
    const cr = (data[i + 2] as number) - 128;
    out[i] = clamp(y + 1.402 * cr);
    out[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    out[i + 2] = clamp(y + 1.772 * cb);
  }
  return out;
}

function planarToInterleaved(data: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < pixels; i++) {
    out[3 * i] = data[i] as number;
    out[3 * i + 1] = data[pixels + i] as number;
    out[3 * i + 2] = data[2 * pixels + i] as number;
  }
  return out;
}

/** Unpack 1-bit data (SEG BINARY) to one byte a pixel, LSB first (PS3.5 8.1.1). */
function unpackBits(bytes: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = ((bytes[i >> 3] as number) >> (i & 7)) & 1;
  return out;
}

/**
 * One frame's samples. `into`, when given, may receive a JPEG, JPEG-LS or JPEG 2000 frame's
 * samples (when it is their size), so that a caller decoding many frames reuses its buffers.
 */
export async function decodeFrame(bytes: Uint8Array, transferSyntaxUid: string, desc: PixelDescription, into?: Uint8Array): Promise<DecodedFrame> {
  checkPixelDescription(desc);
  // A compressed frame's own header must agree with the DICOM header before the codec
  // allocates for it: a corrupt one could otherwise claim 65535 x 65535 pixels.
  const expected: FrameSize = { width: desc.columns, height: desc.rows, components: desc.samplesPerPixel };
  const signed = desc.pixelRepresentation === 1;
  const pixels = desc.rows * desc.columns;
  let photometric = desc.photometricInterpretation;
  let samples: Uint8Array | Uint16Array | Int16Array;
  let planar = desc.planarConfiguration === 1 && desc.samplesPerPixel > 1;
  try {
    switch (transferSyntaxUid) {
      case TS.ImplicitLittle:
      case TS.ExplicitLittle:
      case TS.Deflated:
      case TS.ExplicitBig: {
        if (desc.bitsAllocated === 1) {
          if (bytes.length < Math.ceil(pixels / 8)) throw new PixelDecodeError(`pixel data is truncated: frame has ${bytes.length} bytes, ${Math.ceil(pixels / 8)} expected`);
          samples = unpackBits(bytes, pixels);
          break;
        }
        const length = pixels * desc.samplesPerPixel * (desc.bitsAllocated / 8);
        if (bytes.length < length) throw new PixelDecodeError(`pixel data is truncated: frame has ${bytes.length} bytes, ${length} expected`);
        samples = typed(bytes.subarray(0, length), desc.bitsAllocated, signed, transferSyntaxUid === TS.ExplicitBig);
        break;
      }
      case TS.Rle:
        samples = typed(decodeRle(bytes, desc.rows, desc.columns, desc.samplesPerPixel, desc.bitsAllocated), desc.bitsAllocated, signed);
        planar = false;
        break;
      case TS.JpegBaseline:
      case TS.JpegExtended: {
        if (desc.bitsStored > 8) throw new UnsupportedTransferSyntaxError(`${transferSyntaxUid} (12-bit JPEG Extended)`);
        const out = await decodeJpegBaseline(bytes, expected, into);
        samples = out.bytes;
        planar = false;
        // libjpeg converts YCbCr to RGB itself.
        if (photometric.startsWith('YBR')) photometric = 'RGB';
        break;
      }
      case TS.JpegLossless:
      case TS.JpegLosslessSV1:
        samples = typed(decodeJpegLossless(bytes, desc.bitsAllocated, expected), desc.bitsAllocated, signed);
        planar = false;
        break;
      case TS.JpegLsLossless:
      case TS.JpegLsNearLossless: {
        const out = await decodeJpegLs(bytes, expected, into);
        samples = typed(out.bytes, desc.bitsAllocated, signed);
        planar = false;
        break;
      }
      case TS.Jpeg2000Lossless:
      case TS.Jpeg2000:
      case TS.HtJ2kLossless:
      case TS.HtJ2kLosslessRpcl:
      case TS.HtJ2k: {
        const out = await decodeJpeg2000(bytes, expected, into);
        samples = typed(out.bytes, desc.bitsAllocated, signed);
        planar = false;
        // OpenJPEG undoes the ICT/RCT component transform.
        if (photometric === 'YBR_ICT' || photometric === 'YBR_RCT') photometric = 'RGB';
        break;
      }
      default:
        throw new UnsupportedTransferSyntaxError(transferSyntaxUid);
    }
  } catch (err) {
    if (err instanceof SentinelError) throw err;
    throw new PixelDecodeError(`cannot decode ${transferSyntaxUid} frame: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (samples.length < pixels * desc.samplesPerPixel) {
    throw new PixelDecodeError(`decoded ${samples.length} samples, ${pixels * desc.samplesPerPixel} expected`);
  }
  if (desc.samplesPerPixel === 3 && samples instanceof Uint8Array) {
    if (planar) samples = planarToInterleaved(samples, pixels);
    if (photometric === 'YBR_FULL' || photometric === 'YBR_FULL_422') {
      samples = ybrFullToRgb(samples);
      photometric = 'RGB';
    }
  }
  return {
    rows: desc.rows,
    columns: desc.columns,
    samplesPerPixel: desc.samplesPerPixel,
    bitsAllocated: desc.bitsAllocated === 1 ? 8 : desc.bitsAllocated,
    bitsStored: desc.bitsAllocated === 1 ? 1 : desc.bitsStored,
    signed,
    photometricInterpretation: photometric,
    data: samples,
  };
}
