// The compressed transfer syntaxes, each decoded by a library of the field (the
// cornerstone wasm builds of libjpeg-turbo, CharLS and OpenJPEG; jpeg-lossless-decoder-js
// for JPEG Lossless), loaded once on first use. RLE (PS3.5 Annex G) is small enough to be
// written here.
import { Decoder as JpegLosslessDecoder } from 'jpeg-lossless-decoder-js';

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

function lazyWasm(load: () => Promise<Record<string, unknown>>, name: string): () => Promise<DecoderCtor> {
  let module: Promise<DecoderCtor> | undefined;
  return () => (module ??= load().then((m) => m[name] as DecoderCtor));
}

type WasmFactory = (module: { print: (text: string) => void; printErr: (text: string) => void }) => Promise<Record<string, unknown>>;
/** The Emscripten builds print OpenJPEG's progress chatter to stdout, which would break the
 * service's JSON log lines: it goes nowhere; decoding errors still surface as exceptions.
 * A fresh object for each build: Emscripten turns the object it is given into the module. */
const quiet = (): { print: () => void; printErr: () => void } => ({ print: () => undefined, printErr: () => undefined });

/* eslint-disable @typescript-eslint/no-require-imports */
const openjpeg = lazyWasm(() => (require('@cornerstonejs/codec-openjpeg/wasmjs') as WasmFactory)(quiet()), 'J2KDecoder');
const charls = lazyWasm(() => (require('@cornerstonejs/codec-charls/wasmjs') as WasmFactory)(quiet()), 'JpegLSDecoder');
const libjpeg = lazyWasm(() => (require('@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs') as WasmFactory)(quiet()), 'JPEGDecoder');
/* eslint-enable @typescript-eslint/no-require-imports */

async function runWasm(ctor: () => Promise<DecoderCtor>, encoded: Uint8Array): Promise<CodecOutput> {
  const Decoder = await ctor();
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const info = decoder.getFrameInfo();
    return {
      width: info.width,
      height: info.height,
      components: info.componentCount,
      bitsPerSample: info.bitsPerSample,
      signed: info.isSigned,
      // The decoded buffer is a view into wasm memory: copy it out before delete().
      bytes: decoder.getDecodedBuffer().slice(),
    };
  } finally {
    decoder.delete();
  }
}

export const decodeJpeg2000 = (bytes: Uint8Array): Promise<CodecOutput> => runWasm(openjpeg, bytes);
export const decodeJpegLs = (bytes: Uint8Array): Promise<CodecOutput> => runWasm(charls, bytes);
export const decodeJpegBaseline = (bytes: Uint8Array): Promise<CodecOutput> => runWasm(libjpeg, bytes);

export function decodeJpegLossless(bytes: Uint8Array, bitsAllocated: number): Uint8Array {
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
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments = view.getUint32(0, true);
  const bytesPerSample = bitsAllocated / 8;
  if (segments !== samplesPerPixel * bytesPerSample) {
    throw new Error(`RLE header lists ${segments} segments, expected ${samplesPerPixel * bytesPerSample}`);
  }
  const pixels = rows * columns;
  const out = new Uint8Array(pixels * samplesPerPixel * bytesPerSample);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : bytes.length;
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
    if (written < pixels) throw new Error(`RLE segment ${s + 1} ends after ${written} of ${pixels} pixels`);
  }
  return out;
}
