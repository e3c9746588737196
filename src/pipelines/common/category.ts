// A score's category from the model's operating thresholds (chosen on validation, in the
// manifest), so that the worklist ranks studies the same way for every pipeline.
import { type ModelManifest, threshold } from '../../inference/manifest';
import type { Category } from '../../domain/findings';

export function categoryOf(score: number, manifest: Pick<ModelManifest, 'id' | 'thresholds'>): Category {
  if (score >= threshold(manifest, 'high')) return 'high';
  if (score >= threshold(manifest, 'intermediate')) return 'intermediate';
  return 'low';
}
