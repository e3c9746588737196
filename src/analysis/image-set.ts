// Which images of a study a pipeline would analyse now, as one short fingerprint: the SOP
// Instance UIDs of the study's series of the pipeline's modalities (QIDO-RS, no pixels),
// sorted and hashed. Intake compares it with what earlier analyses of the study saw, so new
// images (a re-take, a late series) give a new analysis and the same images again do not;
// Sentinel's own SEG and SR are in other series and never count.
import crypto from 'node:crypto';
import type { DicomwebClient } from '../dicomweb/client';
import type { PipelineDefinition } from '../pipelines/definition';

/** One instance of a study, as QIDO-RS lists it. */
export interface ListedInstance {
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/** The study's instances in its series of the given modalities (QIDO-RS, no pixels): one search a modality. */
export async function listStudyInstances(
  dicomweb: Pick<DicomwebClient, 'searchStudyInstances'>,
  studyInstanceUid: string,
  modalities: readonly string[],
): Promise<ListedInstance[]> {
  const out: ListedInstance[] = [];
  for (const modality of new Set(modalities)) out.push(...await dicomweb.searchStudyInstances(studyInstanceUid, modality));
  return out;
}

export async function imageSetOf(
  dicomweb: Pick<DicomwebClient, 'searchStudyInstances'>,
  studyInstanceUid: string,
  pipeline: Pick<PipelineDefinition, 'modalities'>,
): Promise<string> {
  return fingerprintOf(await listStudyInstances(dicomweb, studyInstanceUid, pipeline.modalities));
}

/** The image set's fingerprint of instances already listed (listStudyInstances). */
export function fingerprintOf(instances: ListedInstance[]): string {
  const sops = instances.map((i) => i.sopInstanceUid);
  return crypto.createHash('sha256').update([...new Set(sops)].sort().join('\n')).digest('hex').slice(0, 32);
}
