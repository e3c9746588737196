// A slide held as an ordinary image (JPEG/PNG/TIFF decoded by sharp), with a 2x pyramid made
// in memory: for slides small enough to decode whole (the IDC mosaics, tests, `eval`). Real
// slides come through DICOMweb instead; both are SlideSources, so analyzeSlide is the same.
import sharp, { type Sharp } from 'sharp';
import type { SlideSource, SourceLevel } from './analyze-slide';
import type { TileBuffers } from '../../wsi/tiles';
import { SentinelError } from '../../errors/errors';

interface LevelPixels extends SourceLevel {
  rgb: Uint8Array;
}

export class ImageSlideSource implements SlideSource {
  private constructor(private readonly pixels: LevelPixels[]) {}

  get levels(): SourceLevel[] {
    return this.pixels.map(({ rgb: _rgb, ...level }) => level);
  }

  /** Levels halve until the long side is below `minSide`; tiles are `tileSize` square. */
  static async fromFile(file: string, pixelSpacingMm: number, opts: { tileSize?: number; minSide?: number } = {}): Promise<ImageSlideSource> {
    const base = sharp(file).removeAlpha().toColourspace('srgb');
    const { width, height } = await base.metadata();
    if (!width || !height) throw new SentinelError('bad_request', `${file}: not an image sharp can read`);
    return ImageSlideSource.build(base, width, height, pixelSpacingMm, opts);
  }

  /** The same, from RGB pixels already in memory (an uploaded image). */
  static fromPixels(rgb: Uint8Array, width: number, height: number, pixelSpacingMm: number, opts: { tileSize?: number; minSide?: number } = {}): Promise<ImageSlideSource> {
    if (rgb.length !== width * height * 3) throw new SentinelError('bad_request', `RGB image: ${rgb.length} bytes for ${width} x ${height}`);
    return ImageSlideSource.build(sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.length), { raw: { width, height, channels: 3 } }), width, height, pixelSpacingMm, opts);
  }

  private static async build(base: Sharp, width: number, height: number, pixelSpacingMm: number, opts: { tileSize?: number; minSide?: number }): Promise<ImageSlideSource> {
    const tile = opts.tileSize ?? 256;
    const minSide = opts.minSide ?? 64;
    const levels: LevelPixels[] = [];
    for (let f = 1; levels.length === 0 || Math.max(width, height) / f >= minSide; f *= 2) {
      const w = Math.max(1, Math.round(width / f));
      const h = Math.max(1, Math.round(height / f));
      const img = f === 1 ? base.clone() : base.clone().resize(w, h, { kernel: 'lanczos3' });
      const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
      levels.push({
        rgb: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height * 3),
        totalPixelMatrixColumns: info.width,
        totalPixelMatrixRows: info.height,
        tileColumns: tile,
        tileRows: tile,
        pixelSpacingMm: [(pixelSpacingMm * height) / info.height, (pixelSpacingMm * width) / info.width],
      });
    }
    return new ImageSlideSource(levels);
  }

  readTiles(index: number, tiles: Array<{ row: number; column: number }>, buffers?: TileBuffers): Promise<Array<Uint8Array | undefined>> {
    const level = this.pixels[index];
    if (!level) return Promise.reject(new SentinelError('bad_request', `no level ${index}`));
    const { tileRows, tileColumns, totalPixelMatrixRows, totalPixelMatrixColumns, rgb } = level;
    return Promise.resolve(tiles.map(({ row, column }) => {
      const out = buffers?.take(tileRows * tileColumns * 3).fill(0) ?? new Uint8Array(tileRows * tileColumns * 3);
      for (let y = 0; y < tileRows && row * tileRows + y < totalPixelMatrixRows; y++) {
        const gy = row * tileRows + y;
        const x0 = column * tileColumns;
        const n = Math.min(tileColumns, totalPixelMatrixColumns - x0);
        if (n <= 0) break;
        out.set(rgb.subarray((gy * totalPixelMatrixColumns + x0) * 3, (gy * totalPixelMatrixColumns + x0 + n) * 3), y * tileColumns * 3);
      }
      return out;
    }));
  }
}
