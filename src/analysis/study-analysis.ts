// What a study path (whole instances, or slides) hands back to analyze() before the ORU is
// added, and the one refusal for a study with nothing left to analyse.
import type { DocumentRef, SkippedFile, StudyContext, StudyResult } from '../domain/findings';
import type { Output } from '../domain/outputs';
import { SentinelError } from '../errors/errors';
import type { PipelineDefinition } from '../pipelines/definition';

/** What a pipeline's study path hands back before the ORU is added. */
export interface StudyAnalysis {
  result: StudyResult;
  context: StudyContext;
  objects: Output[];
  skipped: SkippedFile[];
  /** The SR documents written (the ORU names them). */
  reports: DocumentRef[];
}

/**
 * A study with nothing left to analyse fails for good (bad_request is never retried): the
 * same files would give the same answer, and the reasons say what to fix before a retry.
 */
export function nothingToAnalyse(pipeline: Pick<PipelineDefinition, 'label'>, skipped: SkippedFile[]): SentinelError {
  if (skipped.length === 0) return new SentinelError('bad_request', `the study holds no instance for the ${pipeline.label} pipeline: nothing to analyse`);
  return new SentinelError('bad_request', `no image of the study could be analysed by the ${pipeline.label} pipeline: ${skipped.map((s) => s.reason).join('; ')}`);
}
