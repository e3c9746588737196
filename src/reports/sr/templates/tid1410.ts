// TID 1410 Planar ROI Measurements and Qualitative Evaluations, for a region on a slide: the
// outline as its own Image Region SCOORD3D item in the slide's frame of reference (in a
// Comprehensive 3D SR), the planar ROI shape slide viewers read. OHIF's microscopy mode looks
// for exactly that item in each group and drops the whole SR from the study without it.
import type { NaturalizedDataset } from '../../../dicom/write';
import { Codes } from '../../../domain/codes';
import type { Finding, SegmentRef } from '../../../domain/findings';
import type { AlgorithmInfo } from '../../seg/common';
import { container, scoord3dItem } from '../content';
import { findingItems, scoreItem } from './finding';

export function tid1410Group(f: Finding & { slide: NonNullable<Finding['slide']> }, laterality: 'L' | 'R' | undefined, algorithm: AlgorithmInfo, segment?: SegmentRef): NaturalizedDataset {
  const { context, concept, tail } = findingItems(f, laterality, `AI tumour region ${f.trackingId}`, segment);
  return container('CONTAINS', Codes.measurementGroup, [
    ...context,
    ...concept,
    scoord3dItem('CONTAINS', f.slide.contourMm, f.slide.frameOfReferenceUid, Codes.imageRegion),
    scoreItem(f, algorithm),
    ...tail,
  ]);
}
