// The one shape every pipeline produces and every writer (SEG, SR, HL7) consumes.
// Coordinates are image pixels: x = column, y = row, origin at the top-left corner of the
// top-left pixel (DICOM SCOORD convention), so a writer never has to convert.

/** How worried the reader should be; chosen from manifest thresholds, never hard-coded. */
import { type Code, Codes } from './codes';

export type Category = 'high' | 'intermediate' | 'low';

export type FindingType = 'mass' | 'calcification' | 'lesion' | 'tumor';

export interface Point {
  x: number;
  y: number;
}

/** The exact source image (or frame) a finding was drawn on. */
export interface ImageRef {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  /** 1-based; absent for single-frame images. */
  frameNumber?: number;
  rows: number;
  columns: number;
}

export interface Finding {
  /** Human-readable tracking identifier, unique within the study ("F1", "F2", ...). */
  trackingId: string;
  /** DICOM Tracking UID shared by the SEG segment and the SR measurement group. */
  trackingUid: string;
  type: FindingType;
  /** What the model says the finding is, as a coded concept (its manifest's findingCode), when it says. */
  code?: Code;
  /** Model output for this finding, 0..1. */
  score: number;
  /** The score on the model's 1-10 scale (its validation deciles), when the model is calibrated. */
  examScore?: number;
  image: ImageRef;
  centre: Point;
  /** Closed polygon, first point not repeated at the end. */
  contour: Point[];
  box: { x: number; y: number; width: number; height: number };
  /** Present when the source gives a pixel spacing. */
  areaMm2?: number;
  /** Further measurements of the finding (e.g. an ultrasound lesion's area and longest diameter, in mm or in pixels). */
  measurements?: FindingMeasurement[];
  /** A reader's correction: an AI finding whose outline the reader moved ('edited'), or one the reader drew ('drawn', its score the image's AI score). */
  reader?: 'edited' | 'drawn';
  /** Whole-slide findings: the contour in the slide's frame of reference (mm), for SCOORD3D. */
  slide?: { frameOfReferenceUid: string; contourMm: Point3[] };
}

export interface FindingMeasurement {
  concept: Code;
  value: number;
  unit: Code;
}

export interface Point3 {
  x: number;
  y: number;
  z: number;
}

export interface ImageResult {
  image: ImageRef;
  laterality?: 'L' | 'R';
  /** Coded view as found in the image (e.g. 'CC', 'MLO'), when known. */
  view?: string;
  score: number;
  examScore?: number;
  findings: Finding[];
  /** Whole-image classifiers (ultrasound): probability per class and the predicted class. */
  classification?: { probabilities: Record<string, number>; predicted: string };
  /** The film's breast composition, where a density model is installed (mammography). */
  density?: DensityAssessment;
  /** A slide's probability map, small (pipelines/wsi mapPreview). */
  mapPreview?: MapPreview;
  /** Where the breast lies on the film (mammography): a closed outline in the image's pixels, pectoral muscle included. */
  breastOutline?: Array<{ x: number; y: number }>;
}

/** A slide's probability map for a picture: cells of `cellPx` pixels of the analysed level, a byte each (0-254 for 0-1, 255 where no tissue was analysed), base64. */
export interface MapPreview {
  columns: number;
  rows: number;
  cellPx: number;
  probability: string;
}

/** Breast composition of a film, a breast or an exam, by a density model. */
export interface DensityAssessment {
  /** The most probable class; for an exam, the denser breast's. */
  predicted: string;
  /** Where the class stands in the model's classes, from least dense (0). */
  rank: number;
  probabilities: Record<string, number>;
  /** The class as a coded concept (its manifest's classCodes, e.g. a BI-RADS composition), when the model gives one. */
  code?: Code;
  model: ModelIdentity;
}

export interface ModelIdentity {
  id: string;
  version: string;
  name: string;
}

export interface StudyResult {
  studyInstanceUid: string;
  /** The name of the pipeline that analysed it (pipelines/registry.ts). */
  pipeline: string;
  model: ModelIdentity;
  score: number;
  /** The study score on the model's 1-10 scale (its validation deciles), when the model is calibrated. */
  examScore?: number;
  category: Category;
  /** Per-breast scores for mammography; empty for other pipelines. */
  breasts: Partial<Record<'L' | 'R', { score: number; examScore?: number; category: Category }>>;
  /** Breast composition per breast and for the exam, where the films were assessed. */
  density?: { exam: DensityAssessment; breasts: Partial<Record<'L' | 'R', DensityAssessment>> };
  images: ImageResult[];
}

export function allFindings(result: StudyResult): Finding[] {
  return result.images.flatMap((image) => image.findings);
}

/**
 * What the writers need to know about the study beyond pixels: copied from the source
 * images' Patient and General Study modules. Patient fields go into DICOM objects and HL7
 * messages only, never into logs.
 */
export interface StudyContext {
  studyInstanceUid: string;
  accessionNumber?: string;
  studyId?: string;
  studyDate?: string;
  studyTime?: string;
  studyDescription?: string;
  referringPhysicianName?: string;
  patientId?: string;
  patientName?: string;
  patientBirthDate?: string;
  patientSex?: string;
}

/** An SR document another one replaces (its Predecessor Documents Sequence). */
export interface DocumentRef {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
}

/** The SEG segment that outlines a finding (IHE AIR: the SR's finding points at it). */
export interface SegmentRef {
  seg: DocumentRef;
  segmentNumber: number;
}

/** A file of the study that was not analysed, and why (in words a person at the PACS can act on). */
export interface SkippedFile {
  sopInstanceUid?: string;
  reason: string;
}

/** The coded concept of a finding: the model's own (manifest findingCode) when it gives one, else by type. */
export function findingCode(f: { type: FindingType; code?: Code }): Code {
  return f.code ?? findingTypeCode(f.type);
}

export function findingTypeCode(type: FindingType): Code {
  switch (type) {
    case 'mass':
      return Codes.mammographicBreastMass;
    case 'calcification':
      return Codes.calcificationCluster;
    case 'tumor':
      // What kind of tumour is a model fact: its manifest's findingCode, set on the finding.
      return Codes.neoplasm;
    case 'lesion':
      return Codes.lesion;
  }
}
