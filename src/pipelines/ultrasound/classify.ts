// Whole-image breast ultrasound classification: the gray image is resized to the model's
// input size exactly as train_busi.py prepared its inputs (PIL bilinear resize, 8-bit
// rounding), normalised through the manifest, and the model gives one probability per class.
// No pixel spacing: the image is used whole, whatever its scale.
import type { LoadedModel } from '../../inference/registry';
import { normalizationLuts } from '../../inference/tensor';
import { SentinelError } from '../../errors/errors';
import { pilResize } from '../common/pil-resample';

export interface UltrasoundInput {
  /** rows x columns display values, row-major. */
  gray8: Uint8Array;
  width: number;
  height: number;
}

export interface UltrasoundClassification {
  /** Manifest class name → probability. */
  probabilities: Record<string, number>;
  /** The most probable class (the first of equals, in manifest order). */
  predicted: string;
}

export async function classifyUltrasound(input: UltrasoundInput, model: LoadedModel): Promise<UltrasoundClassification> {
  const m = model.manifest;
  const spec = m.outputs.find((o) => o.role === 'class_probabilities');
  if (!spec) throw new SentinelError('internal', `model ${m.id} has no class_probabilities output`);
  if (input.gray8.length !== input.width * input.height) {
    throw new SentinelError('bad_request', `ultrasound image: ${input.gray8.length} pixels for ${input.width} x ${input.height}`);
  }
  const { width: iw, height: ih, channels } = m.input;
  const resized = pilResize(input.gray8, input.width, input.height, 1, iw, ih, 'bilinear');
  const luts = normalizationLuts(m);
  // A gray image feeds every input channel (a 3-channel model gets R = G = B).
  const batch = new Float32Array(channels * iw * ih);
  for (let c = 0; c < channels; c++) {
    const lut = luts[c] as Float32Array;
    const base = c * iw * ih;
    for (let i = 0; i < resized.length; i++) batch[base + i] = lut[resized[i] as number] as number;
  }
  const out = (await model.run(batch, 1)).class_probabilities;
  if (!out) throw new SentinelError('internal', `model ${m.id} returned no class_probabilities`);
  const k = out.dims[1] ?? out.data.length;
  if (spec.classes.length !== k) throw new SentinelError('internal', `model ${m.id}: ${k} class outputs but ${spec.classes.length} classes in the manifest`);
  let values = Array.from(out.data.subarray(0, k));
  if (spec.activation === 'none') {
    // Logits: softmax here, stabilised by the largest logit.
    const top = Math.max(...values);
    const e = values.map((v) => Math.exp(v - top));
    const sum = e.reduce((a, b) => a + b, 0);
    values = e.map((v) => v / sum);
  }
  const probabilities: Record<string, number> = {};
  let best = 0;
  spec.classes.forEach((name, i) => {
    probabilities[name] = values[i] as number;
    if ((values[i] as number) > (values[best] as number)) best = i;
  });
  return { probabilities, predicted: spec.classes[best] as string };
}
