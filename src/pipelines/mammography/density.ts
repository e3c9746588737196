// Breast density (background tissue) of one film: the gray film resized to the model's input
// with PIL's BOX filter, as train_density.py prepared it, normalised through the manifest; the
// model gives a probability per class (mini-MIAS: fatty, fatty-glandular, dense-glandular).
import type { DensityAssessment, StudyResult } from '../../domain/findings';
import { SentinelError } from '../../errors/errors';
import type { LoadedModel } from '../../inference/registry';
import { normalizationLuts } from '../../inference/tensor';
import { pilResize } from '../common/pil-resample';

// Each film at the model's input size, resized once: when its file arrived (the pipeline's
// prepare) or when it is classified, whichever comes first. Keyed by the film's display pixels.
const resizedFilms = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

/** The film resized to the density model's input (PIL BOX, as in training), once per film and size. */
export function densityInput(film: { gray8: Uint8Array; width: number; height: number }, model: LoadedModel): Uint8Array {
  if (film.gray8.length !== film.width * film.height) throw new SentinelError('bad_request', `film: ${film.gray8.length} pixels for ${film.width} x ${film.height}`);
  const { width: iw, height: ih } = model.manifest.input;
  const key = `${film.width} ${film.height} ${iw} ${ih}`;
  let bySize = resizedFilms.get(film.gray8);
  if (!bySize) resizedFilms.set(film.gray8, (bySize = new Map()));
  let out = bySize.get(key);
  if (!out) bySize.set(key, (out = pilResize(film.gray8, film.width, film.height, 1, iw, ih, 'box')));
  return out;
}

/** The film's composition: the most probable class (the first of equals, in manifest order, least dense first). */
export async function classifyDensity(film: { gray8: Uint8Array; width: number; height: number }, model: LoadedModel): Promise<DensityAssessment> {
  const m = model.manifest;
  const spec = m.outputs.find((o) => o.role === 'class_probabilities');
  if (!spec || spec.classes.length < 2) throw new SentinelError('internal', `model ${m.id} has no class_probabilities output with class names`);
  const { width: iw, height: ih } = m.input;
  const resized = densityInput(film, model);
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
  return assessment(probabilities, spec.classes, spec.classCodes, model.manifest);
}

/** The assessment of given class probabilities: the most probable class (the first of equals) with its rank and code. */
export function assessment(probabilities: Record<string, number>, classes: readonly string[], codes: Record<string, DensityAssessment['code']> | undefined, model: { id: string; version: string; name: string }): DensityAssessment {
  let rank = 0;
  classes.forEach((c, i) => {
    if ((probabilities[c] ?? 0) > (probabilities[classes[rank] as string] ?? 0)) rank = i;
  });
  const predicted = classes[rank] as string;
  return { predicted, rank, probabilities, ...(codes?.[predicted] ? { code: codes[predicted] } : {}), model: { id: model.id, version: model.version, name: model.name } };
}

/**
 * Per breast, the mean of its films' class probabilities and its most probable class; the
 * exam takes the denser breast (BI-RADS: when the breasts differ, the denser one classifies
 * the exam). Undefined when no film was assessed.
 */
export function summarizeDensity(films: Array<{ laterality?: 'L' | 'R'; density?: DensityAssessment }>, classes: readonly string[], codes?: Record<string, DensityAssessment['code']>): StudyDensity | undefined {
  const breasts: StudyDensity['breasts'] = {};
  for (const side of ['R', 'L'] as const) {
    const assessed = films.filter((f) => f.laterality === side && f.density).map((f) => f.density as DensityAssessment);
    if (!assessed.length) continue;
    const mean: Record<string, number> = {};
    for (const c of classes) mean[c] = assessed.reduce((s, d) => s + (d.probabilities[c] ?? 0), 0) / assessed.length;
    breasts[side] = assessment(mean, classes, codes, (assessed[0] as DensityAssessment).model);
  }
  const sides = Object.values(breasts);
  if (!sides.length) return undefined;
  const exam = sides.reduce((a, b) => (b.rank > a.rank || (b.rank === a.rank && (b.probabilities[b.predicted] ?? 0) > (a.probabilities[a.predicted] ?? 0)) ? b : a));
  return { exam, breasts };
}

export type StudyDensity = NonNullable<StudyResult['density']>;
