// Encoders for the fuzz seeds: the project writes only native pixels, but the reader must
// survive corrupted compressed frames too, so the seeds carry the project's own pixels
// compressed by the same codec libraries that decode them (and RLE by hand, PS3.5 G.3).
/* eslint-disable @typescript-eslint/no-require-imports */

interface WasmEncoder {
  getDecodedBuffer(info: object): Uint8Array;
  getEncodedBuffer(): Uint8Array;
  encode(): void;
  delete(): void;
  setQuality?(lossless: boolean, quality: number): void;
}
type Factory = (m: object) => Promise<Record<string, new () => WasmEncoder>>;
const quiet = { print: (): void => undefined, printErr: (): void => undefined };

export interface RawImage {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  /** Interleaved samples; 16-bit little-endian when bitsPerSample > 8. */
  bytes: Uint8Array;
}

async function encodeWith(pkg: string, name: string, image: RawImage, setup?: (e: WasmEncoder) => void): Promise<Uint8Array> {
  const module = await (require(pkg) as Factory)({ ...quiet });
  const encoder = new (module[name] as new () => WasmEncoder)();
  try {
    const { bytes, ...info } = image;
    encoder.getDecodedBuffer({ ...info, isSigned: false, isUsingColorTransform: false }).set(bytes);
    setup?.(encoder);
    encoder.encode();
    return encoder.getEncodedBuffer().slice();
  } finally {
    encoder.delete();
  }
}

export const encodeJ2k = (image: RawImage): Promise<Uint8Array> => encodeWith('@cornerstonejs/codec-openjpeg/wasmjs', 'J2KEncoder', image);
export const encodeJpegLs = (image: RawImage): Promise<Uint8Array> => encodeWith('@cornerstonejs/codec-charls/wasmjs', 'JpegLSEncoder', image);
export const encodeJpegBaseline = (image: RawImage): Promise<Uint8Array> =>
  encodeWith('@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs', 'JPEGEncoder', image);

/** PackBits of one segment, with both literal and replicate runs so both decoder branches are fed. */
function packBits(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    let run = 1;
    while (i + run < bytes.length && run < 128 && bytes[i + run] === bytes[i]) run++;
    if (run >= 3) {
      out.push(257 - run, bytes[i] as number);
      i += run;
      continue;
    }
    const start = i;
    while (i < bytes.length && i - start < 128 && !(bytes[i + 1] === bytes[i] && bytes[i + 2] === bytes[i])) i++;
    out.push(i - start - 1, ...bytes.subarray(start, i));
  }
  return out;
}

/** RLE Lossless frame: a 64-byte header of segment offsets, one segment per byte of each sample, most significant first. */
export function encodeRle(image: RawImage): Uint8Array {
  const bytesPerSample = image.bitsPerSample > 8 ? 2 : 1;
  const pixels = image.width * image.height;
  const segments: number[][] = [];
  for (let sample = 0; sample < image.componentCount; sample++) {
    for (let b = bytesPerSample - 1; b >= 0; b--) {
      const plane = new Uint8Array(pixels);
      for (let p = 0; p < pixels; p++) plane[p] = image.bytes[(p * image.componentCount + sample) * bytesPerSample + b] as number;
      const seg = packBits(plane);
      if (seg.length % 2) seg.push(0x80); // even segments; 0x80 (-128) is a no-op
      segments.push(seg);
    }
  }
  const header = new DataView(new ArrayBuffer(64));
  header.setUint32(0, segments.length, true);
  let offset = 64;
  segments.forEach((seg, s) => {
    header.setUint32(4 + 4 * s, offset, true);
    offset += seg.length;
  });
  const out = new Uint8Array(offset);
  out.set(new Uint8Array(header.buffer));
  let o = 64;
  for (const seg of segments) {
    out.set(seg, o);
    o += seg.length;
  }
  return out;
}
