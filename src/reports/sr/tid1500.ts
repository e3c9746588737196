// TID 1500 Measurement Report (PS3.16) in a Comprehensive SR: observer context naming the
// model as device (TID 1004), the image library (TID 1600), one measurement group per
// finding, and study-level qualitative evaluations with the score and category. Tracking
// UIDs match the SEG segments. On an image, a group is TID 1501 whose first measured value
// carries the finding's outline as an INFERRED FROM SCOORD (what OHIF's cornerstone SR
// reader needs to list it as a measurement). On a slide, a group is TID 1410 with the
// outline as its own Image Region SCOORD3D item (in a Comprehensive 3D SR), the planar ROI
// shape slide viewers read: OHIF's microscopy mode looks for exactly that item in each group
// and drops the whole SR from the study without it.
import { SopClass } from '../../dicom/uid';
import { type NaturalizedDataset, writePart10 } from '../../dicom/write';
import { type Category, type Finding, type StudyResult, allFindings } from '../../domain/findings';
import { type Code, Codes, classCode, findingCode } from '../../domain/codes';
import type { PipelineReporting } from '../../domain/reporting';
import { type AlgorithmInfo, type SeriesInfo, lo, newInstance, patientAndStudy } from '../seg/common';
import { type SopRef, codeItem, container, imageItem, numItem, scoord3dItem, scoordItem, textItem, uidItem } from './content';
import { SentinelError } from '../../errors/errors';

/** OHIF maps a measurement group to a tool by its tracking identifier. */
export const OHIF_TRACKING_IDENTIFIER = 'Cornerstone3DTools@^0.1.0:PlanarFreehandROI';

export const Score = { CodeValue: 'AISCORE', CodingSchemeDesignator: '99SENTINEL', CodeMeaning: 'AI suspicion score' } satisfies Code;

export interface Tid1500Input {
  sources: NaturalizedDataset[];
  result: StudyResult;
  series: SeriesInfo;
  algorithm: AlgorithmInfo;
  /** What the analysing pipeline's reports say: procedure reported, study measurements. */
  reporting: PipelineReporting;
  now?: Date;
}

function refOf(f: Finding): SopRef {
  return {
    ReferencedSOPClassUID: f.image.sopClassUid,
    ReferencedSOPInstanceUID: f.image.sopInstanceUid,
    ...(f.image.frameNumber ? { ReferencedFrameNumber: f.image.frameNumber } : {}),
  };
}

function categoryCode(c: Category): Code {
  return c === 'high' ? Codes.high : c === 'intermediate' ? Codes.intermediate : Codes.low;
}

function measurementGroup(f: Finding, laterality: 'L' | 'R' | undefined, algorithm: AlgorithmInfo): NaturalizedDataset {
  const site = laterality
    ? codeItem('HAS CONCEPT MOD', Codes.findingSite, Codes.breast, [codeItem('HAS CONCEPT MOD', Codes.laterality, laterality === 'R' ? Codes.right : Codes.left)])
    : codeItem('HAS CONCEPT MOD', Codes.findingSite, Codes.breast);
  return container('CONTAINS', Codes.measurementGroup, [
    textItem('HAS OBS CONTEXT', Codes.trackingIdentifier, f.slide ? `AI tumour region ${f.trackingId}` : OHIF_TRACKING_IDENTIFIER),
    uidItem('HAS OBS CONTEXT', Codes.trackingUniqueIdentifier, f.trackingUid),
    codeItem('CONTAINS', Codes.finding, findingCode(f)),
    site,
    // Slide findings are placed in the slide's frame of reference (TID 1410 Image Region,
    // SCOORD3D); others on their image (SCOORD under the score), as OHIF expects.
    ...(f.slide ? [scoord3dItem('CONTAINS', f.slide.contourMm, f.slide.frameOfReferenceUid, Codes.imageRegion)] : []),
    numItem('CONTAINS', Score, f.score, Codes.ratio, [
      ...(f.slide ? [] : [scoordItem('INFERRED FROM', f.contour, refOf(f))]),
      textItem('HAS CONCEPT MOD', Codes.algorithmName, algorithm.name),
      textItem('HAS CONCEPT MOD', Codes.algorithmVersion, algorithm.version),
    ]),
    ...(f.areaMm2 !== undefined ? [numItem('CONTAINS', Codes.area, f.areaMm2, Codes.squareMillimetre)] : []),
    textItem('CONTAINS', { CodeValue: 'FINDINGID', CodingSchemeDesignator: '99SENTINEL', CodeMeaning: 'Sentinel finding identifier' }, f.trackingId),
  ]);
}

