// The exam score's scale: the deciles of a model's scores over a labelled split, as the
// service computes them (the same pipelines `sentinel eval` runs), written into the model's
// manifest as `calibration.examScore` by `sentinel eval ... --split validation --calibrate`.
import fs from 'node:fs';
import path from 'node:path';
import { EvalError } from './errors';

export interface ScoreScale {
  /** What each score was: a film, an image, a slide. */
  unit: string;
  n: number;
  /** The 10th, 20th, ... 90th percentiles (linear interpolation between order statistics, as numpy's default). */
  deciles: number[];
}

export function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

export function scoreScale(unit: string, scores: readonly number[]): ScoreScale {
  if (scores.length === 0) throw new EvalError('no scores to take deciles of');
  const sorted = [...scores].sort((a, b) => a - b);
  return { unit, n: sorted.length, deciles: Array.from({ length: 9 }, (_, i) => Number(quantile(sorted, (i + 1) / 10).toPrecision(6))) };
}

/** Write the scale into models/<id>.json as calibration.examScore, keeping every other key. */
export function writeCalibration(modelsDir: string, modelId: string, split: string, scale: ScoreScale): string {
  const file = path.join(modelsDir, `${modelId}.json`);
  if (!fs.existsSync(file)) throw new EvalError(`no manifest ${file} to write the calibration into`);
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  manifest.calibration = { examScore: { split, unit: scale.unit, n: scale.n, deciles: scale.deciles } };
  fs.writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return file;
}
