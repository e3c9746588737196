// Each `sentinel eval` task on a tiny folder made here, with deterministic test models whose
// outputs are known by construction, so every expected figure is worked out by hand:
// - test-idc-brightness: tile probability = mean pixel value / 255;
// - test-us-brightness: normal below a mean of 0.3, benign to 0.7, malignant above;
// - sentinel-test-blob (the pipeline tests' model): heatmap = sigmoid(40 (avgpool4 - 0.85)) at
//   0.5 mm, so a 255 disk scores sigmoid(6) = 0.9975 and a 235 disk sigmoid(2.86) = 0.946.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { runEval } from '../../../src/cli/eval-command';
import { EvalError } from '../../../src/evaluation/errors';
import { evaluate } from '../../../src/evaluation/run';
import type { IdcResult } from '../../../src/evaluation/idc';
import type { MammographyResult } from '../../../src/evaluation/mammography';
import type { UltrasoundResult } from '../../../src/evaluation/ultrasound';
import { ModelRegistry } from '../../../src/inference/registry';
import { TEST_IDC_MODEL_ID, TEST_US_MODEL_ID, buildEvalTestModels } from '../../support/models/eval-test-models';
import { TEST_MODEL_ID, buildTestModel } from '../../support/models/test-model';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-eval-'));
const modelsDir = path.join(root, 'models');
const data = path.join(root, 'data');
let registry: ModelRegistry;

async function writeImage(file: string, width: number, height: number, channels: 1 | 3, paint: (x: number, y: number) => number): Promise<void> {
  const buf = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) buf.fill(paint(x, y), (y * width + x) * channels, (y * width + x + 1) * channels);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const img = sharp(buf, { raw: { width, height, channels } });
  await (file.endsWith('.jpg') ? img.jpeg({ quality: 95 }) : img.png()).toFile(file);
}

const uniform = (v: number) => (): number => v;

async function makeIdc(): Promise<void> {
  const patches = path.join(data, 'pathology', 'idc-patches');
  await writeImage(path.join(patches, 'A', '1', 'a1.png'), 50, 50, 3, uniform(204)); // 0.8
  await writeImage(path.join(patches, 'A', '0', 'a0.png'), 50, 50, 3, uniform(51)); // 0.2
  await writeImage(path.join(patches, 'B', '1', 'b1.png'), 50, 50, 3, uniform(102)); // 0.4
  await writeImage(path.join(patches, 'B', '0', 'b0.png'), 50, 50, 3, uniform(153)); // 0.6
  // A slide-edge patch 25 wide: completed with the background 242 -> mean 121 -> 0.4745.
  await writeImage(path.join(patches, 'B', '1', 'b2.png'), 25, 50, 3, uniform(0));
  fs.writeFileSync(path.join(patches, 'B', '1', 'notes.txt'), 'not an image');

  // A 150 x 100 mosaic on the 242 background; the patch at x=120 runs 20 px past the right edge.
  const slides = path.join(data, 'pathology', 'idc-slides');
  // Its IDC patch at x=120 is 30 columns of 0 then 20 of background: 96.8 -> 0.380, above the
  // negative patch of 77 (0.302) only if the missing part is completed with 242.
  await writeImage(path.join(slides, 'S1.jpg'), 150, 100, 3, (x, y) => {
    if (y < 50) return x < 50 ? 204 : x < 100 ? 51 : 242;
    return x < 50 ? 77 : x >= 120 ? 0 : 242;
  });
  fs.writeFileSync(path.join(slides, 'patches.csv'), 'slide,x,y,label\nS1,0,0,1\nS1,50,0,0\nS1,0,50,0\nS1,120,50,1\n');
}

/** A 320 x 320 film at 0.2 mm (128 x 128 at the test model's 0.5 mm): breast 120, disks as given. */
async function writeFilm(file: string, disks: Array<{ x: number; y: number; r: number; v: number }>): Promise<void> {
  await writeImage(file, 320, 320, 1, (x, y) => {
    for (const d of disks) if ((x + 0.5 - d.x) ** 2 + (y + 0.5 - d.y) ** 2 <= d.r ** 2) return d.v;
    return x < 260 && y >= 10 && y < 310 ? 120 : 0;
  });
}

