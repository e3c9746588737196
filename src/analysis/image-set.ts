// Which images of a study a pipeline would analyse now, as one short fingerprint: the SOP
// Instance UIDs of the study's series of the pipeline's modalities (QIDO-RS, no pixels),
// sorted and hashed. Intake compares it with what earlier analyses of the study saw, so new
// images (a re-take, a late series) give a new analysis and the same images again do not;
// Sentinel's own SEG and SR are in other series and never count.
import crypto from 'node:crypto';
import type { DicomwebClient, SeriesSummary } from '../dicomweb/client';
import type { PipelineDefinition } from '../pipelines/definition';

export async function imageSetOf(
  dicomweb: Pick<DicomwebClient, 'searchSeries' | 'searchInstances'>,
  studyInstanceUid: string,
  pipeline: Pick<PipelineDefinition, 'modalities'>,
  /** The study's series when the caller has just searched them (not searched again). */
  known?: SeriesSummary[],
): Promise<string> {
  const series = (known ?? await dicomweb.searchSeries(studyInstanceUid)).filter((s) => pipeline.modalities.includes(s.modality));
  const sops: string[] = [];
  for (const s of series) sops.push(...(await dicomweb.searchInstances(studyInstanceUid, s.seriesInstanceUid)));
  return crypto.createHash('sha256').update([...new Set(sops)].sort().join('\n')).digest('hex').slice(0, 32);
}
