// The compressed transfer syntaxes, each decoded by a library of the field (libjpeg-turbo: the
// system's where installed, see turbojpeg.ts, else its cornerstone wasm build; the cornerstone
// wasm builds of CharLS and OpenJPEG; jpeg-lossless-decoder-js for JPEG Lossless), loaded once
// on first use. RLE (PS3.5 Annex G) is small enough to be written here. Every decoder checks
// the frame's own size against the DICOM header before it allocates (see frame-header.ts).
import { Decoder as JpegLosslessDecoder } from 'jpeg-lossless-decoder-js';
import { type FrameSize, checkFrameSize, j2kFrameSize, jpegFrameSize } from './frame-header';
import { SentinelError } from '../../errors/errors';
import { decodeJpegNative } from './turbojpeg';

export type { FrameSize };

export interface CodecOutput {
  width: number;
  height: number;
  components: number;
  bitsPerSample: number;
  signed: boolean;
  /** Samples interleaved, little-endian 16-bit when bitsPerSample > 8. */
  bytes: Uint8Array;
}

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean };
  delete(): void;
}

type DecoderCtor = new () => WasmDecoder;

interface WasmCodec {
  name: string;
  get(): Promise<DecoderCtor>;
  /** Drops the instance: the next frame gets a fresh one. */
  reset(): void;
}

function lazyWasm(load: () => Promise<Record<string, unknown>>, exportName: string, name: string): WasmCodec {
  let module: Promise<DecoderCtor> | undefined;
  return {
    name,
    get: () => (module ??= load().then((m) => m[exportName] as DecoderCtor)),
    reset: () => {
      module = undefined;
    },
  };
}

type WasmFactory = (module: { print: (text: string) => void; printErr: (text: string) => void }) => Promise<Record<string, unknown>>;
/** The Emscripten builds print OpenJPEG's progress chatter to stdout, which would break the
 * service's JSON log lines: it goes nowhere; decoding errors still surface as exceptions.
 * A fresh object for each build: Emscripten turns the object it is given into the module. */
const quiet = (): { print: () => void; printErr: () => void } => ({ print: () => undefined, printErr: () => undefined });

/* eslint-disable @typescript-eslint/no-require-imports */
const openjpeg = lazyWasm(() => (require('@cornerstonejs/codec-openjpeg/wasmjs') as WasmFactory)(quiet()), 'J2KDecoder', 'JPEG 2000');
const charls = lazyWasm(() => (require('@cornerstonejs/codec-charls/wasmjs') as WasmFactory)(quiet()), 'JpegLSDecoder', 'JPEG-LS');
const libjpeg = lazyWasm(() => (require('@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs') as WasmFactory)(quiet()), 'JPEGDecoder', 'JPEG');
/* eslint-enable @typescript-eslint/no-require-imports */

const sizeOf = (info: ReturnType<WasmDecoder['getFrameInfo']>): FrameSize => ({ width: info.width, height: info.height, components: info.componentCount });

/** A JPEG-LS stream ends with EOI (FFD9), perhaps then a DICOM pad byte. */
function endsWithEoi(bytes: Uint8Array): boolean {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end >= 2 && bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9;
}

function copyOut(view: Uint8Array, into: Uint8Array | undefined): Uint8Array {
  if (!into || into.length !== view.length) return new Uint8Array(view);
  into.set(view);
  return into;
}

async function runWasm(codec: WasmCodec, encoded: Uint8Array, expected: FrameSize, into?: Uint8Array): Promise<CodecOutput> {
  checkFrameSize(codec.name, codec === openjpeg ? j2kFrameSize(encoded) : jpegFrameSize(encoded), expected);
  // CharLS, given a stream cut inside its scan, spins for tens of seconds before it gives up
  // (a 1.5 kB frame short of 5 bytes took 26 s); without EOI it would refuse the stream anyway.
  if (codec === charls && !endsWithEoi(encoded)) throw new SentinelError('bad_request', 'the JPEG-LS data is truncated: it does not end with an EOI marker');
  const Decoder = await codec.get();
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const info = decoder.getFrameInfo();
    checkFrameSize(codec.name, sizeOf(info), expected);
    return {
      width: info.width,
      height: info.height,
      components: info.componentCount,
      bitsPerSample: info.bitsPerSample,
      signed: info.isSigned,
      // The decoded buffer is a view into wasm memory (a Uint8ClampedArray for some codecs):
      // copied out as a plain Uint8Array before delete(), into the caller's buffer when it is
      // the decoded size.
      bytes: copyOut(decoder.getDecodedBuffer(), into),
    };
  } catch (err) {
    // A trap (out-of-bounds access, abort) stops the codec mid-function, and a C++ exception
    // leaks its object: a fresh instance (about 10 ms) for the next frame, which must not pay
    // for this one. C++ exceptions arrive as bare numbers (pointers), which say nothing.
    codec.reset();
    throw typeof err === 'number' ? new SentinelError('bad_request', `the ${codec.name} decoder rejected the data`) : err;
  } finally {
    try {
      decoder.delete();
    } catch {
      codec.reset();
    }
  }
}

