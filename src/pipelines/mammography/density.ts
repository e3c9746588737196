// Breast density (background tissue) of one film: the gray film resized to the model's input
// with PIL's BOX filter, as train_density.py prepared it, normalised through the manifest; the
// model gives a probability per class (mini-MIAS: fatty, fatty-glandular, dense-glandular).
import { SentinelError } from '../../errors/errors';
import type { LoadedModel } from '../../inference/registry';
import { normalizationLuts } from '../../inference/tensor';
import { pilResize } from '../common/pil-resample';

export interface DensityResult {
  probabilities: Record<string, number>;
  /** The most probable class (the first of equals, in manifest order). */
  predicted: string;
}

export async function classifyDensity(film: { gray8: Uint8Array; width: number; height: number }, model: LoadedModel): Promise<DensityResult> {
  const m = model.manifest;
  const spec = m.outputs.find((o) => o.role === 'class_probabilities');
  if (!spec || spec.classes.length < 2) throw new SentinelError('internal', `model ${m.id} has no class_probabilities output with class names`);
  if (film.gray8.length !== film.width * film.height) throw new SentinelError('bad_request', `film: ${film.gray8.length} pixels for ${film.width} x ${film.height}`);
  const { width: iw, height: ih } = m.input;
  const resized = pilResize(film.gray8, film.width, film.height, 1, iw, ih, 'box');
  const lut = normalizationLuts(m)[0] as Float32Array;
  const batch = new Float32Array(iw * ih);
  for (let i = 0; i < resized.length; i++) batch[i] = lut[resized[i] as number] as number;
  const out = (await model.run(batch, 1)).class_probabilities;
  if (!out || out.data.length < spec.classes.length) throw new SentinelError('internal', `model ${m.id} returned no class_probabilities`);
  const probabilities: Record<string, number> = {};
  let best = 0;
  spec.classes.forEach((c, i) => {
    probabilities[c] = out.data[i] as number;
    if ((out.data[i] as number) > (out.data[best] as number)) best = i;
  });
  return { probabilities, predicted: spec.classes[best] as string };
}
