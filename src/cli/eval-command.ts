// `sentinel eval <task> <folder> [--model ID] [--models DIR] [--split NAME]`: run an
// installed model through the service's code path (ModelRegistry, onnxruntime-node, the
// pipelines) on a labelled data folder and print one JSON object of metrics on stdout.
//
//   idc-patches  folder like ../shared/data/pathology/idc-patches
//   idc-slides   folder like ../shared/data/pathology/idc-slides
//   idc          folder like ../shared/data/pathology (both of the above together, as
//                train_idc.py formed its splits: the model card's IDC figures need this one)
//   mini-mias    folder like ../shared/data/mammography/mini-mias
//   busi         folder like ../shared/data/ultrasound/busi
//   busi-seg     folder like ../shared/data/ultrasound (busi/ and busi-masks/ together)
//   mini-mias-density  folder like ../shared/data/mammography/mini-mias (background tissue F/G/D)
//
// --split NAME keeps only the slides / patients / images that models/<id>.split.json lists
// under NAME, e.g. `sentinel eval idc ../shared/data/pathology --split validation` gives the
// card's validation figures. Exit code 0 with the JSON; 2 when the request is wrong (unknown
// task, model or split, missing folder, wrong layout), with the reason on stderr; 1 on any
// other failure. A metric that is undefined (an AUC with one class absent) prints as null.
//
// --calibrate (with --split, normally validation) writes the deciles of the scores into the
// model's manifest, `calibration.examScore`: the scale of the 1-10 exam score. Tasks that
// score whole films, images or slides have one (mini-mias, busi, idc-slides); tile tasks not.
import path from 'node:path';
import { loadConfig, projectRoot } from '../config/load';
import { writeCalibration } from '../evaluation/calibration';
import { EvalError } from '../evaluation/errors';
import { EVAL_TASKS, evaluate, usage } from '../evaluation/run';
import { ModelRegistry } from '../inference/registry';
import { progressReporter } from './progress';

export async function runEval(task: string, folder: string, opts: { model?: string; models?: string; split?: string; calibrate?: boolean }): Promise<number> {
  if (!EVAL_TASKS[task]) {
    console.error(`sentinel eval: unknown task "${task}"; tasks:\n${usage()}`);
    return 2;
  }
  if (opts.calibrate && !opts.split) {
    console.error('sentinel eval: --calibrate needs --split (the exam score scale is taken on a held-out split, normally validation)');
    return 2;
  }
  let registry: ModelRegistry | undefined;
  try {
    const config = loadConfig();
    const modelsDir = path.resolve(opts.models ?? path.resolve(projectRoot, config.models.dir));
    registry = await ModelRegistry.load(modelsDir, { intraOpNumThreads: config.models.threads });
    const report = progressReporter();
    const result = await evaluate(task, path.resolve(folder), { registry, modelsDir, model: opts.model, split: opts.split, progress: (phase, done, total) => report(`eval ${task}: ${phase}`, done, total) });
    if (opts.calibrate) {
      if (!('exam_score_scale' in result)) throw new EvalError(`task ${task} scores tiles, not whole films, images or slides: it gives no exam score scale`);
      const file = writeCalibration(modelsDir, result.model, opts.split as string, result.exam_score_scale);
      console.error(`sentinel eval: wrote the exam score scale (${result.exam_score_scale.n} ${result.exam_score_scale.unit}s of split ${opts.split}) into ${file}`);
    }
    console.log(JSON.stringify(result));
    return 0;
  } catch (err) {
    console.error(`sentinel eval: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof EvalError ? 2 : 1;
  } finally {
    await registry?.close();
  }
}
