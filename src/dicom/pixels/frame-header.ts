// The size a compressed frame says it has, read before a codec allocates for it. A corrupt
// frame header can claim 65535 x 65535 pixels; the codecs would grow their wasm heap to
// match (and wasm memory never shrinks), so the size is compared with the DICOM header first.
import { SentinelError } from '../../errors/errors';

export interface FrameSize {
  width: number;
  height: number;
  components: number;
}

const u16 = (b: Uint8Array, i: number): number => (((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
const u32 = (b: Uint8Array, i: number): number => u16(b, i) * 0x10000 + u16(b, i + 2);

/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), and JPEG-LS SOF55 (F7): all share one layout. */
const isFrameHeader = (m: number): boolean => (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7;

/** Width, height and components of a JPEG or JPEG-LS frame (ISO 10918-1 B.2.2), or undefined when it has no frame header before its scan. */
export function jpegFrameSize(bytes: Uint8Array): FrameSize | undefined {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1] as number;
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i += 2; // markers without a length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined;
    if (isFrameHeader(marker)) {
      if (i + 10 > bytes.length) return undefined;
      return { height: u16(bytes, i + 5), width: u16(bytes, i + 7), components: bytes[i + 9] as number };
    }
    const length = u16(bytes, i + 2);
    if (length < 2) return undefined;
    i += 2 + length;
  }
  return undefined;
}

/** Image size from a JPEG 2000 codestream's SIZ segment (ISO 15444-1 A.5.1): reference grid less its offset. */
function sizSegment(bytes: Uint8Array, at: number): FrameSize | undefined {
  if (at + 42 > bytes.length || u16(bytes, at) !== 0xff4f || u16(bytes, at + 2) !== 0xff51) return undefined;
  const siz = at + 4; // Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, 4 tile fields, Csiz
  return {
    width: u32(bytes, siz + 4) - u32(bytes, siz + 12),
    height: u32(bytes, siz + 8) - u32(bytes, siz + 16),
    components: u16(bytes, siz + 36),
  };
}

/** Width, height and components of a JPEG 2000 frame: a bare codestream, or the one in a JP2 file's jp2c box. */
export function j2kFrameSize(bytes: Uint8Array): FrameSize | undefined {
  if (u16(bytes, 0) === 0xff4f) return sizSegment(bytes, 0);
  let i = 0;
  while (i + 8 <= bytes.length) {
    const length = u32(bytes, i);
    const type = String.fromCharCode(...bytes.subarray(i + 4, i + 8));
    const header = length === 1 ? 16 : 8;
    if (type === 'jp2c') return sizSegment(bytes, i + header);
    const size = length === 1 ? u32(bytes, i + 8) * 2 ** 32 + u32(bytes, i + 12) : length;
    if (size < header) return undefined;
    i += size;
  }
  return undefined;
}

/** Refuses a frame whose own header disagrees with the DICOM header, naming both sizes. */
export function checkFrameSize(codec: string, got: FrameSize | undefined, expected: FrameSize): void {
  if (!got) throw new SentinelError('bad_request', `the ${codec} data has no frame header`);
  if (got.width !== expected.width || got.height !== expected.height || got.components !== expected.components) {
    throw new SentinelError('bad_request', `the ${codec} data is ${got.width} x ${got.height} with ${got.components} component(s), the DICOM header says ${expected.width} x ${expected.height} with ${expected.components}`);
  }
}
