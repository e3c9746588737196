// Just enough TIFF (classic and BigTIFF, either byte order) to learn what OrthancWSIDicomizer
// does not tell: a slide's size, its pyramid levels and its pixel size (Aperio's "MPP = " in
// ImageDescription, else XResolution/YResolution). Reads only the directories, never the
// image data, so a multi-gigabyte slide costs a few kilobytes of reading.
import fs from 'node:fs';
import { SentinelError } from '../errors/errors';

export interface TiffDirectory {
  width: number;
  height: number;
  tileWidth?: number;
  tileHeight?: number;
  description?: string;
  /** NewSubfileType (254): bit 0 = reduced resolution, bit 2 = transparency mask. */
  subfileType: number;
  /** Pixels per ResolutionUnit. */
  xResolution?: number;
  yResolution?: number;
  /** 1 none, 2 inch, 3 centimetre. */
  resolutionUnit: number;
}

export interface TiffInfo {
  directories: TiffDirectory[];
  /** Pixel size of the first (full resolution) directory in mm, when the file says. */
  pixelSpacingMm?: { value: number; source: 'aperio-mpp' | 'tiff-resolution' };
  /** Tiled full-resolution and reduced-resolution directories: the pyramid levels. */
  levels: TiffDirectory[];
}

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8, 17: 8, 18: 8 };

class Reader {
  constructor(private readonly fd: number, readonly little: boolean, readonly size: number) {}

  bytes(offset: number, length: number): Buffer {
    if (offset < 0 || length < 0 || offset + length > this.size) throw new SentinelError('bad_request', `TIFF structure points outside the file (offset ${offset})`);
    const buf = Buffer.alloc(length);
    fs.readSync(this.fd, buf, 0, length, offset);
    return buf;
  }

  u16(b: Buffer, o: number): number {
    return this.little ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }

  u32(b: Buffer, o: number): number {
    return this.little ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }

  u64(b: Buffer, o: number): number {
    return Number(this.little ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  }
}

function readDirectory(r: Reader, offset: number, big: boolean): { dir: TiffDirectory; next: number } {
  const countSize = big ? 8 : 2;
  const entrySize = big ? 20 : 12;
  const inline = big ? 8 : 4;
  const head = r.bytes(offset, countSize);
  const count = big ? r.u64(head, 0) : r.u16(head, 0);
  if (count > 10_000) throw new SentinelError('bad_request', `TIFF directory with ${count} entries`);
  const body = r.bytes(offset + countSize, count * entrySize + (big ? 8 : 4));
  const dir: TiffDirectory = { width: 0, height: 0, subfileType: 0, resolutionUnit: 2 };
  for (let i = 0; i < count; i++) {
    const e = i * entrySize;
    const tag = r.u16(body, e);
    const type = r.u16(body, e + 2);
    const n = big ? r.u64(body, e + 4) : r.u32(body, e + 4);
    const size = (TYPE_SIZE[type] ?? 1) * n;
    const valueAt = e + (big ? 12 : 8);
    const data = size <= inline ? body.subarray(valueAt, valueAt + size) : r.bytes(big ? r.u64(body, valueAt) : r.u32(body, valueAt), Math.min(size, 1 << 20));
    const int = (): number => (type === 3 ? r.u16(data, 0) : type === 16 ? r.u64(data, 0) : r.u32(data, 0));
    const rational = (): number => {
      const den = r.u32(data, 4);
      return den === 0 ? 0 : r.u32(data, 0) / den;
    };
    switch (tag) {
      case 254: dir.subfileType = int(); break;
      case 256: dir.width = int(); break;
      case 257: dir.height = int(); break;
      case 270: dir.description = data.toString('latin1').replace(/\0+$/, ''); break;
      case 282: if (type === 5) dir.xResolution = rational(); break;
      case 283: if (type === 5) dir.yResolution = rational(); break;
      case 296: dir.resolutionUnit = int(); break;
      case 322: dir.tileWidth = int(); break;
      case 323: dir.tileHeight = int(); break;
      default: break;
    }
  }
  const nextAt = count * entrySize;
  return { dir, next: big ? r.u64(body, nextAt) : r.u32(body, nextAt) };
}

/** The directories of a TIFF file (SVS, generic tiled TIFF, ...); undefined when the file is not TIFF. */
export function readTiffInfo(file: string): TiffInfo | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(16);
    fs.readSync(fd, head, 0, 16, 0);
    const order = head.toString('latin1', 0, 2);
    if (order !== 'II' && order !== 'MM') return undefined;
    const r = new Reader(fd, order === 'II', size);
    const magic = r.u16(head, 2);
    if (magic !== 42 && magic !== 43) return undefined;
    const big = magic === 43;
    let next = big ? r.u64(head, 8) : r.u32(head, 4);
    const directories: TiffDirectory[] = [];
    const seen = new Set<number>();
    while (next !== 0 && !seen.has(next) && directories.length < 1000) {
      seen.add(next);
      const { dir, next: following } = readDirectory(r, next, big);
      directories.push(dir);
      next = following;
    }
    const first = directories[0];
    const levels = directories.filter((d, i) => d.tileWidth !== undefined && (i === 0 || (d.subfileType & 1) === 1 || (first?.description?.startsWith('Aperio') === true && !/label|macro/i.test(d.description ?? ''))));
    return { directories, levels, pixelSpacingMm: first ? spacingOf(first) : undefined };
  } finally {
    fs.closeSync(fd);
  }
}

function spacingOf(dir: TiffDirectory): TiffInfo['pixelSpacingMm'] {
  const mpp = /\|\s*MPP\s*=\s*([0-9.eE+-]+)/.exec(dir.description ?? '');
  if (mpp) {
    const um = Number(mpp[1]);
    if (um > 0 && Number.isFinite(um)) return { value: um / 1000, source: 'aperio-mpp' };
  }
  const perUnit = dir.xResolution;
  if (perUnit && perUnit > 0 && (dir.resolutionUnit === 2 || dir.resolutionUnit === 3)) {
    const mm = (dir.resolutionUnit === 2 ? 25.4 : 10) / perUnit;
    // Only a microscope's resolution is believable; 72 or 300 dpi are defaults of image software.
    if (mm < 0.1) return { value: mm, source: 'tiff-resolution' };
  }
  return undefined;
}
