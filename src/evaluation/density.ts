// Breast density on a mini-MIAS-like folder (images/*.png, truth.csv with background_tissue
// F / G / D per film), evaluated as models/training/train_density.py did: each film through
// classifyDensity (the service's code), then accuracy, Cohen's kappa (unweighted, and
// quadratic-weighted) and the confusion matrix (rows truth, columns predicted, manifest order).
import type { Progress } from './progress';
import fs from 'node:fs';
import path from 'node:path';
import type { LoadedModel } from '../inference/registry';
import { classifyDensity } from '../pipelines/mammography/density';
import { readCsv } from './csv';
import { EvalError } from './errors';
import { decodeGray8 } from './images';
import { confusionMatrix } from './metrics';

/** mini-MIAS background tissue codes, in the order of the density model's classes. */
const TISSUE = ['F', 'G', 'D'];

export interface DensityEvalResult {
  task: string;
  model: string;
  n: number;
  accuracy: number;
  kappa: number | null;
  kappa_quadratic: number | null;
  confusion: number[][];
}

/** Cohen's kappa of a confusion matrix, unweighted or quadratic-weighted; null when undefined. */
export function cohenKappa(confusion: number[][], weights: 'none' | 'quadratic' = 'none'): number | null {
  const k = confusion.length;
  const n = confusion.flat().reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const rows = confusion.map((r) => r.reduce((a, b) => a + b, 0));
  const cols = confusion[0]!.map((_, j) => confusion.reduce((a, r) => a + (r[j] as number), 0));
  let observed = 0;
  let expected = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const w = weights === 'quadratic' ? ((i - j) ** 2) / ((k - 1) ** 2) : Number(i !== j);
      observed += w * (confusion[i]![j] as number);
      expected += (w * (rows[i] as number) * (cols[j] as number)) / n;
    }
  }
  return expected > 0 ? 1 - observed / expected : null;
}

export async function evaluateDensity(task: string, dir: string, model: LoadedModel, opts: { patients?: Set<string>; progress?: Progress } = {}): Promise<DensityEvalResult> {
  const csv = path.join(dir, 'truth.csv');
  if (!fs.existsSync(csv)) throw new EvalError(`${csv} not found (expected a folder like mammography/mini-mias: images/*.png and truth.csv)`);
  const spec = model.manifest.outputs.find((o) => o.role === 'class_probabilities');
  if (!spec || spec.classes.length !== TISSUE.length) throw new EvalError(`model ${model.manifest.id} does not give ${TISSUE.length} density classes`);
  const films = new Map<string, number>();
  for (const r of readCsv(csv, ['image', 'patient', 'background_tissue'])) {
    if (opts.patients && !opts.patients.has(r.patient as string)) continue;
    const truth = TISSUE.indexOf(String(r.background_tissue).trim());
    if (truth < 0) throw new EvalError(`${csv}: image ${r.image} has background_tissue "${r.background_tissue}", not one of ${TISSUE.join(', ')}`);
    films.set(r.image as string, truth);
  }
  if (films.size === 0) throw new EvalError(`no films to evaluate in ${dir}${opts.patients ? ' for the split asked' : ''}`);
  const truth: number[] = [];
  const predicted: number[] = [];
  for (const [image, t] of [...films.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const film = await decodeGray8(path.join(dir, 'images', `${image}.png`));
    const r = await classifyDensity(film, model);
    truth.push(t);
    predicted.push(spec.classes.indexOf(r.predicted));
    opts.progress?.(truth.length, films.size);
  }
  const confusion = confusionMatrix(truth, predicted, TISSUE.length);
  return {
    task, model: model.manifest.id, n: truth.length,
    accuracy: truth.filter((t, i) => t === predicted[i]).length / truth.length,
    kappa: cohenKappa(confusion), kappa_quadratic: cohenKappa(confusion, 'quadratic'), confusion,
  };
}
