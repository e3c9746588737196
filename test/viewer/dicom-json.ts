// What the check expects to see, read from the PACS's own DICOM JSON (QIDO and WADO-RS
// metadata through the viewer's proxy): the study's series, each SEG's segments and source
// image, and the SR's outlines (SCOORD in image pixels, SCOORD3D in slide mm).

import { type DicomJson, items as seq, nums, str, strs } from '../../src/dicom/json';

export { type DicomJson, str, strs };

export const TAG = {
  sopInstanceUid: '00080018',
  seriesInstanceUid: '0020000E',
  studyInstanceUid: '0020000D',
  modality: '00080060',
  modalitiesInStudy: '00080061',
  seriesDescription: '0008103E',
  segmentSequence: '00620002',
  segmentLabel: '00620005',
  referencedSeriesSequence: '00081115',
  referencedInstanceSequence: '0008114A',
  referencedSopInstanceUid: '00081155',
  referencedSopSequence: '00081199',
  conceptName: '0040A043',
  codeValue: '00080100',
  contentSequence: '0040A730',
  valueType: '0040A040',
  graphicData: '00700022',
  graphicType: '00700023',
  frameOfReferenceUid: '00200052',
  referencedFrameOfReferenceUid: '30060024',
  sopClassUid: '00080016',
  textValue: '0040A160',
} as const;

/** The Mammography CAD SR's SOP class: an SR series OHIF's measurement reader does not read. */
export const MAMMOGRAPHY_CAD_SR = '1.2.840.10008.5.1.4.1.1.88.50';

export interface SeriesSummary {
  uid: string;
  modality: string;
  description: string;
}

export interface SegExpectation {
  seriesInstanceUid: string;
  description: string;
  /** The image the SEG is drawn over (MG: one image per SEG). */
  sourceSopInstanceUid?: string;
  segmentLabels: string[];
}

export interface Outline {
  /** MG: the image the outline is on; slides: undefined. */
  sopInstanceUid?: string;
  graphicType: string;
  /** MG: [x, y] pixels; slides: [x, y, z] mm in the slide coordinate system. */
  points: number[][];
}

export function segExpectation(series: SeriesSummary, meta: DicomJson): SegExpectation {
  const ref = seq(seq(meta, TAG.referencedSeriesSequence)[0], TAG.referencedInstanceSequence)[0];
  return {
    seriesInstanceUid: series.uid,
    description: series.description,
    sourceSopInstanceUid: str(ref, TAG.referencedSopInstanceUid),
    segmentLabels: seq(meta, TAG.segmentSequence).map((s) => str(s, TAG.segmentLabel) ?? ''),
  };
}

/** Every SCOORD or SCOORD3D under Imaging Measurements (126010), wherever it sits in its group. */
export function srOutlines(meta: DicomJson): Outline[] {
  const out: Outline[] = [];
  const visit = (item: DicomJson): void => {
    const type = str(item, TAG.valueType);
    if (type === 'SCOORD' || type === 'SCOORD3D') {
      const data = nums(item, TAG.graphicData);
      const size = type === 'SCOORD' ? 2 : 3;
      const points: number[][] = [];
      for (let i = 0; i + size <= data.length; i += size) points.push(data.slice(i, i + size));
      const image = seq(item, TAG.contentSequence).find((c) => str(c, TAG.valueType) === 'IMAGE');
      out.push({ sopInstanceUid: str(seq(image, TAG.referencedSopSequence)[0], TAG.referencedSopInstanceUid), graphicType: str(item, TAG.graphicType) ?? '', points });
      return;
    }
    for (const child of seq(item, TAG.contentSequence)) visit(child);
  };
  const measurements = seq(meta, TAG.contentSequence).find((c) => str(seq(c, TAG.conceptName)[0], TAG.codeValue) === '126010');
  if (measurements) visit(measurements);
  return out;
}

/** Axis-aligned box of an outline's first two coordinates. */
export function boxOf(points: number[][]): { x0: number; y0: number; x1: number; y1: number } {
  const xs = points.map((p) => p[0] ?? 0);
  const ys = points.map((p) => p[1] ?? 0);
  return { x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys) };
}

/** The TEXT values of every Comment (121106) under Imaging Measurements, in order. */
export function srComments(meta: DicomJson): string[] {
  const out: string[] = [];
  const visit = (item: DicomJson): void => {
    if (str(item, TAG.valueType) === 'TEXT' && str(seq(item, TAG.conceptName)[0], TAG.codeValue) === '121106') out.push(str(item, TAG.textValue) ?? '');
    for (const child of seq(item, TAG.contentSequence)) visit(child);
  };
  const measurements = seq(meta, TAG.contentSequence).find((c) => str(seq(c, TAG.conceptName)[0], TAG.codeValue) === '126010');
  if (measurements) visit(measurements);
  return out;
}