/** `into`, when given and of the decoded size, receives the samples (and is returned as `bytes`) instead of a new array. */
export const decodeJpeg2000 = (bytes: Uint8Array, expected: FrameSize, into?: Uint8Array): Promise<CodecOutput> => runWasm(openjpeg, bytes, expected, into);
export const decodeJpegLs = (bytes: Uint8Array, expected: FrameSize, into?: Uint8Array): Promise<CodecOutput> => runWasm(charls, bytes, expected, into);
/** JPEG baseline through the system's libjpeg-turbo where it is installed (turbojpeg.ts), else its wasm build: the same samples. */
export async function decodeJpegBaseline(bytes: Uint8Array, expected: FrameSize, into?: Uint8Array): Promise<CodecOutput> {
  checkFrameSize(libjpeg.name, jpegFrameSize(bytes), expected);
  const native = decodeJpegNative(bytes, expected, into);
  return native ? { ...native, bitsPerSample: 8, signed: false } : runWasm(libjpeg, bytes, expected, into);
}

/** The wasm build alone, which tests compare with the system's library. */
export const decodeJpegBaselineWasm = (bytes: Uint8Array, expected: FrameSize, into?: Uint8Array): Promise<CodecOutput> => runWasm(libjpeg, bytes, expected, into);

export function decodeJpegLossless(bytes: Uint8Array, bitsAllocated: number, expected: FrameSize): Uint8Array {
  checkFrameSize('JPEG Lossless', jpegFrameSize(bytes), expected);
  // A real copy: Buffer.prototype.slice would return a view onto the whole file's memory.
  const copy = new Uint8Array(bytes);
  const bytesPerSample = bitsAllocated > 8 ? 2 : 1;
  const decoder = new JpegLosslessDecoder();
  const out = decoder.decode(copy.buffer, 0, copy.byteLength, bytesPerSample) as ArrayBufferLike | ArrayBufferView;
  const view = ArrayBuffer.isView(out) ? new Uint8Array(out.buffer, out.byteOffset, out.byteLength) : new Uint8Array(out);
  return view;
}

/** RLE Lossless, PS3.5 Annex G: a 64-byte header of segment offsets, then PackBits segments. */
export function decodeRle(bytes: Uint8Array, rows: number, columns: number, samplesPerPixel: number, bitsAllocated: number): Uint8Array {
  if (bytes.length < 64) throw new SentinelError('bad_request', `RLE frame of ${bytes.length} bytes is shorter than its 64-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments = view.getUint32(0, true);
  const bytesPerSample = bitsAllocated / 8;
  if (segments !== samplesPerPixel * bytesPerSample) {
    throw new SentinelError('bad_request', `RLE header lists ${segments} segments, expected ${samplesPerPixel * bytesPerSample}`);
  }
  const pixels = rows * columns;
  const bounds = Array.from({ length: segments }, (_, s) => [view.getUint32(4 + 4 * s, true), s + 1 < segments ? view.getUint32(8 + 4 * s, true) : bytes.length] as const);
  // PackBits makes at most 128 bytes of 2: a segment shorter than that cannot hold its pixels,
  // and refusing it before allocating keeps a corrupted Rows or Columns from costing gigabytes.
  const least = 2 * Math.ceil(pixels / 128);
  bounds.forEach(([start, end], s) => {
    if (start < 64 || end > bytes.length || end - start < least) {
      throw new SentinelError('bad_request', `RLE segment ${s + 1} spans bytes ${start} to ${end} of ${bytes.length}: too few for ${pixels} pixels`);
    }
  });
  const out = new Uint8Array(pixels * samplesPerPixel * bytesPerSample);
  for (let s = 0; s < segments; s++) {
    const [start, end] = bounds[s] as readonly [number, number];
    // Segment order: for each sample, most significant byte first.
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    const stride = samplesPerPixel * bytesPerSample;
    let o = sample * bytesPerSample + byteInSample;
    let written = 0;
    let i = start;
    while (i < end && written < pixels) {
      const n = (bytes[i++] as number) << 24 >> 24; // signed byte
      if (n >= 0) {
        for (let k = 0; k <= n && written < pixels; k++, written++, o += stride) out[o] = bytes[i++] as number;
      } else if (n !== -128) {
        const v = bytes[i++] as number;
        for (let k = 0; k < 1 - n && written < pixels; k++, written++, o += stride) out[o] = v;
      }
    }
    if (written < pixels) throw new SentinelError('bad_request', `RLE segment ${s + 1} ends after ${written} of ${pixels} pixels`);
  }
  return out;
}
