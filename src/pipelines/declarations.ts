// What each pipeline reads and which models it may run, declared once. Analysis (offline and
// in the service) consults this before touching pixels, so a foreign or made-up object in a
// study is skipped with its reason instead of being analysed as if it were the pipeline's
// image, and a model meant for another pipeline is refused instead of scoring garbage.
import { SopClass } from '../dicom/uid';
import { SentinelError } from '../errors/errors';
import type { ModelManifest } from '../inference/manifest';
import type { PipelineName } from './findings';

/** src/samples writes For Presentation (synthetic and mini-MIAS films); For Processing is read the same way. */
export const MAMMOGRAPHY_SOP_CLASSES: Readonly<Record<string, string>> = {
  [SopClass.DigitalMammographyForPresentation]: 'Digital Mammography X-Ray Image Storage - For Presentation',
  [SopClass.DigitalMammographyForProcessing]: 'Digital Mammography X-Ray Image Storage - For Processing',
};

/** src/samples writes Ultrasound Image Storage; a multi-frame clip is read by its first frame. */
export const ULTRASOUND_SOP_CLASSES: Readonly<Record<string, string>> = {
  [SopClass.UltrasoundImage]: 'Ultrasound Image Storage',
  '1.2.840.10008.5.1.4.1.1.3.1': 'Ultrasound Multi-frame Image Storage',
};

/** What `sentinel dicomize` (OrthancWSIDicomizer) writes and the PACS serves for a slide. */
export const WHOLE_SLIDE_SOP_CLASSES: Readonly<Record<string, string>> = {
  [SopClass.VLWholeSlideMicroscopyImage]: 'VL Whole Slide Microscopy Image Storage',
};

export interface PipelineDeclaration {
  /** How messages name the pipeline. */
  label: string;
  /** The manifest task and modality a model must declare to run under the pipeline. */
  task: ModelManifest['task'];
  modality: ModelManifest['modality'];
  sopClasses: Readonly<Record<string, string>>;
}

export const PIPELINES: Readonly<Record<PipelineName, PipelineDeclaration>> = {
  mammography: { label: 'mammography', task: 'mammography-lesion-detection', modality: 'MG', sopClasses: MAMMOGRAPHY_SOP_CLASSES },
  ultrasound: { label: 'ultrasound', task: 'ultrasound-classification', modality: 'US', sopClasses: ULTRASOUND_SOP_CLASSES },
  wsi: { label: 'whole slide', task: 'wsi-tile-classification', modality: 'SM', sopClasses: WHOLE_SLIDE_SOP_CLASSES },
};

/** Why the pipeline does not read an object of this SOP class, or undefined when it does. */
export function sopClassNotRead(pipeline: PipelineName, sopClassUid: string | undefined): string | undefined {
  const p = PIPELINES[pipeline];
  if (!sopClassUid) return `an object without SOP Class UID is not read by the ${p.label} pipeline`;
  // hasOwn: a UID is never "constructor", but the lookup must not depend on that.
  return Object.hasOwn(p.sopClasses, sopClassUid) ? undefined : `SOP class ${sopClassUid} is not read by the ${p.label} pipeline`;
}

/** Refuses (for good: retrying cannot help) a model whose manifest is for another pipeline. */
export function assertModelFits(pipeline: PipelineName, manifest: Pick<ModelManifest, 'id' | 'task' | 'modality'>): void {
  const p = PIPELINES[pipeline];
  if (manifest.task === p.task && manifest.modality === p.modality) return;
  throw new SentinelError('bad_request',
    `model ${manifest.id} (task ${manifest.task}, modality ${manifest.modality}) does not fit the ${p.label} pipeline, which runs ${p.task} models for ${p.modality}`);
}
