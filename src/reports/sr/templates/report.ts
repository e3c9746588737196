// The TID 1500 report container's own parts: language (TID 1204), the device observer
// (TID 1004: the model, with a UID per model version), the procedure reported, the image
// library (TID 1600), and the study-level qualitative evaluations (score, category, each
// image's classification, the pipeline's study measurements).
import type { NaturalizedDataset } from '../../../dicom/write';
import { type Code, Codes, classCode } from '../../../domain/codes';
import type { Category, DensityAssessment, StudyResult } from '../../../domain/findings';
import type { PipelineReporting } from '../../../domain/reporting';
import { type AlgorithmInfo, deviceUid } from '../../seg/common';
import { codeItem, container, imageItem, numItem, textItem, uidItem } from '../content';
import { Score, findingSite } from './finding';

export function language(): NaturalizedDataset {
  return codeItem('HAS CONCEPT MOD', Codes.languageOfContent, Codes.english, [codeItem('HAS CONCEPT MOD', Codes.countryOfLanguage, Codes.unitedStates)]);
}

export function deviceObserver(algorithm: AlgorithmInfo): NaturalizedDataset[] {
  return [
    codeItem('HAS OBS CONTEXT', Codes.observerType, Codes.device),
    uidItem('HAS OBS CONTEXT', Codes.deviceObserverUid, deviceUid(algorithm)),
    textItem('HAS OBS CONTEXT', Codes.deviceObserverName, 'Sentinel'),
    textItem('HAS OBS CONTEXT', Codes.deviceObserverManufacturer, 'Sentinel'),
    textItem('HAS OBS CONTEXT', Codes.deviceObserverModelName, `${algorithm.modelId} ${algorithm.version}`),
  ];
}

export function procedureReported(reporting: PipelineReporting): NaturalizedDataset {
  return codeItem('HAS CONCEPT MOD', Codes.procedureReported, reporting.procedure);
}

export function imageLibrary(sources: NaturalizedDataset[]): NaturalizedDataset {
  return container('CONTAINS', Codes.imageLibrary, [
    container('CONTAINS', Codes.imageLibraryGroup, sources.map((s) => imageItem('CONTAINS', {
      ReferencedSOPClassUID: String(s.SOPClassUID), ReferencedSOPInstanceUID: String(s.SOPInstanceUID),
    }))),
  ]);
}

function categoryCode(c: Category): Code {
  return c === 'high' ? Codes.high : c === 'intermediate' ? Codes.intermediate : Codes.low;
}

export function qualitativeEvaluations(result: StudyResult, reporting: PipelineReporting, extra: NaturalizedDataset[] = []): NaturalizedDataset {
  const side = findingSite;
  return container('CONTAINS', Codes.qualitativeEvaluations, [
    numItem('CONTAINS', Score, result.score, Codes.ratio),
    ...(result.examScore !== undefined ? [numItem('CONTAINS', Codes.examScore, result.examScore, Codes.scoreUnit)] : []),
    codeItem('CONTAINS', Codes.suspicionCategory, categoryCode(result.category)),
    // Per breast: its score, exam score and category, the breast as a concept modifier.
    ...(['R', 'L'] as const).flatMap((s) => {
      const b = result.breasts[s];
      return b ? [
        numItem('CONTAINS', Score, b.score, Codes.ratio, [side(s)]),
        ...(b.examScore !== undefined ? [numItem('CONTAINS', Codes.examScore, b.examScore, Codes.scoreUnit, [side(s)])] : []),
        codeItem('CONTAINS', Codes.suspicionCategory, categoryCode(b.category), [side(s)]),
      ] : [];
    }),
    // Whole-image classifications: the predicted class with its probability, per image.
    ...result.images.flatMap((i) => (i.classification ? [codeItem('CONTAINS', Codes.aiClassification, classCode(i.classification.predicted), [
      numItem('HAS PROPERTIES', Score, i.score, Codes.ratio),
      imageItem('INFERRED FROM', { ReferencedSOPClassUID: i.image.sopClassUid, ReferencedSOPInstanceUID: i.image.sopInstanceUid }),
    ])] : [])),
    ...(reporting.measurements?.(result) ?? []).map((m) => numItem('CONTAINS', m.concept, m.value, m.unit)),
    ...densityItems(result),
    ...extra,
  ]);
}

/** Breast composition per breast (the breast as finding site) and for the exam, with the probability and the density model. */
function densityItems(result: StudyResult): NaturalizedDataset[] {
  if (!result.density) return [];
  const { exam, breasts } = result.density;
  const item = (d: DensityAssessment, site: NaturalizedDataset[]): NaturalizedDataset => codeItem('CONTAINS', Codes.breastComposition, d.code ?? classCode(d.predicted), [
    ...site,
    numItem('HAS PROPERTIES', Codes.classProbability, d.probabilities[d.predicted] ?? 0, Codes.ratio),
    textItem('HAS CONCEPT MOD', Codes.algorithmName, d.model.name),
    textItem('HAS CONCEPT MOD', Codes.algorithmVersion, d.model.version),
  ]);
  return [
    ...(['R', 'L'] as const).flatMap((s) => (breasts[s] ? [item(breasts[s], [findingSite(s)])] : [])),
    item(exam, []),
  ];
}
