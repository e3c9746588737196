// Tiles of a whole-slide level, fetched over DICOMweb without ever loading the slide: the
// frames a caller asks for, grouped by instance, several frame numbers per WADO-RS request,
// in their stored transfer syntax, decoded by the project's decoders and returned as 8-bit
// interleaved RGB (tileRows x tileColumns x 3, edge tiles as stored, i.e. padded).
import { SentinelError } from '../errors/errors';
import type { DicomwebClient } from '../dicomweb/client';
import { type DecodedFrame, TS, UnsupportedTransferSyntaxError, decodeFrame } from '../dicom/pixels/decode';
import type { FrameLocation, FrameSelector, TilePosition } from './frame-index';
import type { SlideLevel } from './slide';
import { pool } from '../dicomweb/pool';

/** What readTiles needs from a DICOMweb client (DicomwebClient, or a local stand-in in tests). */
export type FrameSource = Pick<DicomwebClient, 'retrieveFrames'>;

export type TileResult =
  | { row: number; column: number; rgb: Uint8Array }
  | { row: number; column: number; missing: true };

export interface ReadTilesOptions extends FrameSelector {
  /**
   * Frame numbers per WADO-RS frames request (default 256): Orthanc parses the whole instance
   * for each request, about 55 ms for a 30 MB level, whatever the frames asked; 256 JPEG frames
   * are a few MB.
   */
  framesPerRequest?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Where decoded tiles are taken from, so a reader of many tiles reuses the ones it is done with. */
  buffers?: TileBuffers;
}

/**
 * Tile-sized buffers handed back for reuse. A slide's scoring decodes hundreds of frames of
 * 200 kB each (150 MB for the bench slide); allocated anew, they feed the garbage collector,
 * whose threads share the 2 cores with the model (1.7-1.9 core-seconds of collector threads
 * for the bench slide before, 1.1-1.4 reused). Only buffers made here are taken back, so a
 * view into someone else's image can never be written over.
 */
export class TileBuffers {
  // Only buffers made here come back, so the free lists never hold more than were out at once.
  private readonly free = new Map<number, Uint8Array[]>();
  private readonly made = new WeakSet<Uint8Array>();

  /** A buffer of `length` bytes, reused or new; its contents are whatever it last held. */
  take(length: number): Uint8Array {
    const reused = this.free.get(length)?.pop();
    if (reused) return reused;
    const fresh = new Uint8Array(length);
    this.made.add(fresh);
    return fresh;
  }

  /** Back for reuse: the caller holds no other reference to it. Buffers not made here are ignored. */
  give(buffer: Uint8Array | undefined): void {
    if (!buffer || !this.made.has(buffer)) return;
    const list = this.free.get(buffer.length) ?? [];
    list.push(buffer);
    this.free.set(buffer.length, list);
  }
}

export function isMissing(t: TileResult): t is { row: number; column: number; missing: true } {
  return 'missing' in t;
}

function scanJpegMarkers(bytes: Uint8Array): number | undefined {
  // Walk the marker segments up to the first SOFn; returns its marker byte.
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1] as number;
    if (marker === 0xff) {
      i += 1;
      continue;
    }
    if ((marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xf7) return marker;
    const length = ((bytes[i + 2] as number) << 8) | (bytes[i + 3] as number);
    i += 2 + length;
  }
  return undefined;
}

/**
 * The transfer syntax of one frame from its bytes, for servers whose metadata does not say
 * (Orthanc's DICOMweb plugin): JPEG (baseline/extended, lossless, JPEG-LS by their SOF
 * marker), JPEG 2000 (codestream or JP2), RLE (its 64-byte header), else native pixels when
 * the length fits.
 */
export function sniffTransferSyntax(bytes: Uint8Array, nativeLength: number): string {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    const sof = scanJpegMarkers(bytes);
    if (sof === 0xf7) return TS.JpegLsLossless;
    if (sof === 0xc3 || sof === 0xc7 || sof === 0xcb || sof === 0xcf) return TS.JpegLosslessSV1;
    if (sof === 0xc1 || sof === 0xc5 || sof === 0xc9 || sof === 0xcd) return TS.JpegExtended;
    if (sof !== undefined) return TS.JpegBaseline;
  }
  if (bytes[0] === 0xff && bytes[1] === 0x4f && bytes[2] === 0xff && bytes[3] === 0x51) return TS.Jpeg2000;
  if (bytes.length >= 12 && bytes[4] === 0x6a && bytes[5] === 0x50 && bytes[6] === 0x20 && bytes[7] === 0x20) return TS.Jpeg2000;
  if (bytes.length === nativeLength || bytes.length === nativeLength + 1) return TS.ExplicitLittle;
  if (bytes.length >= 64) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const segments = view.getUint32(0, true);
    if (segments >= 1 && segments <= 15 && view.getUint32(4, true) === 64) return TS.Rle;
  }
  throw new UnsupportedTransferSyntaxError(`(unrecognised frame of ${bytes.length} bytes)`);
}

