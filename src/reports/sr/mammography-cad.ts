// Mammography CAD SR (PS3.3 A.35.5, root template TID 4000), which breast PACS and
// mammography workstations read for CAD marks, written beside the TID 1500 SR that OHIF reads:
//
//   Mammography CAD Report
//   ├ Language (TID 1204)
//   ├ Image Library: one IMAGE per analysed film, with its laterality, view, orientation,
//   │   dates and pixel spacing (TID 4020)
//   ├ CAD Processing and Findings Summary (TID 4001)
//   │   └ INFERRED FROM one Individual Impression/Recommendation per finding (TID 4003)
//   │       └ Single Image Finding (TID 4006): mass or calcification cluster, its rendering
//   │         intent, the algorithm (TID 4019), certainty, centre and outline (TID 4021)
//   │         each SELECTED FROM its film in the Image Library, by reference
//   │   └ and, where a density model assessed a film, one more Individual Impression holding
//   │     two Single Image Findings of that film:
//   │       ├ Breast geometry: the breast's outline (TID 4008) SELECTED FROM the film
//   │       └ Breast composition: the density model (TID 4019), the certainty (its class
//   │         probability) and the composition (TID 4007, a CID 6000 code), INFERRED FROM the
//   │         breast geometry finding, by reference, which is how it names its film
//   ├ Summary of Detections: succeeded, INFERRED FROM the detections performed (TID 4015/4017)
//   │   on every film of the library, by reference; breast geometry and composition among
//   │   them where assessed
//   └ Summary of Analyses: not attempted (Sentinel performs no TID 4016 analysis)
//
// The IOD allows no UIDREF or SCOORD3D content, and TID 4000 is not extensible: the finding's
// tracking UID and score stay in the TID 1500 SR. A finding at or above the operating point
// is "Presentation Required"; one below it "Presentation Optional" (Sentinel reports only
// findings at or above its detection threshold, so in practice every mark is required).
import { SopClass } from '../../dicom/uid';
import { type NaturalizedDataset, writePart10 } from '../../dicom/write';
import { type Code, Codes } from '../../domain/codes';
import { type DocumentRef, type Finding, type ImageResult, type StudyResult, allFindings } from '../../domain/findings';
import { SentinelError } from '../../errors/errors';
import { type AlgorithmInfo, type SeriesInfo, equipment, newInstance, patientAndStudy } from '../seg/common';
import { type Relationship, codeItem, container, imageItem, numItem, textItem } from './content';
import { documentGeneral, imageEvidence } from './document';
import { language } from './templates/report';

const dcm = (CodeValue: string, CodeMeaning: string): Code => ({ CodeValue, CodingSchemeDesignator: 'DCM', CodeMeaning });
const sct = (CodeValue: string, CodeMeaning: string): Code => ({ CodeValue, CodingSchemeDesignator: 'SCT', CodeMeaning });

export const CadCodes = {
  report: dcm('111036', 'Mammography CAD Report'),
  imageLaterality: dcm('111027', 'Image Laterality'),
  imageView: dcm('111031', 'Image View'),
  imageViewModifier: dcm('111032', 'Image View Modifier'),
  patientOrientationRow: dcm('111044', 'Patient Orientation Row'),
  patientOrientationColumn: dcm('111043', 'Patient Orientation Column'),
  studyDate: dcm('111060', 'Study Date'),
  studyTime: dcm('111061', 'Study Time'),
  contentDate: dcm('111018', 'Content Date'),
  contentTime: dcm('111019', 'Content Time'),
  horizontalPixelSpacing: dcm('111026', 'Horizontal Pixel Spacing'),
  verticalPixelSpacing: dcm('111066', 'Vertical Pixel Spacing'),
  findingsSummary: dcm('111017', 'CAD Processing and Findings Summary'),
  allSucceededWithFindings: dcm('111242', 'All algorithms succeeded; with findings'),
  allSucceededWithoutFindings: dcm('111241', 'All algorithms succeeded; without findings'),
  individualImpression: dcm('111034', 'Individual Impression/Recommendation'),
  renderingIntent: dcm('111056', 'Rendering Intent'),
  presentationRequired: dcm('111150', 'Presentation Required: Rendering device is expected to present'),
  presentationOptional: dcm('111151', 'Presentation Optional: Rendering device may present'),
  singleImageFinding: dcm('111059', 'Single Image Finding'),
  certaintyOfFinding: dcm('111012', 'Certainty of Finding'),
  center: dcm('111010', 'Center'),
  outline: dcm('111041', 'Outline'),
  summaryOfDetections: dcm('111064', 'Summary of Detections'),
  summaryOfAnalyses: dcm('111065', 'Summary of Analyses'),
  succeeded: dcm('111222', 'Succeeded'),
  notAttempted: dcm('111225', 'Not Attempted'),
  successfulDetections: dcm('111063', 'Successful Detections'),
  detectionPerformed: dcm('111022', 'Detection Performed'),
  // CID 6014 Mammography Single Image Finding: a mass seen on one film is a "density" there.
  breastDensity: sct('129793001', 'Mammography breast density'),
  calcificationCluster: sct('129769006', 'Calcification Cluster'),
  breastGeometry: dcm('111100', 'Breast geometry'),
  breastComposition: sct('129715009', 'Breast composition'),
  // TID 4008 row 1.
  breastOutline: dcm('111007', 'Breast Outline Including Pectoral Muscle Tissue'),
  // CID 6022 Side.
  bothBreasts: sct('63762007', 'Both breasts'),
  millimetre: { CodeValue: 'mm', CodingSchemeDesignator: 'UCUM', CodeMeaning: 'millimeter' },
  percent: { CodeValue: '%', CodingSchemeDesignator: 'UCUM', CodeMeaning: 'Percent' },
} as const;

