// A reader's correction, the pure part: outlines given as polygons or SVG paths, checked
// against their image, and the corrected result (moved, deleted, drawn findings).
import { applyCorrection, outlineOf, parseSvgPath } from '../../../src/analysis/correction';
import type { Finding, ImageRef, StudyResult } from '../../../src/domain/findings';
import { SentinelError } from '../../../src/errors/errors';

const image = (sop: string): ImageRef => ({ studyInstanceUid: '1.2', seriesInstanceUid: '1.2.3', sopInstanceUid: sop, sopClassUid: '1.2.840.10008.5.1.4.1.1.1.2', rows: 200, columns: 100 });
const finding = (id: string, sop: string, score: number): Finding => ({
  trackingId: id, trackingUid: `2.25.${id.slice(1)}`, type: 'mass', score, image: image(sop),
  centre: { x: 50, y: 50 }, contour: [{ x: 40, y: 40 }, { x: 60, y: 40 }, { x: 60, y: 60 }, { x: 40, y: 60 }], box: { x: 40, y: 40, width: 20, height: 20 }, areaMm2: 4,
});
const original: StudyResult = {
  studyInstanceUid: '1.2', pipeline: 'mammography', model: { id: 'm', version: '1', name: 'M' }, score: 0.9, category: 'high', breasts: { R: { score: 0.9, category: 'high' } },
  images: [
    { image: image('1.1'), laterality: 'R', view: 'CC', score: 0.9, examScore: 9, findings: [finding('F1', '1.1', 0.9), finding('F2', '1.1', 0.4)] },
    { image: image('1.2'), laterality: 'L', view: 'CC', score: 0.2, findings: [] },
  ],
};
const ctx = { newUid: () => '2.25.999', spacing: new Map([['1.1', { dx: 0.1, dy: 0.2 }], ['1.2', undefined]]) };

