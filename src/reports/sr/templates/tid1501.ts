// TID 1501 Measurement and Qualitative Evaluation Group, for a finding on an image: its first
// measured value (the score) carries the outline as INFERRED FROM SCOORD, which is what OHIF's
// cornerstone SR reader needs to list the group as a measurement.
import type { NaturalizedDataset } from '../../../dicom/write';
import type { Finding, SegmentRef } from '../../../domain/findings';
import type { AlgorithmInfo } from '../../seg/common';
import { container, scoordItem } from '../content';
import { Codes } from '../../../domain/codes';
import { findingItems, refOf, scoreItem } from './finding';

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
