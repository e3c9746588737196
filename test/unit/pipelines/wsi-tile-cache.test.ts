// The whole-slide tile cache cuts a model cell out of the tiles and packs it into the model's
// batch. Known answer: the slide's own pixels. Random pixels on a level whose size is no whole
// number of tiles, cells across tile edges and past the slide's end, and one tile the slide
// does not have: every byte cut and every value packed must be the slide's (or the fill).
import { ImageSlideSource } from '../../../src/pipelines/wsi/image-source';
import { type SlideSource, TileCache } from '../../../src/pipelines/wsi/analyze-slide';
import { normalizationLuts, packRgb8 } from '../../../src/inference/tensor';
import type { ModelManifest } from '../../../src/inference/manifest';

const W = 203;
const H = 150;
const TILE = 64;
const FILL = 242;
const ABSENT = { row: 1, column: 2 };

describe('the tile cache', () => {
  it('cuts and packs every cell as the slide has it, the fill outside it and where a tile is absent', async () => {
    let seed = 7;
    const rgb = new Uint8Array(W * H * 3).map(() => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16) & 255);
    const image = await ImageSlideSource.fromPixels(rgb, W, H, 0.004, { tileSize: TILE });
    const source: SlideSource = {
      levels: image.levels,
      async readTiles(level, tiles, buffers) {
        const out = await image.readTiles(level, tiles, buffers);
        return out.map((t, i) => (tiles[i]?.row === ABSENT.row && tiles[i]?.column === ABSENT.column ? undefined : t));
      },
    };
    const luts = normalizationLuts({ input: { normalization: { scale: 1 / 255, mean: [0.81, 0.64, 0.74], std: [0.15, 0.22, 0.16] } } } as ModelManifest);
    for (const size of [50, 67]) {
      const cells: Array<{ x: number; y: number }> = [];
      for (let y = 0; y < H; y += size) for (let x = 0; x < W; x += size) cells.push({ x, y });
      const cache = new TileCache(source, 0, image.levels[0] as SlideSource['levels'][number], size, cells);
      await cache.load(cells);
      const packed = new Float32Array(cells.length * 3 * size * size);
      const expected = new Float32Array(cells.length * 3 * size * size);
      cells.forEach(({ x, y }, n) => {
        const want = new Uint8Array(size * size * 3);
        for (let yy = 0; yy < size; yy++) {
          for (let xx = 0; xx < size; xx++) {
            const gx = x + xx;
            const gy = y + yy;
            const absent = Math.floor(gy / TILE) === ABSENT.row && Math.floor(gx / TILE) === ABSENT.column;
            for (let c = 0; c < 3; c++) want[(yy * size + xx) * 3 + c] = gx < W && gy < H && !absent ? (rgb[(gy * W + gx) * 3 + c] as number) : FILL;
          }
        }
        expect(Buffer.from(cache.cut(x, y, size, FILL, new Uint8Array(size * size * 3)))).toEqual(Buffer.from(want));
        packRgb8(want, luts, size * size, expected, n);
        cache.pack(x, y, size, FILL, luts, packed, n);
      });
      expect(Buffer.from(packed.buffer)).toEqual(Buffer.from(expected.buffer));
    }
  });
});