/** CID 4014 View for Mammography, by the image's View Position abbreviation. */
const VIEWS: Record<string, Code> = {
  CC: sct('399162004', 'cranio-caudal'),
  MLO: sct('399368009', 'medio-lateral oblique'),
  ML: sct('399260004', 'medial-lateral'),
  LM: sct('399352003', 'latero-medial'),
  XCCL: sct('399192008', 'cranio-caudal exaggerated laterally'),
  XCCM: sct('399101009', 'cranio-caudal exaggerated medially'),
  LMO: sct('399099002', 'latero-medial oblique'),
  FB: sct('399196006', 'caudo-cranial'),
  SIO: sct('399188001', 'superolateral to inferomedial oblique'),
  ISO: sct('441555000', 'inferomedial to superolateral oblique'),
};

/** The CID 6014 concept of a finding: calcifications as a cluster, anything else as a density (mass). */
export function singleImageFindingCode(f: Pick<Finding, 'type'>): Code {
  return f.type === 'calcification' ? CadCodes.calcificationCluster : CadCodes.breastDensity;
}

export interface MammographyCadInput {
  sources: NaturalizedDataset[];
  result: StudyResult;
  series: SeriesInfo;
  algorithm: AlgorithmInfo;
  /** The model's operating point (its detection threshold): findings at or above it must be shown. */
  operatingPoint: number;
  /** The earlier CAD SR of the study this one replaces. */
  predecessor?: DocumentRef;
  now?: Date;
}

type Item = NaturalizedDataset;

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);
const values = (v: unknown): unknown[] => (v === undefined || v === null || v === '' ? [] : Array.isArray(v) ? v : String(v).split('\\'));

const byReference = (rel: Relationship, path: number[]): Item => ({ RelationshipType: rel, ReferencedContentItemIdentifier: path });
const dateItem = (name: Code, date: string): Item => ({ RelationshipType: 'HAS ACQ CONTEXT', ValueType: 'DATE', ConceptNameCodeSequence: [name], Date: date });
const timeItem = (name: Code, time: string): Item => ({ RelationshipType: 'HAS ACQ CONTEXT', ValueType: 'TIME', ConceptNameCodeSequence: [name], Time: time });

function sideCode(laterality: unknown): Code | undefined {
  return laterality === 'L' ? Codes.leftBreast : laterality === 'R' ? Codes.rightBreast : laterality === 'B' ? CadCodes.bothBreasts : undefined;
}