describe('a reader\'s correction', () => {
  it('reads SVG paths of straight lines, absolute and relative, and refuses curves', () => {
    expect(parseSvgPath('M10 20 L30 20 L30 40 Z')).toEqual([{ x: 10, y: 20 }, { x: 30, y: 20 }, { x: 30, y: 40 }]);
    expect(parseSvgPath('m10,20 h20 v20 l-20,0 z')).toEqual([{ x: 10, y: 20 }, { x: 30, y: 20 }, { x: 30, y: 40 }, { x: 10, y: 40 }]);
    expect(parseSvgPath('M1.5e1 2 20 2 20 8')).toEqual([{ x: 15, y: 2 }, { x: 20, y: 2 }, { x: 20, y: 8 }]); // implicit L after M
    expect(() => parseSvgPath('M0 0 C 1 1 2 2 3 3')).toThrow(/only straight lines/);
    expect(() => parseSvgPath('M0 0 L 5')).toThrow(/lacks a number/);
    expect(() => parseSvgPath('10 10 L 5 5')).toThrow(/start with M/);
    expect(() => parseSvgPath('M0 0 L 5 5; drop table')).toThrow(SentinelError);
  });

  it('checks each outline against its image', () => {
    const img = { columns: 100, rows: 200 };
    expect(outlineOf({ sopInstanceUid: 'x', polygon: [[0, 0], [10, 0], [10, 10], [0, 0]] }, img)).toEqual([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }]);
    expect(outlineOf({ sopInstanceUid: 'x', polygon: [{ x: 1, y: 1 }, { x: 9, y: 1 }, { x: 5, y: 8 }] }, img)).toHaveLength(3);
    expect(() => outlineOf({ sopInstanceUid: 'x', polygon: [[0, 0], [10, 0]] }, img)).toThrow(/at least three points/);
    expect(() => outlineOf({ sopInstanceUid: 'x', polygon: [[0, 0], [101, 0], [50, 50]] }, img)).toThrow(/outside the 100 x 200 image/);
    expect(() => outlineOf({ sopInstanceUid: 'x', polygon: [[0, 0], [5, 5], [10, 10]] }, img)).toThrow(/no area/);
    expect(() => outlineOf({ sopInstanceUid: 'x', polygon: [[0, 'a'], [5, 5], [10, 10]] }, img)).toThrow(/point 1/);
    expect(() => outlineOf({ sopInstanceUid: 'x' }, img)).toThrow(/either polygon or path/);
    expect(() => outlineOf({ sopInstanceUid: 'x', polygon: [], path: 'M0 0' }, img)).toThrow(/either polygon or path/);
  });

  it('moves a finding\'s outline, deletes what is not given, and adds one the reader drew', () => {
    const out = applyCorrection(original, [
      { sopInstanceUid: '1.1', trackingUid: '2.25.1', polygon: [[10, 10], [30, 10], [30, 50], [10, 50]] },
      { sopInstanceUid: '1.2', path: 'M 0 0 H 10 V 10 H 0 Z' },
    ], ctx);
    const [moved, drawn] = out.images.flatMap((i) => i.findings);
    // Moved: same identity, kind and AI score; the reader's outline, centre, box and area (20 x 40 px at 0.1 x 0.2 mm).
    expect(moved).toMatchObject({ trackingId: 'F1', trackingUid: '2.25.1', type: 'mass', score: 0.9, reader: 'edited', centre: { x: 20, y: 30 }, box: { x: 10, y: 10, width: 20, height: 40 } });
    expect(moved!.areaMm2).toBeCloseTo(800 * 0.02, 6);
    // F2 was not given: deleted.
    expect(out.images[0]!.findings.map((f) => f.trackingId)).toEqual(['F1']);
    // Drawn on the image without a spacing: no mm area; the image's AI score; a new identity.
    expect(drawn).toMatchObject({ trackingId: 'R1', trackingUid: '2.25.999', type: 'mass', score: 0.2, reader: 'drawn', centre: { x: 5, y: 5 } });
    expect(drawn!.areaMm2).toBeUndefined();
    // The AI's study result stands.
    expect(out).toMatchObject({ score: 0.9, category: 'high', breasts: original.breasts });
    expect(original.images[0]!.findings).toHaveLength(2); // the original is not changed
  });

  it('an ultrasound outline is measured again: its longest diameter in mm, or area and diameter in pixels', () => {
    const us = { ...original, pipeline: 'ultrasound' };
    const out = applyCorrection(us, [
      { sopInstanceUid: '1.1', polygon: [[0, 0], [30, 0], [30, 40], [0, 40]] },
      { sopInstanceUid: '1.2', polygon: [[0, 0], [30, 0], [30, 40], [0, 40]] },
    ], ctx);
    const [a, b] = out.images.flatMap((i) => i.findings);
    expect(a!.type).toBe('lesion');
    expect(a!.measurements!.map((m) => [m.unit.CodeValue, Number(m.value.toFixed(3))])).toEqual([['mm', Number(Math.hypot(3, 8).toFixed(3))]]);
    expect(b!.measurements!.map((m) => [m.unit.CodeValue, m.value])).toEqual([['{square pixels}', 1200], ['{pixels}', 50]]);
  });

  it('refuses what cannot be a correction, saying which finding', () => {
    const square = [[10, 10], [20, 10], [20, 20]];
    expect(() => applyCorrection(original, [{ sopInstanceUid: '9.9', polygon: square }], ctx)).toThrow(/finding 1: image 9.9 is not one of/);
    expect(() => applyCorrection(original, [{ sopInstanceUid: '1.2', trackingUid: '2.25.1', polygon: square }], ctx)).toThrow(/lies on another image/);
    expect(() => applyCorrection(original, [{ sopInstanceUid: '1.1', trackingUid: '2.25.77', polygon: square }], ctx)).toThrow(/not a finding of the analysis/);
    expect(() => applyCorrection(original, [{ sopInstanceUid: '1.1', trackingUid: '2.25.1', polygon: square }, { sopInstanceUid: '1.1', trackingUid: '2.25.1', polygon: square }], ctx)).toThrow(/finding 2: finding F1 is given twice/);
    expect(() => applyCorrection(original, [{ sopInstanceUid: '1.1', polygon: square, type: 'bomb' }], ctx)).toThrow(/type must be one of/);
    expect(() => applyCorrection(original, [{ sopInstanceUid: '1.1', polygon: [[0, 0], [500, 0], [0, 5]] }], ctx)).toThrow(/finding 1: outline point/);
  });
});
