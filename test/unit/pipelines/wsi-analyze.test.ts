// The whole-slide inference path on a real IDC slide mosaic from the model's validation
// split, with the shipped idc-tile-classifier: map geometry, tissue-only visits, agreement
// with the pathologist's patch labels, independence from the source's tiling, and the same
// probabilities when the cells are scored in the model's lanes, a batch in each.
import fs from 'node:fs';
import path from 'node:path';
import { type LoadedModel, ModelRegistry } from '../../../src/inference/registry';
import { analyzeSlide, chooseLevelIndex, planSlide, scoreCells } from '../../../src/pipelines/wsi/analyze-slide';
import { ImageSlideSource } from '../../../src/pipelines/wsi/image-source';
import type { TileBuffers } from '../../../src/wsi/tiles';
import { rocAuc } from '../../../src/evaluation/metrics';
import { sharedData } from '../../support/shared-data';

const SLIDE = '9124'; // validation split of idc-tile-classifier (models/idc-tile-classifier.split.json)
let registry: ModelRegistry;

beforeAll(async () => {
  registry = await ModelRegistry.load(path.resolve(__dirname, '../../../models'), { intraOpNumThreads: 2 });
});
afterAll(() => registry.close());

function labels(): Array<{ x: number; y: number; label: number }> {
  const csv = fs.readFileSync(sharedData('pathology/idc-slides/patches.csv'), 'utf8').trim().split('\n').slice(1);
  return csv.map((l) => l.split(',')).filter((f) => f[0] === SLIDE).map((f) => ({ x: Number(f[1]), y: Number(f[2]), label: Number(f[3]) }));
}

describe('whole-slide analysis', () => {
  it('picks the pyramid level nearest the model spacing', () => {
    const levels = [0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008].map((s) => ({ totalPixelMatrixRows: 1, totalPixelMatrixColumns: 1, tileRows: 1, tileColumns: 1, pixelSpacingMm: [s, s] as [number, number] }));
    expect(chooseLevelIndex(levels, 0.004)).toBe(4);
    expect(chooseLevelIndex(levels, 0.0035)).toBe(4);
    expect(chooseLevelIndex(levels, 0.0008)).toBe(2);
  });

  it('maps a real slide: tissue cells only, agreeing with the pathologist, the same whatever the tiling', async () => {
    const file = sharedData(`pathology/idc-slides/${SLIDE}.jpg`);
    const model = registry.model('idc-tile-classifier');
    const progress: number[] = [];
    const a = await analyzeSlide(await ImageSlideSource.fromFile(file, 0.004, { tileSize: 256 }), model, { onProgress: (done) => { progress.push(done); } });
    expect(a.level).toBe(0);
    expect(a.cellPx).toBe(50);
    const { width, height } = await (await import('sharp')).default(file).metadata();
    expect([a.heatmap.rows, a.heatmap.columns]).toEqual([Math.ceil(height! / 50), Math.ceil(width! / 50)]);
    expect(a.tissueCells).toBeGreaterThan(100);
    expect(a.tissueCells).toBeLessThan(a.heatmap.rows * a.heatmap.columns); // the mosaic fill is not visited
    expect(progress[progress.length - 1]).toBe(a.tissueCells);

    // Labelled patches sit on the 50-pixel grid: compare the map with the truth there
    // (a patch the tissue detector left out counts as predicted 0).
    const truth = labels();
    const scores = truth.map((t) => {
      const v = a.heatmap.values[Math.floor(t.y / 50) * a.heatmap.columns + Math.floor(t.x / 50)]!;
      return Number.isNaN(v) ? 0 : v;
    });
    const auc = rocAuc(truth.map((t) => t.label === 1), scores);
    console.log(`slide ${SLIDE}: ${a.tissueCells} tissue cells, AUC ${auc.toFixed(3)} over ${truth.length} labelled patches, score ${a.score.toFixed(3)}, ${a.regions.length} regions, ${a.timings.totalMs} ms`);
    expect(auc).toBeGreaterThan(0.8);
    expect(a.category).toBe('high'); // 290 of 465 labelled patches are IDC
    expect(a.regions.length).toBeGreaterThan(0);

    // Tiles of 240 (not a multiple of the 50-pixel cell) must give the very same map.
    const b = await analyzeSlide(await ImageSlideSource.fromFile(file, 0.004, { tileSize: 240 }), model);
    expect(Array.from(b.heatmap.values)).toEqual(Array.from(a.heatmap.values));
  });
});