/** TID 4020: the film and what of its acquisition the image itself says. */
function imageLibraryEntry(s: Item): Item {
  const context: Item[] = [];
  const side = sideCode(s.ImageLaterality ?? s.Laterality);
  if (side) context.push(codeItem('HAS ACQ CONTEXT', CadCodes.imageLaterality, side));
  const viewCode = first(s.ViewCodeSequence) as Item | undefined;
  const view = viewCode?.CodeValue ? { CodeValue: String(viewCode.CodeValue), CodingSchemeDesignator: String(viewCode.CodingSchemeDesignator), CodeMeaning: String(viewCode.CodeMeaning) } : VIEWS[String(s.ViewPosition ?? '')];
  if (view) {
    const modifiers = values(viewCode?.ViewModifierCodeSequence).map((m) => codeItem('HAS CONCEPT MOD', CadCodes.imageViewModifier, m as Code));
    context.push(codeItem('HAS ACQ CONTEXT', CadCodes.imageView, view, modifiers.length ? modifiers : undefined));
  }
  const orientation = values(s.PatientOrientation).map(String);
  if (orientation.length === 2) {
    context.push({ ...textItem('HAS ACQ CONTEXT', CadCodes.patientOrientationRow, orientation[0] as string) });
    context.push({ ...textItem('HAS ACQ CONTEXT', CadCodes.patientOrientationColumn, orientation[1] as string) });
  }
  if (s.StudyDate) context.push(dateItem(CadCodes.studyDate, String(s.StudyDate)));
  if (s.StudyTime) context.push(timeItem(CadCodes.studyTime, String(s.StudyTime)));
  if (s.ContentDate) context.push(dateItem(CadCodes.contentDate, String(s.ContentDate)));
  if (s.ContentTime) context.push(timeItem(CadCodes.contentTime, String(s.ContentTime)));
  // Pixel Spacing (row, column) or, for a projection image, Imager Pixel Spacing.
  const spacing = values(s.PixelSpacing ?? s.ImagerPixelSpacing).map(Number);
  if (spacing.length === 2 && spacing.every((v) => v > 0)) {
    context.push(numItem('HAS ACQ CONTEXT', CadCodes.horizontalPixelSpacing, spacing[1] as number, CadCodes.millimetre));
    context.push(numItem('HAS ACQ CONTEXT', CadCodes.verticalPixelSpacing, spacing[0] as number, CadCodes.millimetre));
  }
  return { ...imageItem('CONTAINS', { ReferencedSOPClassUID: String(s.SOPClassUID), ReferencedSOPInstanceUID: String(s.SOPInstanceUID) }), ...(context.length ? { ContentSequence: context } : {}) };
}

/** TID 4019, as properties of a finding or a detection. */
function algorithmIdentification(algorithm: AlgorithmInfo): Item[] {
  return [
    textItem('HAS PROPERTIES', Codes.algorithmName, algorithm.name),
    textItem('HAS PROPERTIES', Codes.algorithmVersion, algorithm.version),
  ];
}

/** A point or closed polyline on a film, selected from its Image Library entry by reference. */
function geometry(name: Code, points: Array<{ x: number; y: number }>, imagePath: number[]): Item {
  const closed = points.length >= 3 ? [...points, points[0] as { x: number; y: number }] : points;
  return {
    RelationshipType: 'HAS PROPERTIES',
    ValueType: 'SCOORD',
    ConceptNameCodeSequence: [name],
    GraphicType: closed.length === 1 ? 'POINT' : 'POLYLINE',
    GraphicData: closed.flatMap((p) => [Math.fround(p.x), Math.fround(p.y)]),
    ContentSequence: [byReference('SELECTED FROM', imagePath)],
  };
}

/**
 * A film's breast composition as TID 4006 findings: the breast geometry it was assessed on
 * (where the pipeline outlined the breast) and the composition, inferred from it by reference.
 * `path` is the impression's own content item path.
 */
function compositionImpression(image: ImageResult, imagePath: number[], path: number[], algorithm: AlgorithmInfo): Item {
  const density = image.density as NonNullable<ImageResult['density']>;
  const intent = (): Item => codeItem('HAS CONCEPT MOD', CadCodes.renderingIntent, CadCodes.presentationRequired);
  const outline = image.breastOutline ?? [];
  const children: Item[] = [intent()];
  if (outline.length >= 3) {
    children.push(codeItem('CONTAINS', CadCodes.singleImageFinding, CadCodes.breastGeometry, [
      intent(),
      ...algorithmIdentification(algorithm),
      geometry(CadCodes.breastOutline, outline, imagePath),
    ]));
  }
  const probability = density.probabilities[density.predicted] ?? 0;
  children.push(codeItem('CONTAINS', CadCodes.singleImageFinding, CadCodes.breastComposition, [
    intent(),
    ...algorithmIdentification({ name: density.model.name, version: density.model.version, modelId: density.model.id }),
    numItem('HAS PROPERTIES', CadCodes.certaintyOfFinding, Math.round(probability * 1000) / 10, CadCodes.percent),
    codeItem('HAS PROPERTIES', CadCodes.breastComposition, density.code as Code),
    ...(outline.length >= 3 ? [byReference('INFERRED FROM', [...path, 2])] : []),
  ]));
  return container('INFERRED FROM', CadCodes.individualImpression, children);
}