async function makeMias(): Promise<void> {
  const dir = path.join(data, 'mammography', 'mini-mias');
  // f1: a mass where the truth says (hit) and a faint unlisted blob (false positive up to threshold 0.94).
  await writeFilm(path.join(dir, 'images', 'f1.png'), [{ x: 100, y: 160, r: 20, v: 255 }, { x: 200, y: 60, r: 20, v: 235 }]);
  await writeFilm(path.join(dir, 'images', 'f2.png'), []); // normal
  // f3: a blob inside an ARCH circle (not counted); its CALC circle has nothing (missed).
  await writeFilm(path.join(dir, 'images', 'f3.png'), [{ x: 80, y: 80, r: 20, v: 255 }]);
  await writeFilm(path.join(dir, 'images', 'f4.png'), [{ x: 150, y: 150, r: 20, v: 255 }]); // normal with a false positive
  await writeFilm(path.join(dir, 'images', 'f5.png'), []); // diffuse CALC without a circle: abnormal, nothing to find
  fs.writeFileSync(path.join(dir, 'truth.csv'), [
    'image,patient,laterality,background_tissue,abnormality,severity,x,y_from_top,radius',
    'f1,P1,R,G,CIRC,B,100,160,30',
    'f2,P1,L,G,NORM,,,,',
    'f3,P2,R,D,ARCH,M,80,80,40',
    'f3,P2,R,D,CALC,M,200,200,25',
    'f4,P2,L,D,NORM,,,,',
    'f5,P3,R,F,CALC,B,,,',
  ].join('\n') + '\n');
}

async function makeBusi(): Promise<void> {
  const dir = path.join(data, 'ultrasound', 'busi');
  // mean / 255 -> predicted: 26 (0.10) normal, 102 (0.40) benign, 128 (0.50) benign,
  // 20 (0.08) normal, 230 (0.90) malignant, 166 (0.65) benign. Sizes differ: resized to 128.
  await writeImage(path.join(dir, 'normal', 'n1.png'), 256, 256, 1, uniform(26));
  await writeImage(path.join(dir, 'normal', 'n2.png'), 200, 150, 1, uniform(102));
  await writeImage(path.join(dir, 'benign', 'b1.png'), 256, 256, 1, uniform(128));
  await writeImage(path.join(dir, 'benign', 'b2.png'), 97, 61, 3, uniform(20)); // RGB: converted to gray as PIL does
  await writeImage(path.join(dir, 'malignant', 'm1.png'), 256, 256, 1, uniform(230));
  await writeImage(path.join(dir, 'malignant', 'm2.png'), 256, 256, 1, uniform(166));
  await writeImage(path.join(dir, 'malignant', 'm2_mask.png'), 256, 256, 1, uniform(255)); // BUSI mask: skipped
}

function writeSplit(modelId: string, splits: Record<string, unknown>): void {
  fs.writeFileSync(path.join(modelsDir, `${modelId}.split.json`), JSON.stringify({ unit: 'test', seed: 0, ...splits }));
}

