// TID 1501 Measurement and Qualitative Evaluation Group, for a finding on an image: its first
// measured value (the score) carries the outline as INFERRED FROM SCOORD, which is what OHIF's
// cornerstone SR reader needs to list the group as a measurement. An image without outlined
// findings gets a group too, over the whole image, with its score and a comment saying what
// the model said of it: "No AI finding", or the whole-image class of a classifier (breast
// ultrasound). OHIF 3.13's SR viewport fails on an SR without any measurement ("Cannot
// destructure property 'displaySetInstanceUID' of 'measurement'"), and a reader sees on each
// image that it was looked at.
import type { NaturalizedDataset } from '../../../dicom/write';
import type { Finding, ImageResult, SegmentRef } from '../../../domain/findings';
import type { AlgorithmInfo } from '../../seg/common';
import { codeItem, container, numItem, scoordItem, textItem, uidItem } from '../content';
import { Codes, classCode } from '../../../domain/codes';
import { Score, findingItems, findingSite, refOf, scoreItem } from './finding';

/** OHIF maps a measurement group to a tool by its tracking identifier. */
export const OHIF_TRACKING_IDENTIFIER = 'Cornerstone3DTools@^0.1.0:PlanarFreehandROI';

export function tid1501Group(f: Finding, laterality: 'L' | 'R' | undefined, algorithm: AlgorithmInfo, segment?: SegmentRef): NaturalizedDataset {
  const { context, concept, tail } = findingItems(f, laterality, OHIF_TRACKING_IDENTIFIER, segment);
  return container('CONTAINS', Codes.measurementGroup, [
    ...context,
    ...concept,
    scoreItem(f, algorithm, [scoordItem('INFERRED FROM', f.contour, refOf(f))]),
    ...tail,
  ]);
}

/** The whole image as an outline: the area the model looked at. */
function wholeImage(image: ImageResult['image']): Array<{ x: number; y: number }> {
  return [{ x: 0, y: 0 }, { x: image.columns, y: 0 }, { x: image.columns, y: image.rows }, { x: 0, y: image.rows }];
}

/** In words, for the comment: what the model said of the image. */
export function wholeImageComment(image: ImageResult): string {
  const scores = [`AI score ${Number(image.score.toFixed(3))}`, ...(image.examScore !== undefined ? [`exam score ${image.examScore}/10`] : [])].join(', ');
  return image.classification
    ? `AI class ${image.classification.predicted} (whole image, no outline): ${scores}`
    : `No AI finding on this image: ${scores}`;
}

export function tid1501WholeImageGroup(image: ImageResult, laterality: 'L' | 'R' | undefined, algorithm: AlgorithmInfo, trackingUid: string): NaturalizedDataset {
  const site = findingSite(laterality);
  const ref = { ReferencedSOPClassUID: image.image.sopClassUid, ReferencedSOPInstanceUID: image.image.sopInstanceUid, ...(image.image.frameNumber ? { ReferencedFrameNumber: image.image.frameNumber } : {}) };
  return container('CONTAINS', Codes.measurementGroup, [
    textItem('HAS OBS CONTEXT', Codes.trackingIdentifier, OHIF_TRACKING_IDENTIFIER),
    uidItem('HAS OBS CONTEXT', Codes.trackingUniqueIdentifier, trackingUid),
    codeItem('CONTAINS', Codes.finding, image.classification ? classCode(image.classification.predicted) : Codes.noAiFinding),
    site,
    numItem('CONTAINS', Score, image.score, Codes.ratio, [
      scoordItem('INFERRED FROM', wholeImage(image.image), ref),
      textItem('HAS CONCEPT MOD', Codes.algorithmName, algorithm.name),
      textItem('HAS CONCEPT MOD', Codes.algorithmVersion, algorithm.version),
    ]),
    ...(image.examScore !== undefined ? [numItem('CONTAINS', Codes.examScore, image.examScore, Codes.scoreUnit)] : []),
    textItem('CONTAINS', Codes.comment, wholeImageComment(image)),
  ]);
}
