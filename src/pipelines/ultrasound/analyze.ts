// One breast ultrasound image → an ImageResult: the classifier's probabilities, the
// predicted class, and as image score the probability of the manifest's scoreClass (e.g.
// "malignant"). Whole-image classification: no findings with a location.
import { SentinelError } from '../../errors/errors';
import type { LoadedModel } from '../../inference/registry';
import type { ImageRef, ImageResult } from '../../domain/findings';
import { classifyUltrasound } from './classify';

export async function analyzeUltrasoundImage(
  input: { ref: ImageRef; gray8: Uint8Array; width: number; height: number; laterality?: 'L' | 'R' },
  model: LoadedModel,
): Promise<ImageResult> {
  const spec = model.manifest.outputs.find((o) => o.role === 'class_probabilities');
  if (!spec?.scoreClass) throw new SentinelError('unsupported', `model ${model.manifest.id} names no scoreClass for its class_probabilities output`);
  const classification = await classifyUltrasound({ gray8: input.gray8, width: input.width, height: input.height }, model);
  return {
    image: input.ref,
    ...(input.laterality ? { laterality: input.laterality } : {}),
    score: classification.probabilities[spec.scoreClass] ?? 0,
    findings: [],
    classification,
  };
}
