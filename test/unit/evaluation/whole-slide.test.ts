// `sentinel eval idc-slides` also runs every mosaic through the whole-slide path and reports
// per-slide agreement of the map with the pathologist's labels. Tested against answers worked
// out by hand: stained mosaics made here, scored by the deterministic test tile classifier
// (tile probability = mean pixel value / 255, detection threshold 0.5, no map smoothing).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { IdcResult } from '../../../src/evaluation/idc';
import { type WholeSlideResult, dice } from '../../../src/evaluation/idc-wsi';
import { evaluate } from '../../../src/evaluation/run';
import { ModelRegistry } from '../../../src/inference/registry';
import { TEST_IDC_MODEL_ID, buildEvalTestModels } from '../../support/models/eval-test-models';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-wsi-eval-'));
const modelsDir = path.join(root, 'models');
const slides = path.join(root, 'idc-slides');
let registry: ModelRegistry;

/**
 * A mosaic of 50-pixel tiles on the 242 background. A stained tile of value v is (v, v/2,
 * 0.8 v): saturation 127 whatever v (tissue, where the grey background is 0), mean 0.7667 v,
 * so the test model scores it 0.7667 v / 255.
 */
async function mosaic(file: string, columns: number, rows: number, tiles: Record<string, number>): Promise<void> {
  const width = 50 * columns;
  const height = 50 * rows;
  const buf = Buffer.alloc(width * height * 3, 242);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = tiles[`${50 * Math.floor(x / 50)},${50 * Math.floor(y / 50)}`];
      if (v === undefined) continue;
      buf.set([v, Math.round(v / 2), Math.round(0.8 * v)], (y * width + x) * 3);
    }
  }
  await sharp(buf, { raw: { width, height, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toFile(file);
}

beforeAll(async () => {
  buildEvalTestModels(modelsDir);
  fs.mkdirSync(slides, { recursive: true });
  // S2: a hit (240: 0.72), a true negative (120: 0.36), a false positive (220: 0.66), a miss
  // (100: 0.30) and a labelled negative on glass (no tissue: predicted 0).
  await mosaic(path.join(slides, 'S2.jpg'), 3, 2, { '0,0': 240, '50,0': 120, '0,50': 220, '50,50': 100 });
  // S3: two IDC tiles, both found (240: 0.72, 230: 0.69); one class only, so no AUC.
  await mosaic(path.join(slides, 'S3.jpg'), 2, 1, { '0,0': 240, '50,0': 230 });
  fs.writeFileSync(path.join(slides, 'patches.csv'), [
    'slide,x,y,label',
    'S2,0,0,1', 'S2,50,0,0', 'S2,0,50,0', 'S2,50,50,1', 'S2,100,50,0',
    'S3,0,0,1', 'S3,50,0,1',
  ].join('\n') + '\n');
  registry = await ModelRegistry.load(modelsDir, { intraOpNumThreads: 1 });
});
afterAll(async () => {
  await registry.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('whole-slide agreement', () => {
  it('Dice: 2|P and T| / (|P| + |T|), 1 when both are empty', () => {
    expect(dice([true, true, false, false], [true, false, true, false])).toBeCloseTo(0.5);
    expect(dice([false, false], [false, false])).toBe(1);
    expect(dice([true], [false])).toBe(0);
  });

  it('per slide: AUC over the labelled tiles, Dice at the detection threshold, a tile on glass predicted 0; means over slides', async () => {
    const r = await evaluate('idc-slides', slides, { registry, modelsDir, model: TEST_IDC_MODEL_ID }) as IdcResult & WholeSlideResult;
    // S2: positives 0.72 and 0.30, negatives 0.36, 0.66 and 0 (glass). 0.72 beats all three,
    // 0.30 beats only the glass: AUC 4/6. At 0.5: predicted {0.72, 0.66}, truth {0.72, 0.30}:
    // Dice 2 x 1 / (2 + 2) = 0.5. Four stained tiles are tissue.
    // S3: both found: Dice 1. Means: AUC 2/3 (S3 has none), Dice (0.5 + 1) / 2.
    expect(r.slides).toEqual([
      { slide: 'S2', auc: expect.closeTo(4 / 6, 10) as number, dice: 0.5, tiles: 5, tissue_cells: 4, score: expect.any(Number) as number, seconds: expect.any(Number) as number },
      { slide: 'S3', auc: null, dice: 1, tiles: 2, tissue_cells: 2, score: expect.any(Number) as number, seconds: expect.any(Number) as number },
    ]);
    expect(r.slide_auc_mean).toBeCloseTo(4 / 6, 10);
    expect(r.dice_mean).toBeCloseTo(0.75, 10);
  });
});
