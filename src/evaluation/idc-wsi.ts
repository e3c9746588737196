// Slide-level behaviour of the whole-slide path, measured rather than assumed: every IDC
// mosaic goes through analyzeSlide (tissue detection, tile grid, batched inference, map) as a
// slide would, and its map is compared with the pathologist's patch labels: the AUC over
// the labelled tiles, and the Dice of the map thresholded at the manifest's detection
// threshold against the IDC tiles. A labelled tile the tissue detector skipped counts as
// predicted 0 (that is what the pipeline reports for it).
import type { Progress } from './progress';
import { type ScoreScale, scoreScale } from './calibration';
import path from 'node:path';
import { threshold } from '../inference/manifest';
import type { LoadedModel } from '../inference/registry';
import { analyzeSlide } from '../pipelines/wsi/analyze-slide';
import { ImageSlideSource } from '../pipelines/wsi/image-source';
import { readCsv } from './csv';
import { rocAuc } from './metrics';

export interface SlideAgreement {
  slide: string;
  /** AUC over the slide's labelled tiles; null when they are all one class. */
  auc: number | null;
  dice: number;
  tiles: number;
  tissue_cells: number;
  score: number;
  seconds: number;
}

export interface WholeSlideResult {
  slides: SlideAgreement[];
  slide_auc_mean: number | null;
  dice_mean: number;
  /** The deciles of the slides' scores. */
  exam_score_scale: ScoreScale;
}

/** Dice of two boolean sets over the same tiles; 1 when both are empty. */
export function dice(predicted: boolean[], truth: boolean[]): number {
  let both = 0;
  let p = 0;
  let t = 0;
  predicted.forEach((v, i) => {
    if (v) p++;
    if (truth[i]) t++;
    if (v && truth[i]) both++;
  });
  return p + t === 0 ? 1 : (2 * both) / (p + t);
}

export async function evaluateWholeSlides(dir: string, model: LoadedModel, pixelSpacingMm: number, only?: Set<string>, progress?: Progress): Promise<WholeSlideResult> {
  const bySlide = new Map<string, Array<{ x: number; y: number; label: boolean }>>();
  for (const r of readCsv(path.join(dir, 'patches.csv'), ['slide', 'x', 'y', 'label'])) {
    const slide = r.slide as string;
    if (only && !only.has(slide)) continue;
    const rows = bySlide.get(slide) ?? [];
    rows.push({ x: Number(r.x), y: Number(r.y), label: (r.label as string).trim() === '1' });
    bySlide.set(slide, rows);
  }
  const slides: SlideAgreement[] = [];
  const detection = threshold(model.manifest, 'detection');
  for (const [slide, rows] of [...bySlide.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const t0 = Date.now();
    const a = await analyzeSlide(await ImageSlideSource.fromFile(path.join(dir, `${slide}.jpg`), pixelSpacingMm), model);
    const cellPx = a.cellPx;
    const scores = rows.map(({ x, y }) => {
      // The map cell holding the labelled tile's centre.
      const i = Math.floor((y + 25) / cellPx);
      const j = Math.floor((x + 25) / cellPx);
      const v = i < a.heatmap.rows && j < a.heatmap.columns ? (a.heatmap.values[i * a.heatmap.columns + j] as number) : NaN;
      return Number.isNaN(v) ? 0 : v;
    });
    const labels = rows.map((r) => r.label);
    const mixed = labels.some((l) => l) && labels.some((l) => !l);
    slides.push({
      slide,
      auc: mixed ? rocAuc(labels, scores) : null,
      dice: dice(scores.map((s) => s >= detection), labels),
      tiles: rows.length,
      tissue_cells: a.tissueCells,
      score: a.score,
      seconds: (Date.now() - t0) / 1000,
    });
    progress?.(slides.length, bySlide.size);
  }
  const aucs = slides.map((s) => s.auc).filter((v): v is number => v !== null);
  return {
    slides,
    slide_auc_mean: aucs.length ? aucs.reduce((x, y) => x + y, 0) / aucs.length : null,
    dice_mean: slides.length ? slides.reduce((x, s) => x + s.dice, 0) / slides.length : 0,
    exam_score_scale: scoreScale('slide', slides.map((s) => s.score)),
  };
}
