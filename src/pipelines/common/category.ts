// A score's category from the model's operating thresholds (chosen on validation, in the
// manifest), so that the worklist ranks studies the same way for every pipeline.
import type { ModelManifest } from '../../inference/manifest';
import type { Category } from '../findings';

export function categoryOf(score: number, manifest: Pick<ModelManifest, 'thresholds'>): Category {
  if (score >= manifest.thresholds.high) return 'high';
  if (score >= manifest.thresholds.intermediate) return 'intermediate';
  return 'low';
}
