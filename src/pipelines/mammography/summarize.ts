// Per breast and per study: the highest image score, and a category from the manifest's
// thresholds (high / intermediate / low), so that the worklist can rank studies.
import type { ModelManifest } from '../../inference/manifest';
import { categoryOf } from '../common/category';
import type { ImageResult, StudyResult } from '../../domain/findings';

export function summarizeStudy(images: ImageResult[], manifest: ModelManifest): Pick<StudyResult, 'score' | 'category' | 'breasts'> {
  const breasts: StudyResult['breasts'] = {};
  for (const side of ['L', 'R'] as const) {
    const scores = images.filter((i) => i.laterality === side).map((i) => i.score);
    if (scores.length) {
      const score = Math.max(...scores);
      breasts[side] = { score, category: categoryOf(score, manifest) };
    }
  }
  const score = images.length ? Math.max(...images.map((i) => i.score)) : 0;
  return { score, category: categoryOf(score, manifest), breasts };
}
