// Breast ultrasound lesion segmentation: the gray image resized to the model's input exactly as
// train_busi_seg.py prepared it (PIL bilinear, 8-bit), normalised through the manifest; the
// model's per-pixel lesion probability brought back to the image's own size (bilinear, as
// torch's interpolate with align_corners=False, or nearest: manifest postprocessing),
// thresholded at thresholds.mask, and its connected components (8- or 4-connected) smaller than
// minComponentAreaFraction of the image dropped, or all but the largest (largestComponentOnly).
import { SentinelError } from '../../errors/errors';
import { threshold } from '../../inference/manifest';
import type { LoadedModel } from '../../inference/registry';
import { normalizationLuts } from '../../inference/tensor';
import { connectedComponents } from '../common/image-ops';
import { pilResize } from '../common/pil-resample';
import type { UltrasoundInput } from './classify';

export interface UltrasoundSegmentation {
  /** width x height, 1 inside a kept component. */
  mask: Uint8Array;
  /** width x height: the kept components' labels (0 = none), as connectedComponents gave them. */
  labels: Int32Array;
  /** The kept components: label and area in pixels. */
  components: Array<{ label: number; area: number }>;
  /** The lesion probability at the image's size. */
  probability: Float32Array;
  width: number;
  height: number;
}

/** Resize a map torch-style (bilinear, align_corners=False, no antialias) or to the nearest source pixel. */
export function resizeMap(src: Float32Array | Uint8Array, sw: number, sh: number, dw: number, dh: number, mode: 'bilinear' | 'nearest'): Float32Array {
  const out = new Float32Array(dw * dh);
  const sx = sw / dw;
  const sy = sh / dh;
  for (let y = 0; y < dh; y++) {
    if (mode === 'nearest') {
      const yy = Math.min(sh - 1, Math.floor(y * sy));
      for (let x = 0; x < dw; x++) out[y * dw + x] = src[yy * sw + Math.min(sw - 1, Math.floor(x * sx))] as number;
      continue;
    }
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(sh - 1, Math.floor(fy));
    const y1 = Math.min(sh - 1, y0 + 1);
    const ly = fy - y0;
    for (let x = 0; x < dw; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5);
      const x0 = Math.min(sw - 1, Math.floor(fx));
      const x1 = Math.min(sw - 1, x0 + 1);
      const lx = fx - x0;
      const a = src[y0 * sw + x0] as number;
      const b = src[y0 * sw + x1] as number;
      const c = src[y1 * sw + x0] as number;
      const d = src[y1 * sw + x1] as number;
      out[y * dw + x] = (1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * c + lx * d);
    }
  }
  return out;
}

export async function segmentUltrasound(input: UltrasoundInput, model: LoadedModel): Promise<UltrasoundSegmentation> {
  const m = model.manifest;
  const spec = m.outputs.find((o) => o.role === 'segmentation_probability');
  if (!spec) throw new SentinelError('internal', `model ${m.id} has no segmentation_probability output`);
  const { width, height, gray8 } = input;
  if (gray8.length !== width * height) throw new SentinelError('bad_request', `ultrasound image: ${gray8.length} pixels for ${width} x ${height}`);
  const { width: iw, height: ih, channels } = m.input;
  const resized = pilResize(gray8, width, height, 1, iw, ih, 'bilinear');
  const luts = normalizationLuts(m);
  const batch = new Float32Array(channels * iw * ih);
  for (let c = 0; c < channels; c++) {
    const lut = luts[c] as Float32Array;
    for (let i = 0; i < resized.length; i++) batch[c * iw * ih + i] = lut[resized[i] as number] as number;
  }
  const out = (await model.run(batch, 1)).segmentation_probability;
  if (!out || out.data.length < iw * ih) throw new SentinelError('internal', `model ${m.id} returned no segmentation_probability of ${iw} x ${ih}`);
  let map = out.data.subarray(0, iw * ih);
  if (spec.activation === 'none') map = map.map((v) => 1 / (1 + Math.exp(-v)));
  const post = m.postprocessing ?? {};
  const probability = resizeMap(map, iw, ih, width, height, post.resizeProbabilityToImage ?? 'bilinear');
  const cut = threshold(m, 'mask');
  const raw = new Uint8Array(width * height);
  for (let i = 0; i < raw.length; i++) raw[i] = (probability[i] as number) >= Math.fround(cut) ? 1 : 0;
  const found = connectedComponents(raw, width, height, post.componentConnectivity ?? 8);
  let components = found.sizes.map((area, label) => ({ label, area })).slice(1)
    .filter((c) => c.area >= (post.minComponentAreaFraction ?? 0) * width * height);
  if (post.largestComponentOnly && components.length > 1) components = [components.reduce((a, b) => (b.area > a.area ? b : a))];
  const kept = new Set(components.map((c) => c.label));
  const mask = new Uint8Array(width * height);
  const labels = new Int32Array(width * height);
  for (let i = 0; i < mask.length; i++) {
    const l = found.labels[i] as number;
    if (l && kept.has(l)) {
      mask[i] = 1;
      labels[i] = l;
    }
  }
  return { mask, labels, components, probability, width, height };
}
