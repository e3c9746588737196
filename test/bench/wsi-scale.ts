// Benchmark (not a test): the whole-slide path on a synthetic 100,000 x 80,000 pixel 40x
// slide (0.25 um/pixel). Its pyramid is virtual: every tile the pipeline asks for is a real
// H&E JPEG tile cut from an IDC mosaic, decoded by Sentinel's own decoder each time, so decode,
// tiling, tensor packing and inference are all paid; only the network is not.
// Prints tiles/s, seconds and peak memory (the process's VmHWM: run one slide per process for
// a clean figure).  Run: npm run bench:wsi [-- --width W --height H --pyramid full|sparse --json]
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { projectRoot } from '../../src/config/load';
import { decodeFrame } from '../../src/dicom/pixels/decode';
import { ModelRegistry } from '../../src/inference/registry';
import { type SlideSource, type SourceLevel, analyzeSlide } from '../../src/pipelines/wsi/analyze-slide';
import { sharedData } from '../support/shared-data';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const WIDTH = Number(arg('width', '100000'));
const HEIGHT = Number(arg('height', '80000'));
const JSON_ONLY = process.argv.includes('--json');
const BASE_MM = 0.00025;
const TILE = 256;

async function jpegTiles(): Promise<Uint8Array[]> {
  const file = sharedData('pathology/idc-slides/9077.jpg');
  const out: Uint8Array[] = [];
  for (let i = 0; i < 16; i++) {
    const left = 400 + (i % 4) * TILE;
    const top = 400 + Math.floor(i / 4) * TILE;
    out.push(new Uint8Array(await sharp(file).extract({ left, top, width: TILE, height: TILE }).jpeg({ quality: 90 }).toBuffer()));
  }
  return out;
}

class VirtualSlide implements SlideSource {
  readonly levels: SourceLevel[] = [];
  decoded = 0;
  constructor(private readonly jpegs: Uint8Array[], factors: number[]) {
    for (const f of factors) {
      this.levels.push({ totalPixelMatrixColumns: Math.ceil(WIDTH / f), totalPixelMatrixRows: Math.ceil(HEIGHT / f), tileColumns: TILE, tileRows: TILE, pixelSpacingMm: [BASE_MM * f, BASE_MM * f] });
    }
  }

  async readTiles(index: number, tiles: Array<{ row: number; column: number }>): Promise<Array<Uint8Array | undefined>> {
    const level = this.levels[index] as SourceLevel;
    const out: Array<Uint8Array | undefined> = [];
    for (const t of tiles) {
      // Tissue is an ellipse filling most of the slide; outside it, glass (no tile stored).
      const cx = ((t.column + 0.5) * TILE) / level.totalPixelMatrixColumns - 0.5;
      const cy = ((t.row + 0.5) * TILE) / level.totalPixelMatrixRows - 0.5;
      if (cx * cx + cy * cy > 0.2) {
        out.push(undefined);
        continue;
      }
      const jpeg = this.jpegs[(t.row * 7 + t.column) % this.jpegs.length] as Uint8Array;
      const frame = await decodeFrame(jpeg, '1.2.840.10008.1.2.4.50', { rows: TILE, columns: TILE, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, highBit: 7, pixelRepresentation: 0, photometricInterpretation: 'YBR_FULL_422', planarConfiguration: 0 });
      this.decoded++;
      out.push(new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength));
    }
    return out;
  }
}

/** Peak resident set of this process so far (VmHWM), MiB. */
function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Math.round(process.memoryUsage().rss / 2 ** 20);
}

async function run(registry: ModelRegistry, jpegs: Uint8Array[], pyramid: string, factors: number[]): Promise<Record<string, unknown>> {
  const slide = new VirtualSlide(jpegs, factors);
  const t0 = Date.now();
  const a = await analyzeSlide(slide, registry.model('idc-tile-classifier'));
  const seconds = (Date.now() - t0) / 1000;
  const level = slide.levels[a.level] as SourceLevel;
  return {
    pyramid,
    slide: `${WIDTH} x ${HEIGHT} px at ${BASE_MM * 1000} um/px (${slide.levels.length} levels)`,
    analysedLevel: `${level.totalPixelMatrixColumns} x ${level.totalPixelMatrixRows} px at ${(level.pixelSpacingMm[1] * 1000).toFixed(2)} um/px`,
    cells: a.heatmap.rows * a.heatmap.columns,
    tissueCells: a.tilesAnalysed,
    jpegTilesDecoded: slide.decoded,
    seconds: Number(seconds.toFixed(1)),
    modelTilesPerSecond: Math.round(a.tilesAnalysed / seconds),
    inferenceSeconds: Number((a.timings.inferenceMs / 1000).toFixed(1)),
    tissueSeconds: Number((a.timings.tissueMs / 1000).toFixed(1)),
    peakRssMiB: peakRssMiB(),
    heatmapBytes: a.heatmap.values.byteLength,
  };
}

const PYRAMIDS: Record<string, [string, number[]]> = {
  // A full 2x pyramid has a level at the model's 4 um/px: few tiles to decode.
  full: ['full 2x pyramid', [1, 2, 4, 8, 16, 32, 64, 128, 256]],
  // A scanner pyramid with 40x and 10x only: the 1 um level is read and each 200-pixel cell resampled to 50.
  sparse: ['40x and 10x only (no level at the model spacing)', [1, 4, 64]],
};

async function main(): Promise<void> {
  const registry = await ModelRegistry.load(path.join(projectRoot, 'models'), { intraOpNumThreads: Number(arg('threads', '2')) });
  const jpegs = await jpegTiles();
  const which = arg('pyramid', 'both');
  for (const key of which === 'both' ? Object.keys(PYRAMIDS) : [which]) {
    const [name, factors] = PYRAMIDS[key] ?? (() => { throw new Error(`--pyramid is full, sparse or both, not ${key}`); })();
    const figures = await run(registry, jpegs, name, factors);
    console.log(JSON_ONLY ? JSON.stringify(figures) : JSON.stringify(figures, null, 2));
  }
  await registry.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
