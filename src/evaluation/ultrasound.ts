// Whole-image ultrasound classification on a BUSI-like folder (one folder of PNGs per class,
// named as the manifest's classes), evaluated as models/training/train_busi.py evaluated it:
// each image through classifyUltrasound (the service's code), then the mean of the
// one-vs-rest ROC AUCs, argmax accuracy and the confusion matrix (rows truth, columns
// predicted, classes in manifest order).
import type { Progress } from './progress';
import { type ScoreScale, scoreScale } from './calibration';
import fs from 'node:fs';
import path from 'node:path';
import type { LoadedModel } from '../inference/registry';
import { classifyUltrasound } from '../pipelines/ultrasound/classify';
import { EvalError } from './errors';
import { decodeGray8 } from './images';
import { multiclassMetrics } from './metrics';

export interface UltrasoundItem {
  /** "class/file.png", as the split file names images. */
  name: string;
  file: string;
  truth: number;
}

/**
 * Every PNG of every class folder (train_busi.load), optionally only the named ones. Segmentation
 * masks shipped with the original BUSI release ("..._mask.png") are not images and are skipped.
 */
export function readClassFolders(dir: string, classes: string[], only?: Set<string>): UltrasoundItem[] {
  const layout = `a folder like ultrasound/busi: one folder of PNGs per class (${classes.join(', ')})`;
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new EvalError(`${dir} is not a folder (expected ${layout})`);
  const missing = classes.filter((c) => !fs.existsSync(path.join(dir, c)) || !fs.statSync(path.join(dir, c)).isDirectory());
  if (missing.length) throw new EvalError(`${dir} has no ${missing.map((c) => `${c}/`).join(', ')} folder (expected ${layout})`);
  const items: UltrasoundItem[] = [];
  classes.forEach((cls, truth) => {
    const names = fs.readdirSync(path.join(dir, cls)).filter((f) => f.toLowerCase().endsWith('.png') && !/_mask(_\d+)?\.png$/i.test(f)).sort();
    for (const f of names) {
      const name = `${cls}/${f}`;
      if (!only || only.has(name)) items.push({ name, file: path.join(dir, cls, f), truth });
    }
  });
  return items;
}

export interface UltrasoundResult {
  task: string;
  model: string;
  n: number;
  macro_auc: number;
  accuracy: number;
  confusion: number[][];
  /** The deciles of the images' scores (probability of the manifest's scoreClass). */
  exam_score_scale: ScoreScale;
}

export async function evaluateBusi(task: string, dir: string, model: LoadedModel, opts: { images?: Set<string>; progress?: Progress } = {}): Promise<UltrasoundResult> {
  const spec = model.manifest.outputs.find((o) => o.role === 'class_probabilities');
  if (!spec || spec.classes.length < 2) throw new EvalError(`model ${model.manifest.id} has no class_probabilities output with class names`);
  const items = readClassFolders(dir, spec.classes, opts.images);
  if (!items.length) throw new EvalError(`no images to evaluate in ${dir}${opts.images ? ' for the split asked' : ''}`);
  const probabilities: number[][] = [];
  for (const item of items) {
    const img = await decodeGray8(item.file);
    const r = await classifyUltrasound({ gray8: img.gray8, width: img.width, height: img.height }, model);
    probabilities.push(spec.classes.map((c) => r.probabilities[c] as number));
    opts.progress?.(probabilities.length, items.length);
  }
  const m = multiclassMetrics(items.map((i) => i.truth), probabilities, spec.classes.length);
  const scoreIndex = spec.classes.indexOf(spec.scoreClass ?? '');
  if (scoreIndex < 0) throw new EvalError(`model ${model.manifest.id} names no scoreClass for its class_probabilities output`);
  return {
    task, model: model.manifest.id, n: m.n, macro_auc: m.macro_auc, accuracy: m.accuracy, confusion: m.confusion,
    exam_score_scale: scoreScale('image', probabilities.map((p) => p[scoreIndex] as number)),
  };
}
