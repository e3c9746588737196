// Decoding evaluation images with sharp into the pixels the training scripts saw through
// PIL: Image.open(f).convert('L') or .convert('RGB'). sharp and PIL decode PNG and JPEG
// (libjpeg-turbo's default IDCT and upsampling) to the same bytes; the colour conversions
// below are PIL's own (ITU-R 601-2 luma in 16-bit fixed point, alpha dropped).
import sharp, { type OutputInfo } from 'sharp';
import { EvalError } from './errors';

export interface Decoded {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

async function decodeRaw(file: string): Promise<Decoded> {
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await sharp(file, { limitInputPixels: false }).raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new EvalError(`${file}: cannot decode (${(err as Error).message})`);
  }
  const { data, info } = out;
  if (data.length !== info.width * info.height * info.channels) throw new EvalError(`${file}: only 8-bit images are supported`);
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** PIL convert('L'): gray stays, gray+alpha keeps gray, RGB(A) → (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
export async function decodeGray8(file: string): Promise<{ width: number; height: number; gray8: Uint8Array }> {
  const d = await decodeRaw(file);
  const n = d.width * d.height;
  if (d.channels === 1) return { width: d.width, height: d.height, gray8: d.data };
  const gray8 = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const p = i * d.channels;
    gray8[i] = d.channels < 3
      ? (d.data[p] as number)
      : ((d.data[p] as number) * 19595 + (d.data[p + 1] as number) * 38470 + (d.data[p + 2] as number) * 7471 + 0x8000) >>> 16;
  }
  return { width: d.width, height: d.height, gray8 };
}

/** PIL convert('RGB'): gray is replicated, alpha dropped; interleaved RGB out. */
export async function decodeRgb8(file: string): Promise<{ width: number; height: number; rgb8: Uint8Array }> {
  const d = await decodeRaw(file);
  if (d.channels === 3) return { width: d.width, height: d.height, rgb8: d.data };
  const n = d.width * d.height;
  const rgb8 = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const p = i * d.channels;
    if (d.channels < 3) {
      const v = d.data[p] as number;
      rgb8[3 * i] = v;
      rgb8[3 * i + 1] = v;
      rgb8[3 * i + 2] = v;
    } else {
      rgb8[3 * i] = d.data[p] as number;
      rgb8[3 * i + 1] = d.data[p + 1] as number;
      rgb8[3 * i + 2] = d.data[p + 2] as number;
    }
  }
  return { width: d.width, height: d.height, rgb8 };
}