/** A decoded frame as 8-bit interleaved RGB. Gray is replicated (MONOCHROME1 inverted); >8-bit samples keep their top 8 bits. */
export function frameToRgb8(frame: DecodedFrame): Uint8Array {
  const pixels = frame.rows * frame.columns;
  const shift = Math.max(0, frame.bitsStored - 8);
  const data = frame.data;
  const sample = (i: number): number => {
    const v = data[i] as number;
    if (shift === 0) return v & 0xff;
    const clipped = frame.signed ? Math.max(0, v) : v;
    return Math.min(255, clipped >> shift);
  };
  if (frame.samplesPerPixel === 3) {
    if (frame.photometricInterpretation !== 'RGB') {
      throw new SentinelError('unsupported', `colour frames in ${frame.photometricInterpretation} are not supported`);
    }
    if (data instanceof Uint8Array) return data.length === pixels * 3 ? data : data.slice(0, pixels * 3);
    const out = new Uint8Array(pixels * 3);
    for (let i = 0; i < out.length; i++) out[i] = sample(i);
    return out;
  }
  if (frame.samplesPerPixel === 1) {
    if (frame.photometricInterpretation !== 'MONOCHROME1' && frame.photometricInterpretation !== 'MONOCHROME2') {
      throw new SentinelError('unsupported', `single-sample frames in ${frame.photometricInterpretation} are not supported`);
    }
    const invert = frame.photometricInterpretation === 'MONOCHROME1';
    const out = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) {
      const g = invert ? 255 - sample(i) : sample(i);
      out[3 * i] = g;
      out[3 * i + 1] = g;
      out[3 * i + 2] = g;
    }
    return out;
  }
  throw new SentinelError('unsupported', `${frame.samplesPerPixel}-sample frames are not supported`);
}

const NATIVE = new Set<string>([TS.ImplicitLittle, TS.ExplicitLittle, TS.Deflated, TS.ExplicitBig]);

/** Native YBR_FULL_422 (Y1 Y2 Cb Cr for each pair of pixels, PS3.3 C.7.6.3.1.2) to YBR_FULL. */
function upsampleYbr422(bytes: Uint8Array, rows: number, columns: number): Uint8Array {
  const out = new Uint8Array(rows * columns * 3);
  for (let p = 0, i = 0; p + 1 < rows * columns && i + 3 < bytes.length; p += 2, i += 4) {
    const cb = bytes[i + 2] as number;
    const cr = bytes[i + 3] as number;
    out.set([bytes[i] as number, cb, cr, bytes[i + 1] as number, cb, cr], p * 3);
  }
  return out;
}

/** Decodes one stored frame of a level to RGB (into `into` when the decoder can and it is the frame's size). */
export async function decodeTile(level: SlideLevel, bytes: Uint8Array, transferSyntaxUid?: string, into?: Uint8Array): Promise<Uint8Array> {
  let desc = level.pixelDescription();
  const pixels = desc.rows * desc.columns;
  const ybr422 = desc.photometricInterpretation === 'YBR_FULL_422' && desc.samplesPerPixel === 3 && desc.bitsAllocated === 8;
  const nativeLength = ybr422 ? pixels * 2 : pixels * desc.samplesPerPixel * Math.ceil(desc.bitsAllocated / 8);
  const ts = transferSyntaxUid ?? sniffTransferSyntax(bytes, nativeLength);
  if (ybr422 && NATIVE.has(ts) && bytes.length < pixels * 3) {
    bytes = upsampleYbr422(bytes, desc.rows, desc.columns);
    desc = { ...desc, photometricInterpretation: 'YBR_FULL' };
  }
  const frame = await decodeFrame(bytes, ts, desc, into);
  if (frame.rows !== level.tileRows || frame.columns !== level.tileColumns) {
    throw new SentinelError('bad_request', `frame is ${frame.columns}x${frame.rows}, the level's tiles are ${level.tileColumns}x${level.tileRows}`);
  }
  return frameToRgb8(frame);
}

/**
 * Tiles (0-based tile row and column of the level's grid) as RGB, in the order asked. A tile
 * without a frame (outside the grid, or absent from a TILED_SPARSE level) comes back as
 * { missing: true }. Frames are fetched per instance, framesPerRequest at a time, in their
 * stored transfer syntax.
 */
