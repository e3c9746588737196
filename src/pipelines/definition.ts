// What a pipeline is, to the rest of the house: its name, what it reads (modalities and SOP
// classes), which models it runs (manifest task and modality), how it takes its input (whole
// instances, or a slide's tiles), the analysis itself, and what its reports say about it (the
// SR's procedure code, the ORU's service, study-level measurements). Each `pipelines/<name>/`
// exports one of these and `registry.ts` lists them; nothing else names a pipeline.
import type { PipelineReporting } from '../domain/reporting';
import type { ImageResult, StudyResult } from '../domain/findings';
import type { ParsedDicom } from '../dicom/read';
import type { ModelManifest } from '../inference/manifest';
import type { LoadedModel } from '../inference/registry';
import type { SlideAnalysis, SlidePlan, SlideSource } from './wsi/analyze-slide';

interface PipelineBase<N extends string> {
  name: N;
  /** How messages name the pipeline. */
  label: string;
  /** The modalities of the series it reads (the study fetch takes these series only). */
  modalities: readonly string[];
  /** SOP class UID -> name, of every object it reads; anything else in a study is skipped with its reason. */
  sopClasses: Readonly<Record<string, string>>;
  /** The manifest task and modality a model must declare to run under the pipeline. */
  task: ModelManifest['task'];
  modality: ModelManifest['modality'];
  reporting: PipelineReporting;
  /**
   * Further models the pipeline uses when one is installed, by role: the task each must
   * declare (e.g. an ultrasound segmenter beside the classifier). None is required.
   */
  companions?: Readonly<Record<string, ModelManifest['task']>>;
}

/** The companion models found for a study, by role. */
export type Companions = Readonly<Record<string, LoadedModel | undefined>>;

export interface FindingIds {
  newUid: () => string;
  nextTrackingId: () => string;
}

/**
 * Reads whole Part 10 instances, one image at a time, with the study's other images at hand
 * (a mammogram's other breast); the study result is summarised from them.
 */
export interface InstancePipeline<N extends string = string> extends PipelineBase<N> {
  input: 'instances';
  /**
   * Work on one file that can start as soon as it arrives, while the rest of the study is
   * fetched (mammography decodes its film and brings it to each model's input), for the
   * models the analysis will use; analyseImage finds it done. Never throws: a file that fails
   * here fails again, with its reason, where it is analysed.
   */
  prepare?(bytes: Uint8Array, model: LoadedModel, companions: Companions): void;
  analyseImage(parsed: ParsedDicom, model: LoadedModel, ids: FindingIds, companions: Companions, study: readonly ParsedDicom[]): Promise<ImageResult>;
  summarise(images: ImageResult[], manifest: ModelManifest, companions: Companions): Pick<StudyResult, 'score' | 'category' | 'breasts' | 'density'>;
}

/**
 * How a slide's tissue cells get their probabilities: `here` scores them in this process;
 * a strategy may spread them over other workers instead (the jobs layer does, by ranges).
 */
export type CellScoring = (
  slide: { frameOfReferenceUid: string },
  plan: SlidePlan,
  here: () => Promise<{ probabilities: Float32Array; inferenceMs: number }>,
) => Promise<{ probabilities: Float32Array; inferenceMs: number }>;

export const scoreHere: CellScoring = (_slide, _plan, here) => here();

/** Reads a slide tile by tile through a SlideSource, never whole. */
export interface TilePipeline<N extends string = string> extends PipelineBase<N> {
  input: 'tiles';
  analyseSlide(source: SlideSource, model: LoadedModel, opts: {
    frameOfReferenceUid: string;
    scoring: CellScoring;
    onProgress?: (done: number, total: number) => void | Promise<void>;
  }): Promise<SlideAnalysis>;
}

export type PipelineDefinition<N extends string = string> = InstancePipeline<N> | TilePipeline<N>;
