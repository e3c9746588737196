// SEG over a whole-slide image: a highdicom reference slide (third-party, valid by dciodvfy)
// as source, a known heatmap, and the judges: dciodvfy, dcmdump; geometry read back.
import fs from 'node:fs';
import { wsi } from '../../../src/pipelines/wsi';
import { parseDicom } from '../../../src/dicom/read';
import { newUid } from '../../../src/dicom/uid';
import { readNaturalizedHeader } from '../../../src/dicom/part10';
import { buildSlideSeg } from '../../../src/reports/seg/wsi';
import { buildTid1500Report } from '../../../src/reports/sr/tid1500';
import { dciodvfy, dcmdump, dsrdump } from '../../support/dicom-judges';
import { sharedData } from '../../support/shared-data';

const IDC = { CodeValue: '82711006', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Infiltrating duct carcinoma' };
const algorithm = { name: 'Sentinel IDC tile classifier', version: '1.0.0', modelId: 'idc-tile-classifier' };

function slideLevel(): Parameters<typeof buildSlideSeg>[0]['level'] {
  const file = sharedData('dicom-reference/highdicom/sm_image.dcm');
  const source = readNaturalizedHeader(new Uint8Array(fs.readFileSync(file)));
  return {
    source,
    sopClassUid: String(source.SOPClassUID),
    sopInstanceUid: String(source.SOPInstanceUID),
    seriesInstanceUid: String(source.SeriesInstanceUID),
    totalPixelMatrixRows: 50,
    totalPixelMatrixColumns: 50,
    pixelSpacingMm: [0.000499, 0.000499],
    sourceFrameAt: (column, row) => ({ sopInstanceUid: String(source.SOPInstanceUID), frameNumber: Math.floor(row / 10) * 5 + Math.floor(column / 10) + 1 }),
  };
}

// ImageOrientationSlide 0\-1\0\-1\0\0: columns run along -Y, rows along -X.
const toSlideMm = (column: number, row: number): { x: number; y: number; z: number } => ({ x: 23.449873 - row * 0.000499, y: 25.691574 - column * 0.000499, z: 0 });

describe('slide SEG (TILED_SPARSE, FRACTIONAL)', () => {
  it('writes only tiles with analysed tissue, at the level geometry, clean by dciodvfy', () => {
    const level = slideLevel();
    // 5 x 5 cells of 10 pixels (0.00499 mm); tissue only in the top-left 2 x 2 cells, one of them tumour.
    const values = new Float32Array(25).fill(NaN);
    values[0] = 0.9;
    values[1] = 0.1;
    values[5] = 0.2;
    values[6] = 0.05;
    const bytes = buildSlideSeg({
      level, heatmap: { rows: 5, columns: 5, values, cellMm: 0.00499 }, toSlideMm, trackingUid: newUid(), finding: IDC,
      series: { seriesInstanceUid: newUid(), seriesNumber: 9901, instanceNumber: 1, sopInstanceUid: newUid() }, algorithm, tileSize: 16,
    })!;
    expect(dciodvfy(bytes).errors).toEqual([]);
    const seg = readNaturalizedHeader(new Uint8Array(bytes));
    expect(seg.FrameOfReferenceUID).toBe(level.source.FrameOfReferenceUID);
    expect(seg.ContainerIdentifier).toBe(level.source.ContainerIdentifier);
    expect(seg.DimensionOrganizationType).toBe('TILED_SPARSE');
    expect([seg.TotalPixelMatrixRows, seg.TotalPixelMatrixColumns]).toEqual([50, 50]);
    // 20 x 20 pixels of tissue with 16-pixel tiles: tiles at (1,1), (17,1), (1,17), (17,17).
    expect(seg.NumberOfFrames).toBe(4);
    const positions = (seg.PerFrameFunctionalGroupsSequence as Array<{ PlanePositionSlideSequence: Array<Record<string, number>> }>)
      .map((f) => [f.PlanePositionSlideSequence[0]!.ColumnPositionInTotalImagePixelMatrix, f.PlanePositionSlideSequence[0]!.RowPositionInTotalImagePixelMatrix]);
    expect(positions).toEqual([[1, 1], [17, 1], [1, 17], [17, 17]]);
    const dump = dcmdump(bytes);
    expect(dump).toContain('TILED_SPARSE');
    expect(dump).toContain('PROBABILITY');
    // First frame, pixel (0,0) lies in cell (0,0): float32 0.9 -> 229; pixel (12,0) in cell (0,1): 0.1 -> 26.
    const pixels = parseDicom(new Uint8Array(bytes)).frames()[0]!;
    expect(pixels[0]).toBe(229);
    expect(pixels[12]).toBe(26);
  });

  it('writes nothing when no tissue was analysed', () => {
    const values = new Float32Array(25).fill(NaN);
    expect(buildSlideSeg({
      level: slideLevel(), heatmap: { rows: 5, columns: 5, values, cellMm: 0.00499 }, toSlideMm, trackingUid: newUid(), finding: IDC,
      series: { seriesInstanceUid: newUid(), seriesNumber: 9901, instanceNumber: 1, sopInstanceUid: newUid() }, algorithm,
    })).toBeUndefined();
  });
});

describe('slide SR (Comprehensive 3D, TID 1500)', () => {
  it('OHIF microscopy quirk: it drops an SR whose groups lack a TID 1410 Image Region SCOORD3D, so each tumour region is one, in the slide frame of reference, with its area; clean by dciodvfy', () => {
    const level = slideLevel();
    const source = level.source;
    const frameOfReferenceUid = String(source.FrameOfReferenceUID);
    const contour = [{ x: 0, y: 0 }, { x: 20, y: 0 }, { x: 20, y: 10 }, { x: 0, y: 10 }];
    const image = { studyInstanceUid: String(source.StudyInstanceUID), seriesInstanceUid: level.seriesInstanceUid, sopInstanceUid: level.sopInstanceUid, sopClassUid: level.sopClassUid, rows: 50, columns: 50 };
    const finding = {
      trackingId: 'T1', trackingUid: newUid(), type: 'tumor' as const, score: 0.81, image, centre: { x: 10, y: 5 }, contour,
      box: { x: 0, y: 0, width: 20, height: 10 }, areaMm2: 200 * 0.000499 ** 2,
      slide: { frameOfReferenceUid, contourMm: contour.map((p) => toSlideMm(p.x, p.y)) },
    };
    const bytes = buildTid1500Report({
      sources: [source],
      result: { studyInstanceUid: image.studyInstanceUid, pipeline: 'wsi', model: { id: algorithm.modelId, version: algorithm.version, name: algorithm.name }, score: 0.81, category: 'high', breasts: {}, images: [{ image, score: 0.81, findings: [finding] }] },
      series: { seriesInstanceUid: newUid(), seriesNumber: 9902, instanceNumber: 1, sopInstanceUid: newUid() },
      algorithm,
      reporting: wsi.reporting,
    });
    expect(dciodvfy(bytes).errors).toEqual([]);
    const header = readNaturalizedHeader(new Uint8Array(bytes));
    expect(header.SOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.88.34');
    const tree = dsrdump(bytes);
    expect(tree).toContain('SCOORD3D');
    // TID 1410: the outline is the group's own Image Region item (OHIF's microscopy mode needs it).
    expect(tree).toMatch(/<contains SCOORD3D:\(,,"Image Region"\)=\(POLYGON,/);
    expect(tree).toContain('AI tumour region T1');
    expect(dcmdump(bytes)).toMatch(new RegExp(`\\(3006,0024\\) UI \\[${frameOfReferenceUid.replace(/\./g, '\\.')}\\]`));
    expect(tree).toContain('AI tumour area');
    expect(tree).toContain('Number of AI tumour regions');
  });
});