export async function readTiles(client: FrameSource, level: SlideLevel, tiles: TilePosition[], opts: ReadTilesOptions = {}): Promise<TileResult[]> {
  const perRequest = Math.max(1, Math.floor(opts.framesPerRequest ?? 256));
  const select: FrameSelector = { opticalPath: opts.opticalPath, focalPlane: opts.focalPlane };
  const results: TileResult[] = tiles.map((t) => ({ row: t.row, column: t.column, missing: true }));
  // Which requested tiles each frame serves (the same tile may be asked twice).
  const byInstance = new Map<string, { loc: FrameLocation; frames: Map<number, number[]> }>();
  tiles.forEach((t, i) => {
    const loc = level.frameAt(t.row, t.column, select);
    if (!loc) return;
    const entry = byInstance.get(loc.sopInstanceUid) ?? { loc, frames: new Map<number, number[]>() };
    const wanted = entry.frames.get(loc.frameNumber) ?? [];
    wanted.push(i);
    entry.frames.set(loc.frameNumber, wanted);
    byInstance.set(loc.sopInstanceUid, entry);
  });
  const transferSyntaxOf = new Map(level.instances.map((i) => [i.sopInstanceUid, i.transferSyntaxUid]));
  const tasks: Array<() => Promise<void>> = [];
  for (const { loc, frames } of byInstance.values()) {
    const numbers = [...frames.keys()].sort((a, b) => a - b);
    for (let start = 0; start < numbers.length; start += perRequest) {
      const batch = numbers.slice(start, start + perRequest);
      tasks.push(async () => {
        const parts = await client.retrieveFrames(loc.studyInstanceUid, loc.seriesInstanceUid, loc.sopInstanceUid, batch);
        if (parts.length !== batch.length) {
          throw new SentinelError('unavailable', `asked ${batch.length} frames of ${loc.sopInstanceUid}, received ${parts.length}`);
        }
        const ts = transferSyntaxOf.get(loc.sopInstanceUid);
        for (let k = 0; k < batch.length; k++) {
          const into = opts.buffers?.take(level.tileRows * level.tileColumns * 3);
          const rgb = await decodeTile(level, parts[k] as Uint8Array, ts, into);
          if (rgb !== into) opts.buffers?.give(into); // a decoder that made its own
          // A tile asked twice gets its own copy.
          (frames.get(batch[k] as number) ?? []).forEach((i, n) => {
            const t = tiles[i] as TilePosition;
            results[i] = { row: t.row, column: t.column, rgb: n === 0 ? rgb : rgb.slice() };
          });
        }
      });
    }
  }
  await pool(tasks, opts.concurrency ?? 4);
  return results;
}

export interface Region {
  width: number;
  height: number;
  /** width x height x 3, row by row. */
  rgb: Uint8Array;
}

export interface ReadRegionOptions extends ReadTilesOptions {
  /** Colour of pixels with no tile or outside the total pixel matrix (default white, a bright-field background). */
  fill?: [number, number, number];
  /** Refuse regions larger than this many pixels (default 64 Mpx): readRegion is for low-resolution levels. */
  maxPixels?: number;
}

/**
 * A rectangle of a level's total pixel matrix (x, y = 0-based column and row of its top left
 * pixel) as RGB, assembled from the tiles it touches. Meant for low-resolution levels (tissue
 * detection, overviews); for analysis at full resolution use readTiles.
 */
export async function readRegion(client: FrameSource, level: SlideLevel, x: number, y: number, width: number, height: number, opts: ReadRegionOptions = {}): Promise<Region> {
  if (![x, y, width, height].every(Number.isInteger) || width <= 0 || height <= 0) {
    throw new SentinelError('bad_request', `region ${x},${y} ${width}x${height} is not a rectangle of whole pixels`);
  }
  const maxPixels = opts.maxPixels ?? 64 * 1024 * 1024;
  if (width * height > maxPixels) {
    throw new SentinelError('bad_request', `region of ${width}x${height} pixels is larger than ${maxPixels}; choose a coarser level or use readTiles`);
  }
  const [fr, fg, fb] = opts.fill ?? [255, 255, 255];
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i += 3) {
    rgb[i] = fr;
    rgb[i + 1] = fg;
    rgb[i + 2] = fb;
  }
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(level.totalPixelMatrixColumns, x + width);
  const y1 = Math.min(level.totalPixelMatrixRows, y + height);
  if (x1 <= x0 || y1 <= y0) return { width, height, rgb };
  const wanted: TilePosition[] = [];
  for (let r = Math.floor(y0 / level.tileRows); r <= Math.floor((y1 - 1) / level.tileRows); r++) {
    for (let c = Math.floor(x0 / level.tileColumns); c <= Math.floor((x1 - 1) / level.tileColumns); c++) wanted.push({ row: r, column: c });
  }
  const tiles = await readTiles(client, level, wanted, opts);
  for (const tile of tiles) {
    if (isMissing(tile)) continue;
    const tx = tile.column * level.tileColumns;
    const ty = tile.row * level.tileRows;
    const cx0 = Math.max(x0, tx);
    const cx1 = Math.min(x1, tx + level.tileColumns);
    const rowBytes = (cx1 - cx0) * 3;
    for (let py = Math.max(y0, ty); py < Math.min(y1, ty + level.tileRows); py++) {
      const src = ((py - ty) * level.tileColumns + (cx0 - tx)) * 3;
      const dst = ((py - y) * width + (cx0 - x)) * 3;
      rgb.set(tile.rgb.subarray(src, src + rowBytes), dst);
    }
  }
  return { width, height, rgb };
}
