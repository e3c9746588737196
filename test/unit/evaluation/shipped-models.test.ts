// The shipped models, run through `sentinel eval`'s code (ModelRegistry, onnxruntime-node, the
// pipelines) on their validation split of ../shared/data, reproduce the validation figures
// their training scripts wrote to models/<id>.metrics.json (the model cards' figures).
// All of them see the same pixels as PyTorch did (same decoders; PIL's resize, BOX for the
// mammograms' 0.2 -> 0.8 mm, reproduced bit for bit), so the figures agree to float rounding.
// This test needs the shared data (CI always has it): it fails, never skips, without it.
import fs from 'node:fs';
import path from 'node:path';
import type { IdcResult } from '../../../src/evaluation/idc';
import type { MammographyResult } from '../../../src/evaluation/mammography';
import { evaluate } from '../../../src/evaluation/run';
import type { UltrasoundResult } from '../../../src/evaluation/ultrasound';
import type { UltrasoundSegResult } from '../../../src/evaluation/ultrasound-seg';
import type { DensityEvalResult } from '../../../src/evaluation/density';
import { ModelRegistry } from '../../../src/inference/registry';

const repo = path.resolve(__dirname, '../../..');
const modelsDir = path.join(repo, 'models');
const data = path.resolve(repo, '../shared/data');

function requireData(sub: string): string {
  const dir = path.join(data, sub);
  if (!fs.existsSync(dir)) {
    throw new Error(`this test needs the shared breast-imaging data: ${dir} not found. ` +
      'It reproduces the model cards\' validation figures from ../shared/data (see its README); CI always has it.');
  }
  return dir;
}

type ValidationFigures = Record<string, number | number[] | number[][]>;
function cardFigures(id: string): ValidationFigures {
  const metrics = JSON.parse(fs.readFileSync(path.join(modelsDir, `${id}.metrics.json`), 'utf8')) as { validation: ValidationFigures };
  return metrics.validation;
}

let registry: ModelRegistry;
beforeAll(async () => {
  registry = await ModelRegistry.load(modelsDir, { intraOpNumThreads: 2 });
});
afterAll(() => registry.close());

/** Where the figures are the training script's own: within 5e-5 (expect.closeTo with 4 digits). */
const DIGITS = 4;

