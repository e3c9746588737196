// What every SR Sentinel writes says about itself beside its content tree (SR Document General
// module, PS3.3 C.17.2): its state, the document it replaces, and the evidence it was made from.
import type { NaturalizedDataset } from '../../dicom/write';
import type { DocumentRef } from '../../domain/findings';
import type { SopRef } from './content';

export interface Evidence {
  seriesInstanceUid: string;
  ref: SopRef;
}

export function documentGeneral(studyInstanceUid: string, evidence: Evidence[], predecessor?: DocumentRef): NaturalizedDataset {
  const bySeries = new Map<string, SopRef[]>();
  for (const { seriesInstanceUid, ref } of evidence) {
    const list = bySeries.get(seriesInstanceUid) ?? [];
    if (!list.some((r) => r.ReferencedSOPInstanceUID === ref.ReferencedSOPInstanceUID)) list.push(ref);
    bySeries.set(seriesInstanceUid, list);
  }
  return {
    ReferencedPerformedProcedureStepSequence: [],
    PerformedProcedureCodeSequence: [],
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ...(predecessor ? {
      PredecessorDocumentsSequence: [{
        StudyInstanceUID: predecessor.studyInstanceUid,
        ReferencedSeriesSequence: [{
          SeriesInstanceUID: predecessor.seriesInstanceUid,
          ReferencedSOPSequence: [{ ReferencedSOPClassUID: predecessor.sopClassUid, ReferencedSOPInstanceUID: predecessor.sopInstanceUid }],
        }],
      }],
    } : {}),
    // Every composite object the content tree refers to.
    CurrentRequestedProcedureEvidenceSequence: [{
      StudyInstanceUID: studyInstanceUid,
      ReferencedSeriesSequence: [...bySeries.entries()].map(([uid, refs]) => ({ SeriesInstanceUID: uid, ReferencedSOPSequence: refs })),
    }],
  };
}

/** An image header as evidence. */
export function imageEvidence(s: NaturalizedDataset): Evidence {
  return { seriesInstanceUid: String(s.SeriesInstanceUID), ref: { ReferencedSOPClassUID: String(s.SOPClassUID), ReferencedSOPInstanceUID: String(s.SOPInstanceUID) } };
}
