// Evaluation metrics, computed exactly as models/training/common.py, train_mg.py and
// train_busi.py compute them, so that `sentinel eval` can reproduce a model card's figures.
// Pure functions: arrays in, numbers out.
import { SentinelError } from '../errors/errors';

/** Ranks 1..n of `values`, ties given their average rank (scipy.stats.rankdata, method 'average'). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && values[order[j] as number] === values[order[i] as number]) j++;
    // Positions i..j-1 (0-based) hold equal values: ranks i+1..j, average (i+1+j)/2.
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[order[k] as number] = rank;
    i = j;
  }
  return ranks;
}

/**
 * Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties averaged
 * (common.roc_auc): a tied positive/negative pair counts one half. NaN when one class is absent.
 */
export function rocAuc(labels: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  if (labels.length !== scores.length) throw new SentinelError('internal', `rocAuc: ${labels.length} labels but ${scores.length} scores`);
  const ranks = averageRanks(scores);
  let nPos = 0;
  let rankSum = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]) {
      nPos++;
      rankSum += ranks[i] as number;
    }
  }
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export interface ConfusionCounts {
  tp: number;
  tn: number;
  fp: number;
  fn: number;
}

/**
 * Counts at `threshold` (positive when score >= threshold). The training scripts compare
 * float32 scores with the threshold in float32 (numpy casts the scalar to the array's type),
 * so the threshold is rounded to float32 here too: a score exactly at the manifest's
 * threshold stays positive.
 */
export function confusionAt(labels: ArrayLike<boolean>, scores: ArrayLike<number>, threshold: number): ConfusionCounts {
  const t = Math.fround(threshold);
  const c: ConfusionCounts = { tp: 0, tn: 0, fp: 0, fn: 0 };
  for (let i = 0; i < labels.length; i++) {
    const p = (scores[i] as number) >= t;
    if (labels[i]) {
      if (p) c.tp++;
      else c.fn++;
    } else if (p) c.fp++;
    else c.tn++;
  }
  return c;
}

export const sensitivity = (c: ConfusionCounts): number => c.tp / Math.max(1, c.tp + c.fn);
export const specificity = (c: ConfusionCounts): number => c.tn / Math.max(1, c.tn + c.fp);
export const precision = (c: ConfusionCounts): number => c.tp / Math.max(1, c.tp + c.fp);
export const balancedAccuracy = (c: ConfusionCounts): number => (sensitivity(c) + specificity(c)) / 2;

/** F1 = 2 precision recall / (precision + recall), 0 when both are 0 (as common.binary_metrics). */
export function f1Score(c: ConfusionCounts): number {
  const p = precision(c);
  const s = sensitivity(c);
  return (2 * p * s) / Math.max(1e-12, p + s);
}

export interface BinaryMetrics {
  n: number;
  auc: number;
  balanced_accuracy: number;
  f1: number;
  sensitivity: number;
  specificity: number;
  accuracy: number;
  threshold: number;
}

/** common.binary_metrics. */
export function binaryMetrics(labels: ArrayLike<boolean>, scores: ArrayLike<number>, threshold: number): BinaryMetrics {
  const c = confusionAt(labels, scores, threshold);
  return {
    n: labels.length,
    auc: rocAuc(labels, scores),
    balanced_accuracy: balancedAccuracy(c),
    f1: f1Score(c),
    sensitivity: sensitivity(c),
    specificity: specificity(c),
    accuracy: (c.tp + c.tn) / Math.max(1, labels.length),
    threshold,
  };
}

/** Index of the largest value; the first one on ties (numpy argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/** Rows = truth, columns = predicted, both indexed 0..k-1. */
export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, k: number): number[][] {
  if (truth.length !== predicted.length) throw new SentinelError('internal', `confusionMatrix: ${truth.length} truths but ${predicted.length} predictions`);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const row = m[truth[i] as number];
    const col = predicted[i] as number;
    if (!row || col < 0 || col >= k) throw new SentinelError('internal', `confusionMatrix: class index out of range at ${i}`);
    row[col] = (row[col] as number) + 1;
  }
  return m;
}

export interface MulticlassMetrics {
  n: number;
  /** Mean of the one-vs-rest AUCs (train_busi.macro_metrics; NaN if a class is absent). */
  macro_auc: number;
  per_class_auc: number[];
  /** Argmax accuracy. */
  accuracy: number;
  confusion: number[][];
}

/** `probabilities[i]` holds the k class probabilities of item i; `truth[i]` its class index. */
export function multiclassMetrics(truth: ArrayLike<number>, probabilities: ArrayLike<number>[], k: number): MulticlassMetrics {
  const perClass: number[] = [];
  for (let c = 0; c < k; c++) {
    const labels = Array.from(truth, (t) => t === c);
    perClass.push(rocAuc(labels, probabilities.map((p) => p[c] as number)));
  }
  const predicted = probabilities.map((p) => argmax(p));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) if (predicted[i] === truth[i]) correct++;
  return {
    n: truth.length,
    macro_auc: perClass.reduce((a, b) => a + b, 0) / k,
    per_class_auc: perClass,
    accuracy: correct / truth.length,
    confusion: confusionMatrix(truth, predicted, k),
  };
}

// --- FROC (train_mg.froc) -------------------------------------------------------------

export interface Circle {
  x: number;
  y: number;
  r: number;
}

export interface FrocImage {
  /** Lesions to find (CIRC/SPIC/MISC/CALC with a circle). */
  targets: Circle[];
  /** Regions where a detection is neither a hit nor a false positive (ARCH/ASYM circles). */
  ignored: Circle[];
  /** Detection centres at one threshold. */
  detections: Array<{ x: number; y: number }>;
}

const inside = (p: { x: number; y: number }, c: Circle): boolean => (p.x - c.x) ** 2 + (p.y - c.y) ** 2 <= c.r ** 2;

/**
 * One FROC point: a detection whose centre lies inside (or on) a target circle finds every
 * target circle it lies in and is never a false positive, even if the lesion was already
 * found; one outside every target but inside an ignored circle is not counted; any other is
 * a false positive. Sensitivity = lesions found / target lesions, FP rate per image.
 */
export function frocPoint(images: FrocImage[]): { fpPerImage: number; sensitivity: number; hits: number; falsePositives: number; lesions: number } {
  let hits = 0;
  let falsePositives = 0;
  let lesions = 0;
  for (const image of images) {
    lesions += image.targets.length;
    const found = new Set<number>();
    for (const d of image.detections) {
      const inTargets = image.targets.flatMap((t, i) => (inside(d, t) ? [i] : []));
      if (inTargets.length) inTargets.forEach((i) => found.add(i));
      else if (!image.ignored.some((c) => inside(d, c))) falsePositives++;
    }
    hits += found.size;
  }
  return {
    fpPerImage: falsePositives / Math.max(1, images.length),
    sensitivity: hits / Math.max(1, lesions),
    hits,
    falsePositives,
    lesions,
  };
}

/** Best sensitivity among FROC points with at most `fp` false positives per image; 0 if none (train_mg.sens_at_fp). */
export function sensitivityAtFp(curve: Array<[number, number]>, fp = 1): number {
  const ok = curve.filter(([f]) => f <= fp).map(([, s]) => s);
  return ok.length ? Math.max(...ok) : 0;
}

/** numpy.linspace(start, stop, num): start + i * step, the last value exactly `stop`. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num <= 0) return [];
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}
