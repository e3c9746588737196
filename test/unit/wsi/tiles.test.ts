// Tile reading without a server: frames served from Part 10 files as a DICOMweb server would
// (several frame numbers per request), decoded and turned into RGB, compared with the pixels
// the slides were made from (the IDC mosaic and the Aperio SVS, decoded by sharp/libvips).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parseDicom } from '../../../src/dicom/read';
import { TS } from '../../../src/dicom/pixels/decode';
import { dicomize } from '../../../src/wsi/dicomize';
import { type Slide, describeSlide } from '../../../src/wsi/slide';
import { TileBuffers, isMissing, readRegion, readTiles, sniffTransferSyntax } from '../../../src/wsi/tiles';
import { sharedData } from '../../support/shared-data';
import { localSlide } from '../../support/wsi-fixtures';

const highdicom = (name: string): string => sharedData(`dicom-reference/highdicom/${name}`);

function rgbOf(t: Awaited<ReturnType<typeof readTiles>>[number]): Uint8Array {
  if (isMissing(t)) throw new Error(`tile ${t.row},${t.column} missing`);
  return t.rgb;
}

/** Mean and 99.9th percentile of |a - b| over the pixels of a w x h window inside tiles of width tw. */
function compare(tile: Uint8Array, tileWidth: number, ref: Uint8Array, w: number, h: number): { mean: number; p999: number } {
  const diffs: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w * 3; x++) diffs.push(Math.abs((tile[y * tileWidth * 3 + x] as number) - (ref[y * w * 3 + x] as number)));
  }
  diffs.sort((a, b) => a - b);
  return { mean: diffs.reduce((s, d) => s + d, 0) / diffs.length, p999: diffs[Math.floor(diffs.length * 0.999)] as number };
}

