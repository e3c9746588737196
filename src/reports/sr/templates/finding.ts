// What every measurement group of a finding holds, whichever template places it: its tracking
// identifier and UID (shared with the SEG segment), the finding's code and site, its score
// with the algorithm that gave it, its area, the SEG segment that outlines it (IHE AIR) and
// Sentinel's finding identifier.
import type { NaturalizedDataset } from '../../../dicom/write';
import { Codes } from '../../../domain/codes';
import { type Finding, type SegmentRef, findingCode } from '../../../domain/findings';
import type { AlgorithmInfo } from '../../seg/common';
import { type SopRef, codeItem, imageItem, numItem, textItem, uidItem } from '../content';

export const Score = { CodeValue: 'AISCORE', CodingSchemeDesignator: '99SENTINEL', CodeMeaning: 'AI suspicion score' };

export function refOf(f: Finding): SopRef {
  return {
    ReferencedSOPClassUID: f.image.sopClassUid,
    ReferencedSOPInstanceUID: f.image.sopInstanceUid,
    ...(f.image.frameNumber ? { ReferencedFrameNumber: f.image.frameNumber } : {}),
  };
}

/** The score, its children first (e.g. the outline it was inferred from), then the algorithm. */
export function scoreItem(f: Finding, algorithm: AlgorithmInfo, children: NaturalizedDataset[] = []): NaturalizedDataset {
  return numItem('CONTAINS', Score, f.score, Codes.ratio, [
    ...children,
    textItem('HAS CONCEPT MOD', Codes.algorithmName, algorithm.name),
    textItem('HAS CONCEPT MOD', Codes.algorithmVersion, algorithm.version),
  ]);
}

/** Finding site: the breast, with its laterality as a modifier when known. */
export function findingSite(laterality: 'L' | 'R' | undefined): NaturalizedDataset {
  return laterality
    ? codeItem('HAS CONCEPT MOD', Codes.findingSite, Codes.breast, [codeItem('HAS CONCEPT MOD', Codes.laterality, laterality === 'R' ? Codes.right : Codes.left)])
    : codeItem('HAS CONCEPT MOD', Codes.findingSite, Codes.breast);
}

export function findingItems(f: Finding, laterality: 'L' | 'R' | undefined, trackingIdentifier: string, segment?: SegmentRef): { context: NaturalizedDataset[]; concept: NaturalizedDataset[]; tail: NaturalizedDataset[] } {
  const site = findingSite(laterality);
  return {
    context: [
      textItem('HAS OBS CONTEXT', Codes.trackingIdentifier, trackingIdentifier),
      uidItem('HAS OBS CONTEXT', Codes.trackingUniqueIdentifier, f.trackingUid),
    ],
    concept: [codeItem('CONTAINS', Codes.finding, findingCode(f)), site],
    tail: [
      ...(f.examScore !== undefined ? [numItem('CONTAINS', Codes.examScore, f.examScore, Codes.scoreUnit)] : []),
      ...(f.areaMm2 !== undefined ? [numItem('CONTAINS', Codes.area, f.areaMm2, Codes.squareMillimetre)] : []),
      ...(f.measurements ?? []).map((m) => numItem('CONTAINS', m.concept, m.value, m.unit)),
      ...(segment ? [imageItem('CONTAINS', {
        ReferencedSOPClassUID: segment.seg.sopClassUid,
        ReferencedSOPInstanceUID: segment.seg.sopInstanceUid,
        ReferencedSegmentNumber: segment.segmentNumber,
      }, Codes.referencedSegment)] : []),
      textItem('CONTAINS', { CodeValue: 'FINDINGID', CodingSchemeDesignator: '99SENTINEL', CodeMeaning: 'Sentinel finding identifier' }, f.trackingId),
      ...(f.reader ? [textItem('CONTAINS', Codes.comment, f.reader === 'drawn'
        ? 'Drawn by the reader (the person observer of this report); the score is the image\'s AI score'
        : 'AI finding whose outline the reader (the person observer of this report) corrected')] : []),
    ],
  };
}
