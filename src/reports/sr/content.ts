// Content items of an SR document (PS3.3 C.17.3), as naturalized dcmjs datasets.
import type { NaturalizedDataset } from '../../dicom/write';
import type { Code } from '../../domain/codes';

export type Relationship = 'CONTAINS' | 'HAS OBS CONTEXT' | 'HAS ACQ CONTEXT' | 'HAS CONCEPT MOD' | 'INFERRED FROM' | 'SELECTED FROM' | 'HAS PROPERTIES';

export const container = (rel: Relationship, name: Code, children: NaturalizedDataset[]): NaturalizedDataset => ({
  RelationshipType: rel, ValueType: 'CONTAINER', ConceptNameCodeSequence: [name], ContinuityOfContent: 'SEPARATE',
  // ContentSequence is Type 1C: present only when there are children.
  ...(children.length > 0 ? { ContentSequence: children } : {}),
});

export const codeItem = (rel: Relationship, name: Code, value: Code, children?: NaturalizedDataset[]): NaturalizedDataset => ({
  RelationshipType: rel, ValueType: 'CODE', ConceptNameCodeSequence: [name], ConceptCodeSequence: [value], ...(children ? { ContentSequence: children } : {}),
});

export const textItem = (rel: Relationship, name: Code, text: string): NaturalizedDataset => ({
  RelationshipType: rel, ValueType: 'TEXT', ConceptNameCodeSequence: [name], TextValue: text,
});

export const pnameItem = (rel: Relationship, name: Code, person: string): NaturalizedDataset => ({
  RelationshipType: rel, ValueType: 'PNAME', ConceptNameCodeSequence: [name], PersonName: person,
});

export const uidItem = (rel: Relationship, name: Code, uid: string): NaturalizedDataset => ({
  RelationshipType: rel, ValueType: 'UIDREF', ConceptNameCodeSequence: [name], UID: uid,
});

export const numItem = (rel: Relationship, name: Code, value: number, unit: Code, children?: NaturalizedDataset[]): NaturalizedDataset => ({
  RelationshipType: rel,
  ValueType: 'NUM',
  ConceptNameCodeSequence: [name],
  MeasuredValueSequence: [{ NumericValue: Number(value.toPrecision(6)), MeasurementUnitsCodeSequence: [unit] }],
  ...(children ? { ContentSequence: children } : {}),
});

export interface SopRef {
  ReferencedSOPClassUID: string;
  ReferencedSOPInstanceUID: string;
  ReferencedFrameNumber?: number;
  /** Of a Segmentation: the segment meant (Image Reference Macro, PS3.3 Table C.18.4-1). */
  ReferencedSegmentNumber?: number;
}

export const imageItem = (rel: Relationship, ref: SopRef, name?: Code): NaturalizedDataset => ({
  RelationshipType: rel, ValueType: 'IMAGE', ...(name ? { ConceptNameCodeSequence: [name] } : {}), ReferencedSOPSequence: [ref],
});

/** A closed POLYLINE (or POINT) in image pixel coordinates, selected from its image. */
export const scoordItem = (rel: Relationship, points: Array<{ x: number; y: number }>, ref: SopRef): NaturalizedDataset => {
  const closed = points.length >= 3 ? [...points, points[0] as { x: number; y: number }] : points;
  return {
    RelationshipType: rel,
    ValueType: 'SCOORD',
    GraphicType: closed.length === 1 ? 'POINT' : 'POLYLINE',
    GraphicData: closed.flatMap((p) => [Math.fround(p.x), Math.fround(p.y)]),
    ContentSequence: [imageItem('SELECTED FROM', ref)],
  };
};

/** A closed POLYGON in a frame of reference (mm), e.g. slide coordinates (PS3.3 C.18.9), optionally named (e.g. Image Region). */
export const scoord3dItem = (rel: Relationship, points: Array<{ x: number; y: number; z: number }>, frameOfReferenceUid: string, name?: Code): NaturalizedDataset => {
  // POLYGON: the first point is repeated at the end (C.18.9.1.2).
  const closed = points.length >= 3 ? [...points, points[0] as { x: number; y: number; z: number }] : points;
  return {
    RelationshipType: rel,
    ValueType: 'SCOORD3D',
    ...(name ? { ConceptNameCodeSequence: [name] } : {}),
    GraphicType: closed.length === 1 ? 'POINT' : 'POLYGON',
    GraphicData: closed.flatMap((p) => [p.x, p.y, p.z]),
    ReferencedFrameOfReferenceUID: frameOfReferenceUid,
  };
};