export function buildMammographyCadDataset(input: MammographyCadInput): NaturalizedDataset {
  const { sources, result, series, algorithm } = input;
  const head = sources[0];
  if (!head) throw new SentinelError('bad_request', 'a Mammography CAD SR needs at least one source image');

  // Content item paths (ReferencedContentItemIdentifier): the root is 1, the Image Library is
  // its second child (after the language), film k its k-th entry.
  const IMAGE_LIBRARY = 2;
  const pathOf = new Map(sources.map((s, k) => [String(s.SOPInstanceUID), [1, IMAGE_LIBRARY, k + 1]]));
  const findings = allFindings(result).filter((f) => pathOf.has(f.image.sopInstanceUid));

  const FINDINGS_SUMMARY = 3;
  const impressions = findings.map((f) => {
    const intent = codeItem('HAS CONCEPT MOD', CadCodes.renderingIntent, f.score >= input.operatingPoint ? CadCodes.presentationRequired : CadCodes.presentationOptional);
    const imagePath = pathOf.get(f.image.sopInstanceUid) as number[];
    const finding = codeItem('CONTAINS', CadCodes.singleImageFinding, singleImageFindingCode(f), [
      intent,
      ...algorithmIdentification(algorithm),
      numItem('HAS PROPERTIES', CadCodes.certaintyOfFinding, Math.round(f.score * 1000) / 10, CadCodes.percent),
      geometry(CadCodes.center, [f.centre], imagePath),
      geometry(CadCodes.outline, f.contour, imagePath),
    ]);
    return container('INFERRED FROM', CadCodes.individualImpression, [intent, finding]);
  });
  const assessed = result.images.filter((image) => pathOf.has(image.image.sopInstanceUid) && image.density?.code);
  for (const image of assessed) {
    // The impression's path, then its children: intent (1), breast geometry (2), composition (3).
    const path = [1, FINDINGS_SUMMARY, impressions.length + 1];
    impressions.push(compositionImpression(image, pathOf.get(image.image.sopInstanceUid) as number[], path, algorithm));
  }

  // One detection per kind the model looks for, on every film of the library; breast geometry
  // and composition on the films a density model assessed.
  const everyFilm = sources.map((s) => pathOf.get(String(s.SOPInstanceUID)) as number[]);
  const assessedFilms = assessed.map((image) => pathOf.get(image.image.sopInstanceUid) as number[]);
  const densityModel = assessed[0]?.density?.model;
  const performed: Array<[Code, AlgorithmInfo, number[][]]> = [
    [CadCodes.breastDensity, algorithm, everyFilm],
    [CadCodes.calcificationCluster, algorithm, everyFilm],
    ...(densityModel ? [
      [CadCodes.breastGeometry, algorithm, assessedFilms.filter((_, k) => assessed[k]?.breastOutline?.length)],
      [CadCodes.breastComposition, { name: densityModel.name, version: densityModel.version, modelId: densityModel.id }, assessedFilms],
    ] as Array<[Code, AlgorithmInfo, number[][]]> : []),
  ];
  const detections = performed.filter(([, , films]) => films.length).map(([kind, by, films]) => codeItem('CONTAINS', CadCodes.detectionPerformed, kind, [
    ...algorithmIdentification(by),
    ...films.map((p) => byReference('HAS PROPERTIES', p)),
  ]));

  const content: Item[] = [
    language(),
    container('CONTAINS', Codes.imageLibrary, sources.map(imageLibraryEntry)),
    codeItem('CONTAINS', CadCodes.findingsSummary, impressions.length ? CadCodes.allSucceededWithFindings : CadCodes.allSucceededWithoutFindings, impressions.length ? impressions : undefined),
    codeItem('CONTAINS', CadCodes.summaryOfDetections, CadCodes.succeeded, [container('INFERRED FROM', CadCodes.successfulDetections, detections)]),
    codeItem('CONTAINS', CadCodes.summaryOfAnalyses, CadCodes.notAttempted),
  ];

  return {
    ...patientAndStudy(head),
    ...newInstance(SopClass.MammographyCadSR, 'SR', series, 'Sentinel AI Mammography CAD SR (research use only)', input.now ?? new Date()),
    ...equipment(algorithm, input.now),
    ...documentGeneral(String(head.StudyInstanceUID), sources.map(imageEvidence), input.predecessor),
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [CadCodes.report],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '4000' }],
    ContentSequence: content,
  };
}

export function buildMammographyCadReport(input: MammographyCadInput): Buffer {
  return writePart10(buildMammographyCadDataset(input));
}
