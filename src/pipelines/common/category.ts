// A score's category from the model's operating thresholds (chosen on validation, in the
// manifest), so that the worklist ranks studies the same way for every pipeline; and its
// exam score, 1-10, the decile of the model's validation scores it falls in.
import { type ModelManifest, threshold } from '../../inference/manifest';
import type { Category, StudyResult } from '../../domain/findings';

export function categoryOf(score: number, manifest: Pick<ModelManifest, 'id' | 'thresholds'>): Category {
  if (score >= threshold(manifest, 'high')) return 'high';
  if (score >= threshold(manifest, 'intermediate')) return 'intermediate';
  return 'low';
}

/** 1 + the number of validation deciles the score exceeds: 1 for the lowest tenth, 10 for the highest. */
export function examScoreOf(score: number, manifest: Pick<ModelManifest, 'calibration'>): number | undefined {
  const deciles = manifest.calibration?.examScore.deciles;
  return deciles ? 1 + deciles.filter((d) => score > d).length : undefined;
}

/** The result with an exam score beside every raw score (study, breast, image, finding); unchanged without a calibration. */
export function withExamScores(result: StudyResult, manifest: Pick<ModelManifest, 'calibration'>): StudyResult {
  if (!manifest.calibration) return result;
  const at = (score: number): number => examScoreOf(score, manifest) as number;
  const breasts: StudyResult['breasts'] = {};
  for (const [side, b] of Object.entries(result.breasts) as Array<['L' | 'R', NonNullable<StudyResult['breasts']['L']>]>) breasts[side] = { ...b, examScore: at(b.score) };
  return {
    ...result,
    examScore: at(result.score),
    breasts,
    images: result.images.map((i) => ({ ...i, examScore: at(i.score), findings: i.findings.map((f) => ({ ...f, examScore: at(f.score) })) })),
  };
}