beforeAll(async () => {
  buildTestModel(modelsDir);
  buildEvalTestModels(modelsDir);
  writeSplit(TEST_IDC_MODEL_ID, { train: ['B'], validation: ['A', 'S1'] });
  writeSplit(TEST_MODEL_ID, { train: ['P2', 'P3'], validation: ['P1'], images: { validation: ['f1', 'f2'] } });
  writeSplit(TEST_US_MODEL_ID, { train: ['normal/n2.png'], validation: ['normal/n1.png', 'benign/b1.png', 'benign/b2.png', 'malignant/m1.png'] });
  await Promise.all([makeIdc(), makeMias(), makeBusi()]);
  registry = await ModelRegistry.load(modelsDir, { intraOpNumThreads: 2 });
});
afterAll(async () => {
  await registry.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const run = (task: string, folder: string, split?: string): Promise<unknown> => evaluate(task, folder, { registry, modelsDir, split, batchSize: 3 });

describe('idc tasks', () => {
  it('idc-patches: pads an edge patch with the background, tile metrics at the manifest threshold', async () => {
    const r = await run('idc-patches', path.join(data, 'pathology', 'idc-patches')) as IdcResult;
    // positives 0.8, 0.4, 0.4745; negatives 0.2, 0.6.
    // AUC: 0.8 beats both, 0.4 and 0.4745 beat 0.2 only: 4 / 6.
    // At 0.5: tp 1 (0.8), fn 2, fp 1 (0.6), tn 1: sensitivity 1/3, specificity 1/2,
    // balanced 5/12, precision 1/2, F1 = 2 (1/2)(1/3) / (5/6) = 0.4.
    expect(r).toEqual({ task: 'idc-patches', model: TEST_IDC_MODEL_ID, n: 5, auc: expect.closeTo(4 / 6, 10) as number,
      balanced_accuracy: expect.closeTo(5 / 12, 10) as number, f1: expect.closeTo(0.4, 10) as number,
      sensitivity: expect.closeTo(1 / 3, 10) as number, specificity: 0.5 });
  });

  it('idc-slides: cuts the labelled patches out of the mosaic, completing one past the edge', async () => {
    const r = await run('idc-slides', path.join(data, 'pathology', 'idc-slides')) as IdcResult;
    // positives 0.8 and the edge patch 0.380; negatives 0.2, 0.302.
    // AUC 1; at 0.5: tp 1, fn 1, tn 2: sensitivity 1/2, specificity 1, F1 = 2 (1)(1/2) / (3/2) = 2/3.
    // The whole-slide part: this fixture's grey squares have no stain, so tissue detection
    // keeps no cell; every labelled tile is then predicted 0 (AUC 0.5, Dice 0).
    expect(r).toEqual({ task: 'idc-slides', model: TEST_IDC_MODEL_ID, n: 4, auc: 1, balanced_accuracy: 0.75,
      f1: expect.closeTo(2 / 3, 10) as number, sensitivity: 0.5, specificity: 1,
      slides: [{ slide: 'S1', auc: 0.5, dice: 0, tiles: 4, tissue_cells: 0, score: 0, seconds: expect.any(Number) as number }],
      slide_auc_mean: 0.5, dice_mean: 0,
      // The one slide's score (0) is every decile of the exam score scale.
      exam_score_scale: { unit: 'slide', n: 1, deciles: [0, 0, 0, 0, 0, 0, 0, 0, 0] } });
  });

  it('idc: both folders together, as train_idc.py formed its splits', async () => {
    const r = await run('idc', path.join(data, 'pathology')) as IdcResult;
    // positives 0.8 0.4 0.4745 0.8 0.380; negatives 0.2 0.6 0.2 0.302.
    // AUC: each 0.2 is beaten 5 times, 0.6 twice, 0.302 five times: 17 / 20.
    // At 0.5: tp 2, fn 3, fp 1, tn 3: sensitivity 2/5, specificity 3/4, precision 2/3, F1 = 0.5.
    expect(r).toEqual({ task: 'idc', model: TEST_IDC_MODEL_ID, n: 9, auc: expect.closeTo(0.85, 10) as number,
      balanced_accuracy: expect.closeTo(0.575, 10) as number, f1: expect.closeTo(0.5, 10) as number,
      sensitivity: expect.closeTo(0.4, 10) as number, specificity: 0.75 });
  });

  it('--split keeps only the slides the split file lists, in either folder', async () => {
    const r = await run('idc', path.join(data, 'pathology'), 'validation') as IdcResult;
    // slide A (0.8 / 0.2) and mosaic S1 (0.8, 0.380 / 0.2, 0.302): every positive above every negative.
    expect(r.n).toBe(6);
    expect(r.auc).toBe(1);
    const train = await run('idc-patches', path.join(data, 'pathology', 'idc-patches'), 'train') as IdcResult;
    expect(train.n).toBe(3);
  });
});

describe('mini-mias task', () => {
  it('image AUC from the pipeline score, FROC counted as train_mg.py counts it', async () => {
    const r = await run('mini-mias', path.join(data, 'mammography', 'mini-mias')) as MammographyResult;
    expect(r.task).toBe('mini-mias');
    expect(r.model).toBe(TEST_MODEL_ID);
    expect(r.n_images).toBe(5);
    // Abnormal f1, f3, f5; normal f2, f4. f1, f3, f4 all score sigmoid(6) (a full 255 cell);
    // f2 and f5 are the same film, so the same low score.
    // f1: beats f2, ties f4 (1.5); f3: the same (1.5); f5: ties f2, below f4 (0.5): 3.5 / 6.
    expect(r.image_auc).toBeCloseTo(3.5 / 6, 12);
    // Target lesions: f1's CIRC (found) and f3's CALC (missed): 1/2 at every threshold.
    // False positives: f4's blob always, f1's faint blob (0.946) up to 0.94; f3's blob is in ARCH.
    // 5 films: 2/5 FP per image at 0.02 ... 0.94 (47 thresholds), 1/5 at 0.96 and 0.98.
    expect(r.froc).toEqual([...Array.from({ length: 47 }, () => [0.4, 0.5]), [0.2, 0.5], [0.2, 0.5]]);
    expect(r.lesion_sensitivity_at_1fp).toBe(0.5);
    // The pipeline's own findings at the manifest's 0.5: the same two false positives and one hit.
    expect(r.pipeline_at_detection).toEqual({ threshold: 0.5, fp_per_image: 0.4, sensitivity: 0.5 });
  });

  it('--split keeps the patients the split file lists', async () => {
    const r = await run('mini-mias', path.join(data, 'mammography', 'mini-mias'), 'validation') as MammographyResult;
    // P1: f1 (abnormal, high) and f2 (normal, low); one lesion, found; f1's faint false positive up to 0.94.
    expect(r.n_images).toBe(2);
    expect(r.image_auc).toBe(1);
    expect(r.froc[0]).toEqual([0.5, 1]);
    expect(r.froc[48]).toEqual([0, 1]);
    expect(r.lesion_sensitivity_at_1fp).toBe(1);
  });
});

describe('busi task', () => {
  it('macro one-vs-rest AUC, accuracy and confusion in manifest class order', async () => {
    const r = await run('busi', path.join(data, 'ultrasound', 'busi')) as UltrasoundResult;
    // truth normal: n1 -> normal, n2 -> benign; benign: b1 -> benign, b2 -> normal;
    // malignant: m1 -> malignant, m2 -> benign. Accuracy 3/6.
    // AUC normal: P(normal) falls with brightness; n1 (0.10) and n2 (0.40) each above 3 of the
    // 4 others (all but b2, 0.08): 6/8. AUC benign: b1 (0.787) above all 4 others, b2 (0.098)
    // below all: 4/8. AUC malignant: m1, m2 brightest: 1. Macro (0.75 + 0.5 + 1) / 3 = 0.75.
    expect(r).toEqual({ task: 'busi', model: TEST_US_MODEL_ID, n: 6, macro_auc: expect.closeTo(0.75, 12) as number, accuracy: 0.5,
      confusion: [[1, 1, 0], [1, 1, 0], [0, 1, 1]], exam_score_scale: expect.objectContaining({ unit: 'image', n: 6 }) as unknown });
    // The scale: the deciles of the six images' malignant probabilities, ascending.
    const { deciles } = r.exam_score_scale;
    expect(deciles).toHaveLength(9);
    expect(deciles).toEqual([...deciles].sort((a, b) => a - b));
  });

  it('--split keeps the images the split file lists', async () => {
    const r = await run('busi', path.join(data, 'ultrasound', 'busi'), 'validation') as UltrasoundResult;
    expect(r.n).toBe(4);
    expect(r.confusion).toEqual([[1, 0, 0], [1, 1, 0], [0, 0, 1]]);
  });
});

describe('errors', () => {
  it('names the problem: unknown task, missing folder, wrong layout, unknown split, wrong model', async () => {
    await expect(run('nope', data)).rejects.toThrow(/unknown task "nope"/);
    await expect(run('busi', path.join(data, 'missing'))).rejects.toThrow(/does not exist/);
    await expect(run('idc-slides', path.join(data, 'pathology', 'idc-patches'))).rejects.toThrow(/patches\.csv not found/);
    await expect(run('idc-patches', path.join(data, 'ultrasound'))).rejects.toThrow(/no SLIDE\/0\/\*\.png/);
    await expect(run('idc', path.join(data, 'ultrasound'))).rejects.toThrow(/neither idc-slides\/ nor idc-patches\//);
    await expect(run('mini-mias', path.join(data, 'pathology'))).rejects.toThrow(/truth\.csv not found/);
    await expect(run('busi', path.join(data, 'mammography', 'mini-mias'))).rejects.toThrow(/has no normal\/, benign\/, malignant\/ folder/);
    await expect(run('busi', path.join(data, 'ultrasound', 'busi'), 'nosuch')).rejects.toThrow(/split "nosuch" is not in .*splits: train, validation/);
    await expect(run('busi', path.join(data, 'ultrasound', 'busi'), 'nosuch')).rejects.toBeInstanceOf(EvalError);
    await expect(evaluate('busi', path.join(data, 'ultrasound', 'busi'), { registry, modelsDir, model: TEST_IDC_MODEL_ID }))
      .rejects.toThrow(/is for task wsi-tile-classification; eval task busi needs a model with task ultrasound-classification/);
  });
});

describe('runEval (the CLI command)', () => {
  let out: jest.SpyInstance;
  let err: jest.SpyInstance;
  beforeEach(() => {
    out = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    err = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('prints one JSON object on stdout and returns 0', async () => {
    expect(await runEval('busi', path.join(data, 'ultrasound', 'busi'), { models: modelsDir, split: 'validation' })).toBe(0);
    expect(out).toHaveBeenCalledTimes(1);
    const printed = JSON.parse(String(out.mock.calls[0]?.[0])) as UltrasoundResult;
    expect(printed).toMatchObject({ task: 'busi', model: TEST_US_MODEL_ID, n: 4 });
    expect(err).not.toHaveBeenCalled();
  });

  it('returns 2 with the reason on stderr when the request is wrong', async () => {
    expect(await runEval('nope', data, { models: modelsDir })).toBe(2);
    expect(String(err.mock.calls[0]?.[0])).toMatch(/unknown task "nope"; tasks:\n {2}idc-patches/);
    expect(await runEval('mini-mias', path.join(data, 'missing'), { models: modelsDir })).toBe(2);
    expect(String(err.mock.calls[1]?.[0])).toMatch(/missing does not exist/);
    expect(await runEval('busi', path.join(data, 'ultrasound', 'busi'), { models: modelsDir, model: 'not-installed' })).toBe(2);
    expect(String(err.mock.calls[2]?.[0])).toMatch(/model not-installed is not installed/);
    expect(out).not.toHaveBeenCalled();
  });
});
