// Breast ultrasound lesion segmentation on a folder laid out like ../shared/data/ultrasound
// (busi/<class>/<name>.png and busi-masks/<class>/<name>_mask.png, aligned pixel for pixel),
// evaluated as models/training/train_busi_seg.py evaluated it: each image through
// segmentUltrasound (the service's code), then per image at its own resolution Dice and IoU
// against the mask (a lesion image with no overlap scores 0) and, on normal images, the
// fraction of the image predicted as lesion. Means over the benign and malignant images.
import type { Progress } from './progress';
import fs from 'node:fs';
import path from 'node:path';
import type { LoadedModel } from '../inference/registry';
import { segmentUltrasound } from '../pipelines/ultrasound/segment';
import { EvalError } from './errors';
import { decodeGray8 } from './images';
import { readClassFolders } from './ultrasound';

export const BUSI_CLASSES = ['normal', 'benign', 'malignant'];

export interface UltrasoundSegResult {
  task: string;
  model: string;
  n: number;
  n_lesion_images: number;
  dice_mean: number | null;
  iou_mean: number | null;
  dice_benign: number | null;
  dice_malignant: number | null;
  lesion_images_missed: number | null;
  normal_fp_fraction: number | null;
}

const mean = (v: number[]): number | null => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null);

export async function evaluateBusiSeg(task: string, dir: string, model: LoadedModel, opts: { images?: Set<string>; progress?: Progress } = {}): Promise<UltrasoundSegResult> {
  const imagesDir = path.join(dir, 'busi');
  const masksDir = path.join(dir, 'busi-masks');
  if (!fs.existsSync(masksDir)) throw new EvalError(`${dir} has no busi-masks/ folder (expected a folder like ultrasound/, holding busi/ and busi-masks/)`);
  const items = readClassFolders(imagesDir, BUSI_CLASSES, opts.images);
  if (!items.length) throw new EvalError(`no images to evaluate in ${imagesDir}${opts.images ? ' for the split asked' : ''}`);
  const rows: Array<{ cls: string; dice: number; iou: number; fraction: number }> = [];
  for (const item of items) {
    const img = await decodeGray8(item.file);
    const maskFile = path.join(masksDir, item.name.replace(/\.png$/i, '_mask.png'));
    if (!fs.existsSync(maskFile)) throw new EvalError(`no mask ${maskFile} for ${item.name}`);
    const truth = await decodeGray8(maskFile);
    if (truth.width !== img.width || truth.height !== img.height) throw new EvalError(`${item.name}: image ${img.width} x ${img.height} and mask ${truth.width} x ${truth.height} differ`);
    const seg = await segmentUltrasound(img, model);
    let area = 0;
    let gt = 0;
    let inter = 0;
    for (let i = 0; i < seg.mask.length; i++) {
      const p = seg.mask[i] === 1;
      const t = (truth.gray8[i] as number) > 127;
      if (p) area++;
      if (t) gt++;
      if (p && t) inter++;
    }
    const dice = gt === 0 ? Number(area === 0) : (2 * inter) / (area + gt);
    const iou = gt === 0 ? Number(area === 0) : inter / (area + gt - inter);
    rows.push({ cls: BUSI_CLASSES[item.truth] as string, dice, iou, fraction: area / seg.mask.length });
    opts.progress?.(rows.length, items.length);
  }
  const lesion = rows.filter((r) => r.cls !== 'normal');
  return {
    task,
    model: model.manifest.id,
    n: rows.length,
    n_lesion_images: lesion.length,
    dice_mean: mean(lesion.map((r) => r.dice)),
    iou_mean: mean(lesion.map((r) => r.iou)),
    dice_benign: mean(rows.filter((r) => r.cls === 'benign').map((r) => r.dice)),
    dice_malignant: mean(rows.filter((r) => r.cls === 'malignant').map((r) => r.dice)),
    lesion_images_missed: lesion.length ? lesion.filter((r) => r.dice === 0).length / lesion.length : null,
    normal_fp_fraction: mean(rows.filter((r) => r.cls === 'normal').map((r) => r.fraction)),
  };
}