describe('readTiles on highdicom reference slides', () => {
  it('returns native RGB tiles as stored, several frames per request, and missing tiles outside the grid', async () => {
    const { metadata, source } = localSlide([highdicom('sm_image.dcm')]);
    const level = describeSlide(metadata).levels[0]!;
    const frames = parseDicom(fs.readFileSync(highdicom('sm_image.dcm'))).frames();
    const asked = [{ row: 0, column: 0 }, { row: 2, column: 3 }, { row: 4, column: 4 }, { row: 5, column: 0 }, { row: 2, column: 3 }];
    const tiles = await readTiles(source, level, asked, { framesPerRequest: 2 });
    expect(tiles.map((t) => [t.row, t.column])).toEqual(asked.map((t) => [t.row, t.column]));
    expect(Buffer.from(rgbOf(tiles[0]!))).toEqual(Buffer.from(frames[0]!));
    expect(Buffer.from(rgbOf(tiles[1]!))).toEqual(Buffer.from(frames[13]!));
    expect(Buffer.from(rgbOf(tiles[4]!))).toEqual(Buffer.from(frames[13]!));
    expect(Buffer.from(rgbOf(tiles[2]!))).toEqual(Buffer.from(frames[24]!));
    expect(isMissing(tiles[3]!)).toBe(true);
    // Three distinct frames, two per request.
    expect(source.requests).toEqual([[1, 14], [25]]);
  });

  it('fetches a level of fewer than 256 frames in one request by default', async () => {
    const { metadata, source } = localSlide([highdicom('sm_image.dcm')]);
    const level = describeSlide(metadata).levels[0]!;
    await readTiles(source, level, level.availableTiles());
    expect(source.requests).toEqual([Array.from({ length: 25 }, (_, i) => i + 1)]);
  });

  it('decodes JPEG-LS to the same pixels, and recognises the codec when the metadata does not name it', async () => {
    const native = localSlide([highdicom('sm_image.dcm')]);
    const jpegls = localSlide([highdicom('sm_image_jpegls.dcm')], { dropTransferSyntax: true });
    const a = describeSlide(native.metadata).levels[0]!;
    const b = describeSlide(jpegls.metadata).levels[0]!;
    expect(b.transferSyntaxUid).toBeUndefined();
    const all = a.availableTiles();
    const ta = await readTiles(native.source, a, all);
    const tb = await readTiles(jpegls.source, b, all);
    for (let i = 0; i < all.length; i++) expect(Buffer.from(rgbOf(tb[i]!))).toEqual(Buffer.from(rgbOf(ta[i]!)));
  });

  it('decodes into the buffers it is given back, overwriting what they held, and takes back only its own', async () => {
    const native = localSlide([highdicom('sm_image.dcm')]);
    const jpegls = localSlide([highdicom('sm_image_jpegls.dcm')]);
    const a = describeSlide(native.metadata).levels[0]!;
    const b = describeSlide(jpegls.metadata).levels[0]!;
    const all = a.availableTiles();
    const size = b.tileRows * b.tileColumns * 3;
    const buffers = new TileBuffers();
    // Every buffer the pool will hand out holds garbage from an earlier use.
    const used = Array.from({ length: all.length }, () => buffers.take(size).fill(0xab));
    used.forEach((u) => buffers.give(u));
    buffers.give(new Uint8Array(size).fill(7)); // not the pool's: ignored
    const plain = await readTiles(native.source, a, all);
    const reused = await readTiles(jpegls.source, b, all, { buffers });
    const came = new Set(used);
    for (let i = 0; i < all.length; i++) {
      expect(came.has(rgbOf(reused[i]!))).toBe(true);
      expect(Buffer.from(rgbOf(reused[i]!))).toEqual(Buffer.from(rgbOf(plain[i]!)));
    }
    // All handed out: the next is new, not the foreign one given back.
    const next = buffers.take(size);
    expect(came.has(next)).toBe(false);
    expect(next.every((v) => v === 0)).toBe(true);
  });

  it('replicates grayscale into R, G and B', async () => {
    const { metadata, source } = localSlide([highdicom('sm_image_grayscale.dcm')]);
    const level = describeSlide(metadata).levels[0]!;
    const [tile] = await readTiles(source, level, [{ row: 2, column: 2 }]);
    const rgb = rgbOf(tile!);
    expect(rgb).toHaveLength(10 * 10 * 3);
    for (let i = 0; i < rgb.length; i += 3) {
      expect(rgb[i + 1]).toBe(rgb[i]);
      expect(rgb[i + 2]).toBe(rgb[i]);
    }
  });

  it('assembles a region across tiles, filling what lies outside the matrix', async () => {
    const { metadata, source } = localSlide([highdicom('sm_image.dcm')]);
    const level = describeSlide(metadata).levels[0]!;
    const frames = parseDicom(fs.readFileSync(highdicom('sm_image.dcm'))).frames();
    const region = await readRegion(source, level, 45, 7, 10, 6, { fill: [1, 2, 3] });
    const at = (x: number, y: number): number[] => Array.from(region.rgb.subarray((y * region.width + x) * 3, (y * region.width + x) * 3 + 3));
    // Region pixel (0, 0) is matrix pixel (45, 7): tile (0, 4), pixel (5, 7) in it.
    expect(at(0, 0)).toEqual(Array.from(frames[4]!.subarray((7 * 10 + 5) * 3, (7 * 10 + 5) * 3 + 3)));
    // (4, 5) is matrix (49, 12): tile (1, 4), pixel (9, 2).
    expect(at(4, 5)).toEqual(Array.from(frames[9]!.subarray((2 * 10 + 9) * 3, (2 * 10 + 9) * 3 + 3)));
    expect(at(5, 0)).toEqual([1, 2, 3]);
    expect(at(9, 5)).toEqual([1, 2, 3]);
    await expect(readRegion(source, level, 0, 0, 50, 50, { maxPixels: 100 })).rejects.toThrow(/larger than/);
  });

  it('recognises frames by their bytes', () => {
    expect(sniffTransferSyntax(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11]), 300)).toBe(TS.JpegBaseline);
    expect(sniffTransferSyntax(new Uint8Array([0xff, 0xd8, 0xff, 0xf7, 0, 11]), 300)).toBe(TS.JpegLsLossless);
    expect(sniffTransferSyntax(new Uint8Array([0xff, 0xd8, 0xff, 0xc3, 0, 11]), 300)).toBe(TS.JpegLosslessSV1);
    expect(sniffTransferSyntax(new Uint8Array([0xff, 0x4f, 0xff, 0x51, 0, 0]), 300)).toBe(TS.Jpeg2000);
    expect(sniffTransferSyntax(new Uint8Array(300), 300)).toBe(TS.ExplicitLittle);
    const rle = new Uint8Array(80);
    new DataView(rle.buffer).setUint32(0, 3, true);
    new DataView(rle.buffer).setUint32(4, 64, true);
    expect(sniffTransferSyntax(rle, 300)).toBe(TS.Rle);
    expect(() => sniffTransferSyntax(new Uint8Array(17), 300)).toThrow(/not supported/);
  });
});

