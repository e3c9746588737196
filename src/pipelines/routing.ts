// Which pipeline and model analyse a study: pure rules over the study's series. Derived
// objects (SEG, SR, PR, KO...) never route a study, so Sentinel's own results, stored back
// into the same study, cannot bring it back in.
import type { RoutingRule } from '../config/schema';
import { SentinelError } from '../errors/errors';
import { PIPELINE_NAMES, type PipelineName, isPipelineName } from './registry';

/** Modalities of objects derived from images: never a reason to analyse a study. */
export const DERIVED_MODALITIES = new Set(['SEG', 'SR', 'PR', 'KO', 'REG', 'RWV', 'DOC', 'ANN', 'PLAN']);

export interface ModelVersion {
  id: string;
  version: string;
}

export type RouteDecision =
  | { kind: 'route'; rule: string; pipeline: PipelineName; model: ModelVersion; companions: string; modalities: string[]; dedupeKey: string }
  | { kind: 'ignore'; reason: string; modalities: string[] };

/** The companion models a study runs with, as one string: "id@version" sorted, joined by "+"; '' for none. */
export function companionKey(companions: readonly ModelVersion[]): string {
  return companions.map((c) => `${c.id}@${c.version}`).sort().join('+');
}

/** One analysis: the study, the pipeline, the model and its companions (a new version of any is a new analysis). */
export function dedupeKey(studyInstanceUid: string, pipeline: string, model: ModelVersion, companions = ''): string {
  return `${studyInstanceUid}|${pipeline}|${model.id}@${model.version}${companions ? `+${companions}` : ''}`;
}

export function routeStudy(
  studyInstanceUid: string,
  seriesModalities: string[],
  rules: RoutingRule[],
  findModel: (id: string) => ModelVersion | undefined,
  /** The installed companion models of a pipeline (none when not given). */
  findCompanions: (pipeline: PipelineName) => readonly ModelVersion[] = () => [],
): RouteDecision {
  const modalities = [...new Set(seriesModalities.filter(Boolean))].sort();
  const imaging = modalities.filter((m) => !DERIVED_MODALITIES.has(m));
  if (imaging.length === 0) {
    return { kind: 'ignore', reason: `no image series (only ${modalities.join(', ') || 'nothing'})`, modalities };
  }
  for (const rule of rules) {
    if (!rule.modalities.some((m) => imaging.includes(m))) continue;
    if (!isPipelineName(rule.pipeline)) return { kind: 'ignore', reason: `rule "${rule.name}" names no known pipeline ("${rule.pipeline}")`, modalities };
    const model = rule.models.map(findModel).find((m): m is ModelVersion => m !== undefined);
    if (!model) return { kind: 'ignore', reason: `rule "${rule.name}" matched but none of its models (${rule.models.join(', ')}) is installed`, modalities };
    const companions = companionKey(findCompanions(rule.pipeline));
    return { kind: 'route', rule: rule.name, pipeline: rule.pipeline, model, companions, modalities, dedupeKey: dedupeKey(studyInstanceUid, rule.pipeline, model, companions) };
  }
  return { kind: 'ignore', reason: `no routing rule for modalities ${imaging.join(', ')}`, modalities };
}

/**
 * Every routing rule names a pipeline of the registry: checked when a service or `sentinel
 * analyze` starts (the configuration itself does not know the pipelines), all problems at once.
 */
export function assertRoutingRules(rules: RoutingRule[]): void {
  const problems = routingRuleProblems(rules);
  if (problems.length > 0) throw new SentinelError('bad_request', `invalid configuration:\n  ${problems.join('\n  ')}`);
}

/** Every routing rule that names no pipeline of the registry, as a sentence. */
export function routingRuleProblems(rules: RoutingRule[]): string[] {
  return rules.filter((r) => !isPipelineName(r.pipeline))
    .map((r) => `routing.rules "${r.name}": pipeline "${r.pipeline}" is not one of ${PIPELINE_NAMES.join(', ')}`);
}
