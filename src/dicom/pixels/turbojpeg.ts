// JPEG baseline frames through the system's libjpeg-turbo (Debian's libturbojpeg0, its x86
// SIMD build), called by the koffi FFI. The same library as the wasm build in codecs.ts, so
// the same samples (tests compare both with Pillow's), at about a fifth of the CPU time: a
// slide is hundreds of JPEG frames, decoded on the cores the model runs on. Where the library
// is not installed, codecs.ts keeps to the wasm build.
import type * as Koffi from 'koffi';
import { SentinelError } from '../../errors/errors';
import { type FrameSize, checkFrameSize } from './frame-header';

type Handle = unknown;

interface TurboJpeg {
  init(): Handle;
  header(handle: Handle, jpeg: Uint8Array, size: number, width: number[], height: number[], subsampling: number[], colorspace: number[]): number;
  decompress(handle: Handle, jpeg: Uint8Array, size: number, out: Uint8Array, width: number, pitch: number, height: number, pixelFormat: number, flags: number): number;
  error(handle: Handle): string;
  destroy(handle: Handle): number;
}

// turbojpeg.h (libjpeg-turbo 2.1): pixel formats and colour spaces.
const TJPF_RGB = 0;
const TJPF_GRAY = 6;
const TJCS_GRAY = 2;
const TJCS_CMYK = 3;
const TJCS_YCCK = 4;

function load(): TurboJpeg | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const koffi = require('koffi') as typeof Koffi;
    const lib = koffi.load('libturbojpeg.so.0');
    return {
      init: lib.func('void *tjInitDecompress()') as TurboJpeg['init'],
      header: lib.func('int tjDecompressHeader3(void *handle, const uint8_t *jpeg, unsigned long size, _Out_ int *width, _Out_ int *height, _Out_ int *subsampling, _Out_ int *colorspace)') as TurboJpeg['header'],
      decompress: lib.func('int tjDecompress2(void *handle, const uint8_t *jpeg, unsigned long size, uint8_t *out, int width, int pitch, int height, int pixelFormat, int flags)') as TurboJpeg['decompress'],
      error: lib.func('const char *tjGetErrorStr2(void *handle)') as TurboJpeg['error'],
      destroy: lib.func('int tjDestroy(void *handle)') as TurboJpeg['destroy'],
    };
  } catch {
    return undefined;
  }
}

let library: TurboJpeg | undefined | null = null;
let handle: Handle | undefined;

/** The library, once loaded, with this thread's decompressor; undefined when it is not installed. */
function decompressor(): { tj: TurboJpeg; handle: Handle } | undefined {
  if (library === null) library = load();
  if (!library) return undefined;
  handle ??= library.init();
  if (!handle) {
    library = undefined;
    return undefined;
  }
  return { tj: library, handle };
}

/**
 * A frame the library refused (or only warned about: a truncated scan also returns -1, and the
 * wasm build refuses those too). The decompressor is dropped: after some errors it refuses
 * every later frame with the same message, so the next frame gets a fresh one.
 */
function refuse(d: { tj: TurboJpeg; handle: Handle }): never {
  const message = d.tj.error(d.handle);
  d.tj.destroy(d.handle);
  handle = undefined;
  throw new SentinelError('bad_request', `the JPEG decoder rejected the data: ${message}`);
}

/** Whether JPEG baseline frames are decoded by the system's libjpeg-turbo (else by its wasm build). */
export const nativeJpegAvailable = (): boolean => decompressor() !== undefined;

/**
 * One 8-bit JPEG frame of 1 or 3 components to interleaved samples (YCbCr converted to RGB, as
 * libjpeg does by default), into `into` when it is the decoded size; undefined when the library
 * is not installed or the frame is one it leaves to the wasm build (CMYK).
 */
export function decodeJpegNative(encoded: Uint8Array, expected: FrameSize, into?: Uint8Array): { width: number; height: number; components: number; bytes: Uint8Array } | undefined {
  if (expected.components !== 1 && expected.components !== 3) return undefined;
  const d = decompressor();
  if (!d) return undefined;
  const width = [0];
  const height = [0];
  const subsampling = [0];
  const colorspace = [0];
  if (d.tj.header(d.handle, encoded, encoded.length, width, height, subsampling, colorspace) !== 0) refuse(d);
  const cs = colorspace[0] as number;
  if (cs === TJCS_CMYK || cs === TJCS_YCCK) return undefined;
  const components = cs === TJCS_GRAY ? 1 : 3;
  const size = { width: width[0] as number, height: height[0] as number, components };
  checkFrameSize('JPEG', size, expected);
  const length = size.width * size.height * components;
  const out = into && into.length === length ? into : new Uint8Array(length);
  if (d.tj.decompress(d.handle, encoded, encoded.length, out, size.width, 0, size.height, components === 1 ? TJPF_GRAY : TJPF_RGB, 0) !== 0) refuse(d);
  return { ...size, bytes: out };
}
