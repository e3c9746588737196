// `sentinel eval`'s tasks: which data layout each reads, which kind of model it evaluates,
// what a split of the model's split file selects, and which runner computes the metrics.
import fs from 'node:fs';
import { type WholeSlideResult, evaluateWholeSlides } from './idc-wsi';
import type { ModelManifest } from '../inference/manifest';
import type { ModelRegistry } from '../inference/registry';
import { EvalError } from './errors';
import { type IdcResult, type IdcSource, combinedSources, evaluateIdc } from './idc';
import { type MammographyResult, evaluateMiniMias } from './mammography';
import { splitMembers } from './splits';
import { type UltrasoundResult, evaluateBusi } from './ultrasound';
import { type UltrasoundSegResult, evaluateBusiSeg } from './ultrasound-seg';
import { type DensityEvalResult, evaluateDensity } from './density';

export type EvalResult = IdcResult | (IdcResult & WholeSlideResult) | MammographyResult | UltrasoundResult | UltrasoundSegResult | DensityEvalResult;

interface TaskSpec {
  modelTask: ModelManifest['task'];
  folder: string;
}

export const EVAL_TASKS: Record<string, TaskSpec> = {
  'idc-patches': { modelTask: 'wsi-tile-classification', folder: 'like pathology/idc-patches (SLIDE/LABEL/*.png)' },
  'idc-slides': { modelTask: 'wsi-tile-classification', folder: 'like pathology/idc-slides (SLIDE.jpg + patches.csv)' },
  idc: { modelTask: 'wsi-tile-classification', folder: 'like pathology/ (holding idc-slides/ and/or idc-patches/, evaluated together as train_idc.py did)' },
  'mini-mias': { modelTask: 'mammography-lesion-detection', folder: 'like mammography/mini-mias (images/*.png + truth.csv)' },
  busi: { modelTask: 'ultrasound-classification', folder: 'like ultrasound/busi (one folder of PNGs per class)' },
  'mini-mias-density': { modelTask: 'mammography-density', folder: 'like mammography/mini-mias (images/*.png + truth.csv with background_tissue)' },
  'busi-seg': { modelTask: 'ultrasound-segmentation', folder: 'like ultrasound/ (holding busi/ and busi-masks/)' },
};

export function usage(): string {
  return Object.entries(EVAL_TASKS).map(([t, s]) => `  ${t.padEnd(12)} a folder ${s.folder}`).join('\n');
}

export interface EvalOptions {
  registry: ModelRegistry;
  /** Where the model's <id>.split.json lives (the registry's folder). */
  modelsDir: string;
  model?: string;
  split?: string;
  /** Tiles per model run (IDC tasks). */
  batchSize?: number;
  /** Items done of items to do, per phase (tiles, then whole slides for idc-slides). */
  progress?: (phase: string, done: number, total: number) => void;
}

/** The model to evaluate: the one asked for (of the right task), or the only installed one for the task. */
export function chooseModel(registry: ModelRegistry, task: string, modelId?: string): ModelManifest {
  const spec = EVAL_TASKS[task];
  if (!spec) throw new EvalError(`unknown task "${task}"; tasks:\n${usage()}`);
  if (modelId) {
    const m = registry.list().find((x) => x.id === modelId);
    if (!m) throw new EvalError(`model ${modelId} is not installed in ${registry.dir} (installed: ${registry.list().map((x) => x.id).join(', ') || 'none'})`);
    if (m.task !== spec.modelTask) throw new EvalError(`model ${modelId} is for task ${m.task}; eval task ${task} needs a model with task ${spec.modelTask}`);
    return m;
  }
  const candidates = registry.forTask(spec.modelTask);
  if (candidates.length === 0) throw new EvalError(`no ${spec.modelTask} model is installed in ${registry.dir}`);
  if (candidates.length > 1) throw new EvalError(`several ${spec.modelTask} models are installed (${candidates.map((c) => c.id).join(', ')}); choose one with --model`);
  return candidates[0] as ModelManifest;
}

export async function evaluate(task: string, folder: string, opts: EvalOptions): Promise<EvalResult> {
  if (!EVAL_TASKS[task]) throw new EvalError(`unknown task "${task}"; tasks:\n${usage()}`);
  if (!fs.existsSync(folder)) throw new EvalError(`${folder} does not exist (task ${task} needs a folder ${EVAL_TASKS[task].folder})`);
  if (!fs.statSync(folder).isDirectory()) throw new EvalError(`${folder} is not a folder (task ${task} needs a folder ${EVAL_TASKS[task].folder})`);
  const manifest = chooseModel(opts.registry, task, opts.model);
  const model = opts.registry.model(manifest.id);
  const members = opts.split === undefined ? undefined : splitMembers(opts.modelsDir, manifest.id, opts.split);
  const phase = (name: string) => (opts.progress ? (done: number, total: number): void => opts.progress?.(name, done, total) : undefined);
  switch (task) {
    case 'idc-patches':
    case 'idc-slides':
    case 'idc': {
      const sources: IdcSource[] = task === 'idc' ? combinedSources(folder) : [{ kind: task === 'idc-slides' ? 'slides' : 'patches', dir: folder }];
      const tiles = await evaluateIdc(task, sources, model, { slides: members, batchSize: opts.batchSize, progress: phase('tile folders') });
      if (task !== 'idc-slides') return tiles;
      // Mosaics are also run through the whole-slide path, slide by slide.
      return { ...tiles, ...(await evaluateWholeSlides(folder, model, manifest.input.pixelSpacingMm ?? 0.004, members, phase('whole slides'))) };
    }
    case 'mini-mias':
      return evaluateMiniMias(task, folder, model, { patients: members, progress: phase('films') });
    case 'busi':
      return evaluateBusi(task, folder, model, { images: members, progress: phase('images') });
    case 'mini-mias-density':
      return evaluateDensity(task, folder, model, { patients: members, progress: phase('films') });
    case 'busi-seg':
      return evaluateBusiSeg(task, folder, model, { images: members, progress: phase('images') });
    default:
      throw new EvalError(`unknown task "${task}"; tasks:\n${usage()}`);
  }
}