export function buildTid1500Dataset(input: Tid1500Input): NaturalizedDataset {
  const { sources, result, series, algorithm } = input;
  const first = sources[0];
  if (!first) throw new SentinelError('bad_request', 'a TID 1500 report needs at least one source image');
  const laterality = new Map(result.images.map((i) => [i.image.sopInstanceUid, i.laterality]));

  const bySeries = new Map<string, SopRef[]>();
  for (const s of sources) {
    const list = bySeries.get(String(s.SeriesInstanceUID)) ?? [];
    list.push({ ReferencedSOPClassUID: String(s.SOPClassUID), ReferencedSOPInstanceUID: String(s.SOPInstanceUID) });
    bySeries.set(String(s.SeriesInstanceUID), list);
  }

  const content: NaturalizedDataset[] = [
    codeItem('HAS CONCEPT MOD', Codes.languageOfContent, Codes.english, [codeItem('HAS CONCEPT MOD', Codes.countryOfLanguage, Codes.unitedStates)]),
    codeItem('HAS OBS CONTEXT', Codes.observerType, Codes.device),
    uidItem('HAS OBS CONTEXT', Codes.deviceObserverUid, deviceUid(algorithm)),
    textItem('HAS OBS CONTEXT', Codes.deviceObserverName, 'Sentinel'),
    textItem('HAS OBS CONTEXT', Codes.deviceObserverManufacturer, 'Sentinel'),
    textItem('HAS OBS CONTEXT', Codes.deviceObserverModelName, `${algorithm.modelId} ${algorithm.version}`),
    codeItem('HAS CONCEPT MOD', Codes.procedureReported, input.reporting.procedure),
    container('CONTAINS', Codes.imageLibrary, [
      container('CONTAINS', Codes.imageLibraryGroup, sources.map((s) => imageItem('CONTAINS', {
        ReferencedSOPClassUID: String(s.SOPClassUID), ReferencedSOPInstanceUID: String(s.SOPInstanceUID),
      }))),
    ]),
    // Imaging Measurements is optional in TID 1500: left out when there is nothing to measure.
    ...(allFindings(result).length > 0
      ? [container('CONTAINS', Codes.imagingMeasurements, allFindings(result).map((f) => measurementGroup(f, laterality.get(f.image.sopInstanceUid), algorithm)))]
      : []),
    container('CONTAINS', Codes.qualitativeEvaluations, [
      numItem('CONTAINS', Score, result.score, Codes.ratio),
      codeItem('CONTAINS', Codes.suspicionCategory, categoryCode(result.category)),
      // Whole-image classifications: the predicted class with its probability, per image.
      ...result.images.filter((i) => i.classification).map((i) => codeItem('CONTAINS', Codes.aiClassification, classCode(i.classification!.predicted), [
        numItem('HAS PROPERTIES', Score, i.score, Codes.ratio),
        imageItem('INFERRED FROM', { ReferencedSOPClassUID: i.image.sopClassUid, ReferencedSOPInstanceUID: i.image.sopInstanceUid }),
      ])),
      ...(input.reporting.measurements?.(result) ?? []).map((m) => numItem('CONTAINS', m.concept, m.value, m.unit)),
    ]),
  ];

  return {
    ...patientAndStudy(first),
    // SCOORD3D needs Comprehensive 3D SR.
    ...newInstance(allFindings(result).some((f) => f.slide) ? SopClass.Comprehensive3DSR : SopClass.ComprehensiveSR, 'SR', series, 'Sentinel AI report (research use only)', input.now ?? new Date()),
    Manufacturer: 'Sentinel',
    ManufacturerModelName: algorithm.modelId,
    SoftwareVersions: lo(`${algorithm.modelId} ${algorithm.version}`),
    ReferencedPerformedProcedureStepSequence: [],
    PerformedProcedureCodeSequence: [],
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [Codes.imagingMeasurementReport],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    CodingSchemeIdentificationSequence: [{
      CodingSchemeDesignator: '99SENTINEL',
      CodingSchemeName: 'Sentinel local codes',
      CodingSchemeResponsibleOrganization: 'Sentinel project',
    }],
    CurrentRequestedProcedureEvidenceSequence: [{
      StudyInstanceUID: first.StudyInstanceUID,
      ReferencedSeriesSequence: [...bySeries.entries()].map(([uid, refs]) => ({ SeriesInstanceUID: uid, ReferencedSOPSequence: refs })),
    }],
    ContentSequence: content,
  };
}

/** A stable UID per model and version, so reports from one model are recognisably its own. */
function deviceUid(algorithm: AlgorithmInfo): string {
  let h = 0n;
  for (const ch of `${algorithm.modelId}@${algorithm.version}`) h = (h * 131n + BigInt(ch.charCodeAt(0))) % (1n << 120n);
  return `2.25.${h.toString()}`;
}

export function buildTid1500Report(input: Tid1500Input): Buffer {
  return writePart10(buildTid1500Dataset(input));
}

