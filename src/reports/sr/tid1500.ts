// TID 1500 Measurement Report (PS3.16) in a Comprehensive SR, composed from one unit per
// template (templates/): the report container with its language, device observer (TID 1004:
// the model), procedure and image library (TID 1600); one measurement group per finding, TID
// 1501 on an image (templates/tid1501.ts) or TID 1410 on a slide (templates/tid1410.ts), each
// with its tracking UID matching the SEG segment; and the study-level qualitative evaluations.
import { SopClass } from '../../dicom/uid';
import { type NaturalizedDataset, writePart10 } from '../../dicom/write';
import { Codes } from '../../domain/codes';
import { type DocumentRef, type Finding, type SegmentRef, type SkippedFile, type StudyResult, allFindings } from '../../domain/findings';
import { uidSequence } from '../../dicom/uid';
import type { PipelineReporting } from '../../domain/reporting';
import { SentinelError } from '../../errors/errors';
import { type AlgorithmInfo, type Reader, type SeriesInfo, equipment, newInstance, patientAndStudy, personName } from '../seg/common';
import { codeItem, container, pnameItem, textItem } from './content';
import { documentGeneral, imageEvidence } from './document';
import { deviceObserver, imageLibrary, language, procedureReported, qualitativeEvaluations } from './templates/report';
import { tid1410Group } from './templates/tid1410';
import { tid1501Group, tid1501WholeImageGroup } from './templates/tid1501';

export { OHIF_TRACKING_IDENTIFIER } from './templates/tid1501';
export { Score } from './templates/finding';

export interface Tid1500Input {
  sources: NaturalizedDataset[];
  result: StudyResult;
  series: SeriesInfo;
  algorithm: AlgorithmInfo;
  /** What the analysing pipeline's reports say: procedure reported, study measurements. */
  reporting: PipelineReporting;
  /** The earlier SR of the study this one replaces (re-analysis after new images). */
  predecessor?: DocumentRef;
  /** The SEG segment outlining each finding, by the finding's tracking UID. */
  segments?: ReadonlyMap<string, SegmentRef>;
  /** Images (not slides): a whole-image group over each analysed image without outlined findings ("No AI finding", or its class). */
  outlineImagesWithoutFindings?: boolean;
  /** Files of the study not analysed, each listed with its reason. */
  skipped?: SkippedFile[];
  /** A reader's correction of an AI report: the reader is a person observer beside the device. */
  reader?: Reader;
  now?: Date;
}

/** A slide finding is a TID 1410 planar ROI in the slide's frame of reference; an image finding a TID 1501 group. */
function measurementGroup(f: Finding, laterality: 'L' | 'R' | undefined, algorithm: AlgorithmInfo, segment: SegmentRef | undefined): NaturalizedDataset {
  return f.slide ? tid1410Group({ ...f, slide: f.slide }, laterality, algorithm, segment) : tid1501Group(f, laterality, algorithm, segment);
}

export function buildTid1500Dataset(input: Tid1500Input): NaturalizedDataset {
  const { sources, result, series, algorithm, reporting } = input;
  const first = sources[0];
  if (!first) throw new SentinelError('bad_request', 'a TID 1500 report needs at least one source image');
  const laterality = new Map(result.images.map((i) => [i.image.sopInstanceUid, i.laterality]));

  // The evidence: every object the content tree refers to, the images and the SEGs.
  const evidence = [
    ...sources.map(imageEvidence),
    ...[...input.segments?.values() ?? []].map(({ seg }) => ({ seriesInstanceUid: seg.seriesInstanceUid, ref: { ReferencedSOPClassUID: seg.sopClassUid, ReferencedSOPInstanceUID: seg.sopInstanceUid } })),
  ];

  const findings = allFindings(result);
  // Name-based UIDs, so that the same report written again has the same tracking UIDs.
  const groupUid = uidSequence(`${series.sopInstanceUid}:no-finding`);
  const normal = input.outlineImagesWithoutFindings ? result.images.filter((i) => i.findings.length === 0) : [];
  const groups = [
    ...findings.map((f) => measurementGroup(f, laterality.get(f.image.sopInstanceUid), algorithm, input.segments?.get(f.trackingUid))),
    ...normal.map((i) => tid1501WholeImageGroup(i, i.laterality, algorithm, groupUid())),
  ];
  const skipped = input.skipped ?? [];
  const content: NaturalizedDataset[] = [
    language(),
    ...deviceObserver(algorithm),
    ...(input.reader ? [
      codeItem('HAS OBS CONTEXT', Codes.observerType, Codes.person),
      pnameItem('HAS OBS CONTEXT', Codes.personObserverName, personName(input.reader.name)),
    ] : []),
    procedureReported(reporting),
    imageLibrary(sources),
    // Imaging Measurements is optional in TID 1500: left out when there is nothing to measure.
    ...(groups.length > 0 ? [container('CONTAINS', Codes.imagingMeasurements, groups)] : []),
    qualitativeEvaluations(result, reporting, skipped.map((s) => textItem('CONTAINS', Codes.notAnalysed, `${s.sopInstanceUid ? `image ${s.sopInstanceUid}: ` : ''}${s.reason}`))),
  ];
  // What the study browser shows of the report: its findings, and what was not analysed.
  const said = [findings.length === 0 ? 'no findings' : `${findings.length} finding${findings.length === 1 ? '' : 's'}`];
  if (skipped.length > 0) said.push(`${skipped.length} file${skipped.length === 1 ? '' : 's'} not analysed`);

  return {
    ...patientAndStudy(first),
    ...newInstance(tid1500SopClass(findings), 'SR', series, `Sentinel AI (research use)${input.reader ? ', corrected by a reader' : ''}: ${said.join(', ')}`, input.now ?? new Date()),
    ...equipment(algorithm, input.now),
    ...documentGeneral(String(first.StudyInstanceUID), evidence, input.predecessor),
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [Codes.imagingMeasurementReport],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    CodingSchemeIdentificationSequence: [{
      CodingSchemeDesignator: '99SENTINEL',
      CodingSchemeName: 'Sentinel local codes',
      CodingSchemeResponsibleOrganization: 'Sentinel project',
    }],
    ContentSequence: content,
  };
}

/** The SR's SOP class: Comprehensive 3D SR where a finding is outlined in a slide's frame of reference (SCOORD3D needs it), else Comprehensive SR. */
export function tid1500SopClass(findings: ReadonlyArray<Pick<Finding, 'slide'>>): string {
  return findings.some((f) => f.slide) ? SopClass.Comprehensive3DSR : SopClass.ComprehensiveSR;
}

export function buildTid1500Report(input: Tid1500Input): Buffer {
  return writePart10(buildTid1500Dataset(input));
}

