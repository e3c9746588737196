// Every pipeline Sentinel runs, listed once. Adding one is a folder under pipelines/ that
// exports its definition, and one line here; the pipeline names the configuration accepts,
// the routing, the worker, `sentinel analyze` and the reports all come from this list.
import { SentinelError } from '../errors/errors';
import type { ModelManifest } from '../inference/manifest';
import type { PipelineDefinition } from './definition';
import { mammography } from './mammography';
import { ultrasound } from './ultrasound';
import { wsi } from './wsi';

export const PIPELINES = [mammography, wsi, ultrasound] as const;

export type PipelineName = (typeof PIPELINES)[number]['name'];

export const PIPELINE_NAMES = PIPELINES.map((p) => p.name) as [PipelineName, ...PipelineName[]];

export function isPipelineName(name: string): name is PipelineName {
  return PIPELINES.some((p) => p.name === name);
}

/** The pipeline of that name; an unknown name (a job row from another version, a typo) is refused for good. */
export function pipelineNamed(name: string): PipelineDefinition<PipelineName> {
  const p = PIPELINES.find((x) => x.name === name);
  if (!p) throw new SentinelError('bad_request', `no pipeline "${name}" (known: ${PIPELINE_NAMES.join(', ')})`);
  return p;
}

/** Why the pipeline does not read an object of this SOP class, or undefined when it does. */
export function sopClassNotRead(pipeline: PipelineDefinition, sopClassUid: string | undefined): string | undefined {
  if (!sopClassUid) return `an object without SOP Class UID is not read by the ${pipeline.label} pipeline`;
  // hasOwn: a UID is never "constructor", but the lookup must not depend on that.
  return Object.hasOwn(pipeline.sopClasses, sopClassUid) ? undefined : `SOP class ${sopClassUid} is not read by the ${pipeline.label} pipeline`;
}

/** Refuses (for good: retrying cannot help) a model whose manifest is for another pipeline. */
export function assertModelFits(pipeline: PipelineDefinition, manifest: Pick<ModelManifest, 'id' | 'task' | 'modality'>): void {
  if (manifest.task === pipeline.task && manifest.modality === pipeline.modality) return;
  throw new SentinelError('bad_request',
    `model ${manifest.id} (task ${manifest.task}, modality ${manifest.modality}) does not fit the ${pipeline.label} pipeline, which runs ${pipeline.task} models for ${pipeline.modality}`);
}