describe('shipped models reproduce their validation figures', () => {
  it('idc-tile-classifier: idc-slides and idc-patches together, validation slides', async () => {
    const dir = requireData('pathology');
    const card = cardFigures('idc-tile-classifier');
    const r = await evaluate('idc', dir, { registry, modelsDir, split: 'validation' }) as IdcResult;
    expect(r.model).toBe('idc-tile-classifier');
    expect(r.n).toBe(card.n);
    for (const k of ['auc', 'balanced_accuracy', 'f1', 'sensitivity', 'specificity'] as const) {
      expect({ [k]: r[k] }).toEqual({ [k]: expect.closeTo(card[k] as number, DIGITS) });
    }
  });

  it('idc: the combined task is the two folders together (tile counts add up)', async () => {
    const dir = requireData('pathology');
    const slides = await evaluate('idc-slides', path.join(dir, 'idc-slides'), { registry, modelsDir, split: 'validation' }) as IdcResult;
    const patches = await evaluate('idc-patches', path.join(dir, 'idc-patches'), { registry, modelsDir, split: 'validation' }) as IdcResult;
    expect(slides.n + patches.n).toBe(cardFigures('idc-tile-classifier').n);
    expect(slides.n).toBeGreaterThan(0);
    expect(patches.n).toBeGreaterThan(0);
  });

  it('mg-lesion-detector: mini-MIAS validation patients through analyzeMammogram', async () => {
    const dir = requireData('mammography/mini-mias');
    const card = cardFigures('mg-lesion-detector');
    const r = await evaluate('mini-mias', dir, { registry, modelsDir, split: 'validation' }) as MammographyResult;
    expect(r.model).toBe('mg-lesion-detector');
    expect(r.n_images).toBe(card.n_images);
    expect(r.image_auc).toBeCloseTo(card.image_auc as number, 4);
    expect(r.lesion_sensitivity_at_1fp).toBeCloseTo(card.lesion_sensitivity_at_1fp as number, 4);
    const froc = card.froc as number[][];
    expect(r.froc).toHaveLength(froc.length);
    r.froc.forEach(([fp, sens], i) => {
      const [cardFp, cardSens] = froc[i] as [number, number];
      expect(sens).toBeCloseTo(cardSens, 3);
      expect(fp).toBeCloseTo(cardFp, 2); // the metrics file rounds FP/image to 3 decimals
    });
    // The pipeline's own findings at the manifest's detection threshold (0.14, chosen on this
    // split as the best sensitivity at <= 1 FP/image) find the same lesions, under 1 FP/image.
    expect(r.pipeline_at_detection.sensitivity).toBeCloseTo(card.lesion_sensitivity_at_1fp as number, 10);
    expect(r.pipeline_at_detection.fp_per_image).toBeLessThanOrEqual(1);
  });

  it('busi-classifier: validation images', async () => {
    const dir = requireData('ultrasound/busi');
    const card = cardFigures('busi-classifier');
    const r = await evaluate('busi', dir, { registry, modelsDir, split: 'validation' }) as UltrasoundResult;
    expect(r.model).toBe('busi-classifier');
    expect(r.n).toBe(card.n);
    expect(r.macro_auc).toBeCloseTo(card.macro_auc as number, DIGITS);
    expect(r.accuracy).toBeCloseTo(card.accuracy as number, DIGITS);
    expect(r.confusion).toEqual(card.confusion);
  });

  it('busi-segmenter: validation images, masks from busi-masks, Dice and normal-image false area as train_busi_seg.py computed them', async () => {
    const dir = requireData('ultrasound/busi-masks') && requireData('ultrasound');
    const card = cardFigures('busi-segmenter');
    const r = await evaluate('busi-seg', dir, { registry, modelsDir, split: 'validation' }) as UltrasoundSegResult;
    expect(r).toMatchObject({ task: 'busi-seg', model: 'busi-segmenter', n: card.n_images, n_lesion_images: card.n_lesion_images });
    for (const k of ['dice_mean', 'iou_mean', 'dice_benign', 'dice_malignant', 'lesion_images_missed', 'normal_fp_fraction'] as const) {
      expect({ [k]: r[k] }).toEqual({ [k]: expect.closeTo(card[k] as number, 3) });
    }
  }, 300_000); // 97 images through the U-Net on a shared 2-core machine

  it('busi-seg: a folder without busi-masks/ is refused with the layout it needs', async () => {
    const dir = requireData('ultrasound/busi');
    await expect(evaluate('busi-seg', dir, { registry, modelsDir, split: 'validation' })).rejects.toThrow(/has no busi-masks\/ folder \(expected a folder like ultrasound\/, holding busi\/ and busi-masks\/\)/);
  });

  it('mini-mias-density: validation patients\' films, accuracy, kappa and confusion as train_density.py computed them', async () => {
    const dir = requireData('mammography/mini-mias');
    const card = cardFigures('mini-mias-density');
    const r = await evaluate('mini-mias-density', dir, { registry, modelsDir, split: 'validation' }) as DensityEvalResult;
    expect(r).toMatchObject({ task: 'mini-mias-density', model: 'mini-mias-density', n: card.n, confusion: card.confusion });
    expect(r.accuracy).toBeCloseTo(card.accuracy as number, DIGITS);
    expect(r.kappa).toBeCloseTo(card.kappa as number, DIGITS);
    expect(r.kappa_quadratic).toBeCloseTo(card.kappa_quadratic as number, DIGITS);
  }, 120_000);
});