describe('how a slide is read while the model runs', () => {
  /** An image slide that counts what is asked of it and answers each request after a delay, as a PACS would. */
  class CountingSource {
    requests: number[] = [];
    asked = new Map<string, number>();
    /** Every distinct buffer a level-0 tile came back in. */
    buffers = new Set<Uint8Array>();
    constructor(private readonly inner: ImageSlideSource, private readonly delayMs: number) {}
    get levels(): ImageSlideSource['levels'] {
      return this.inner.levels;
    }
    async readTiles(index: number, tiles: Array<{ row: number; column: number }>, buffers?: TileBuffers): Promise<Array<Uint8Array | undefined>> {
      if (index === 0) {
        this.requests.push(tiles.length);
        for (const t of tiles) this.asked.set(`${t.row},${t.column}`, (this.asked.get(`${t.row},${t.column}`) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, this.delayMs));
      const out = await this.inner.readTiles(index, tiles, buffers);
      if (index === 0) for (const b of out) if (b) this.buffers.add(b);
      return out;
    }
  }

  it('fetches every tile once, many at a time ahead of need, and maps alike whatever the batch, at the level or resampled', async () => {
    const file = sharedData(`pathology/idc-slides/${SLIDE}.jpg`);
    const model = registry.model('idc-tile-classifier');
    // 64-pixel tiles: several hundred of them, so that the fetch order and its chunks are seen.
    for (const spacing of [0.004, 0.003]) {
      const slow = new CountingSource(await ImageSlideSource.fromFile(file, spacing, { tileSize: 64 }), 5);
      const a = await analyzeSlide(slow, model, { batchSize: 32 });
      expect([...slow.asked.values()].every((n) => n === 1)).toBe(true);
      expect(slow.asked.size).toBeGreaterThan(300);
      // Tiles the cells are done with are decoded into again: fewer buffers than tiles.
      expect(slow.buffers.size).toBeLessThan(0.75 * slow.asked.size);
      // Every request but the last few (what is left at the end) carries at least 256 tiles.
      const small = slow.requests.filter((n) => n < 256);
      expect(small.length).toBeLessThanOrEqual(2);
      const one = await analyzeSlide(await ImageSlideSource.fromFile(file, spacing, { tileSize: 64 }), model, { batchSize: 1 });
      expect(Array.from(a.heatmap.values)).toEqual(Array.from(one.heatmap.values));
      expect(a.tilesAnalysed).toBe(one.tilesAnalysed);
    }
  });
});

describe('a slide scored in the model\'s lanes', () => {
  it('keeps a batch in each lane, never packs into a batch still running, and maps as one batch at a time does', async () => {
    const file = sharedData(`pathology/idc-slides/${SLIDE}.jpg`);
    const model = registry.model('idc-tile-classifier');
    const lanes = model.lanes!;
    expect(lanes.count).toBe(2);
    let inFlight = 0;
    let most = 0;
    let overwritten = 0;
    const watched: LoadedModel = {
      manifest: model.manifest,
      run: model.run,
      lanes: {
        count: lanes.count,
        run: async (batch, n) => {
          const { channels, height, width } = model.manifest.input;
          const sent = batch.slice(0, n * channels * height * width);
          most = Math.max(most, ++inFlight);
          try {
            return await lanes.run(batch, n);
          } finally {
            inFlight--;
            // The tensor must hold this batch until its run has returned.
            if (batch.subarray(0, sent.length).some((v, i) => v !== sent[i])) overwritten++;
          }
        },
      },
    };
    const source = await ImageSlideSource.fromFile(file, 0.004, { tileSize: 64 });
    const plan = await planSlide(source, watched);
    const progress: number[] = [];
    const inLanes = await scoreCells(source, watched, plan, plan.todo, { batchSize: 16, onProgress: (done) => void progress.push(done) });
    const oneAtATime = await scoreCells(source, { manifest: model.manifest, run: model.run }, plan, plan.todo, { batchSize: 16 });
    expect(plan.todo.length).toBeGreaterThan(100);
    expect(most).toBe(2);
    expect(overwritten).toBe(0);
    expect(Array.from(inLanes.probabilities)).toEqual(Array.from(oneAtATime.probabilities));
    // Cells done, each batch counted once: rising to every cell.
    expect(progress.every((d, i) => i === 0 || d > (progress[i - 1] as number))).toBe(true);
    expect(progress.at(-1)).toBe(plan.todo.length);
  });
});