describe('readTiles on dicomized slides, against the pixels they were made from', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-wsi-tiles-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  async function load(input: string, dir: string): Promise<{ slide: Slide; source: ReturnType<typeof localSlide>['source'] }> {
    const result = await dicomize(input, { outDir: path.join(out, dir) });
    const local = localSlide(result.files, { dropTransferSyntax: true });
    return { slide: describeSlide(local.metadata), source: local.source };
  }

  it('IDC mosaic 8863: level 0 tiles match the JPEG within JPEG re-encoding error, edge tiles included', async () => {
    const jpg = sharedData('pathology/idc-slides/8863.jpg');
    const { slide, source } = await load(jpg, '8863');
    const level = slide.levels[0]!;
    const wanted = [{ row: 0, column: 0 }, { row: 4, column: 5 }, { row: 9, column: 10 }, { row: 3, column: 10 }, { row: 9, column: 2 }];
    const tiles = await readTiles(source, level, wanted);
    for (const t of tiles) {
      const x = t.column * 256;
      const y = t.row * 256;
      const w = Math.min(256, 2800 - x);
      const h = Math.min(256, 2350 - y);
      const ref = await sharp(jpg).extract({ left: x, top: y, width: w, height: h }).raw().toBuffer();
      const d = compare(rgbOf(t), 256, new Uint8Array(ref), w, h);
      // JPEG quality 90 re-encoding of a JPEG quality 92 mosaic: noise, no bias, no shift.
      expect(d.mean).toBeLessThan(4);
      expect(d.p999).toBeLessThan(48);
    }
  });

  it('IDC mosaic 8863: a low level read as one region is the mosaic shrunk, in place', async () => {
    const jpg = sharedData('pathology/idc-slides/8863.jpg');
    const { slide, source } = await load(jpg, '8863-region');
    const level = slide.levels[2]!;
    expect([level.totalPixelMatrixColumns, level.totalPixelMatrixRows]).toEqual([700, 588]);
    const [w, h] = [700, 587];
    const region = await readRegion(source, level, 0, 0, w, h);
    const ref = new Uint8Array(await sharp(jpg).extract({ left: 0, top: 0, width: w * 4, height: h * 4 }).resize(w, h, { kernel: 'linear' }).raw().toBuffer());
    // Mean |difference| with the reference moved by (dx, dy) pixels, away from the borders.
    const shifted = (dx: number, dy: number): number => {
      let sum = 0;
      let n = 0;
      for (let y = 2; y < h - 2; y++) {
        for (let x = 2; x < w - 2; x++) {
          for (let c = 0; c < 3; c++, n++) sum += Math.abs((region.rgb[(y * w + x) * 3 + c] as number) - (ref[((y + dy) * w + x + dx) * 3 + c] as number));
        }
      }
      return sum / n;
    };
    const inPlace = shifted(0, 0);
    // Three JPEG re-encodings and a different resampling filter: a few grey levels on average...
    expect(inPlace).toBeLessThan(10);
    // ...and worse one pixel off in any direction.
    for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]] as const) expect(shifted(dx, dy)).toBeGreaterThan(inPlace);
  });

  it('Aperio SVS: level 0 tiles are the scanner\'s own JPEG tiles (copied, not re-encoded)', async () => {
    const svs = sharedData('pathology/wsi/CMU-1-Small-Region.svs');
    const { slide, source } = await load(svs, 'svs');
    const level = slide.levels[0]!;
    expect(level.tileColumns).toBe(240);
    const wanted = [{ row: 0, column: 0 }, { row: 6, column: 4 }, { row: 12, column: 9 }];
    const tiles = await readTiles(source, level, wanted);
    for (const t of tiles) {
      const x = t.column * 240;
      const y = t.row * 240;
      const w = Math.min(240, 2220 - x);
      const h = Math.min(240, 2967 - y);
      const ref = await sharp(svs).extract({ left: x, top: y, width: w, height: h }).raw().toBuffer();
      const d = compare(rgbOf(t), 240, new Uint8Array(ref), w, h);
      expect(d.mean).toBeLessThan(1);
      expect(d.p999).toBeLessThan(8);
    }
  });
});
