// Slide geometry from metadata alone: the frame index of TILED_FULL (computed from the grid,
// with optical paths, focal planes and concatenations) and TILED_SPARSE (from per-frame
// positions), the choice of pyramid level, and pixel -> slide millimetres. On highdicom's
// reference slides, on hand-built DICOM JSON, and on slides dicomized by OrthancWSIDicomizer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { part10ToDicomJson } from '../../../src/dicom/part10';
import { dicomize } from '../../../src/wsi/dicomize';
import { type Slide, chooseLevel, describeSlide, groupSlides } from '../../../src/wsi/slide';
import { sharedData } from '../../support/shared-data';
import { wsiInstance } from '../../support/wsi-fixtures';

const highdicom = (name: string): ReturnType<typeof part10ToDicomJson> =>
  part10ToDicomJson(fs.readFileSync(sharedData(`dicom-reference/highdicom/${name}`)));

describe('describeSlide on highdicom reference slides (TILED_FULL)', () => {
  const slide = describeSlide([highdicom('sm_image.dcm')]);
  const level = slide.levels[0]!;

  it('reads the level, the identity of the slide and the transfer syntax from the file meta', () => {
    expect(slide.levels).toHaveLength(1);
    expect(level).toMatchObject({
      totalPixelMatrixColumns: 50, totalPixelMatrixRows: 50, tileColumns: 10, tileRows: 10, tileGridColumns: 5, tileGridRows: 5,
      numberOfFrames: 25, dimensionOrganizationType: 'TILED_FULL', transferSyntaxUid: '1.2.840.10008.1.2.1',
      photometricInterpretation: 'RGB', samplesPerPixel: 3, focalPlanes: 1,
    });
    expect(level.pixelSpacingMm).toEqual([0.000499, 0.000499]);
    expect(slide.frameOfReferenceUid).toBe('1.2.826.0.1.3680043.9.7433.2.1');
    expect(slide.containerIdentifier).toBe('S19-1_A_1_1');
    expect(slide.specimens[0]).toMatchObject({ identifier: 'S19-1_A_1_1', uid: '2.25.281821656492584880365678271074145532563' });
    expect(slide.opticalPaths.map((p) => p.identifier)).toEqual(['1']);
    expect(slide.totalPixelMatrixOrigin).toEqual({ xMm: 23.449873, yMm: 25.691574, zMm: 0 });
    expect(slide.imageOrientationSlide).toEqual([0, -1, 0, -1, 0, 0]);
  });

  it('finds tiles in raster order: column fastest, then row', () => {
    expect(level.frameAt(0, 0)?.frameNumber).toBe(1);
    expect(level.frameAt(0, 4)?.frameNumber).toBe(5);
    expect(level.frameAt(2, 3)?.frameNumber).toBe(14);
    expect(level.frameAt(4, 4)).toMatchObject({ frameNumber: 25, sopInstanceUid: '1.2.826.0.1.3680043.9.7433.3.12857516184849951143044513877282227' });
    expect(level.frameAt(5, 0)).toBeUndefined();
    expect(level.frameAt(0, -1)).toBeUndefined();
    expect(level.availableTiles()).toHaveLength(25);
  });

  it('maps pixels to slide millimetres with Image Orientation (Slide): columns along -Y, rows along -X', () => {
    const origin = level.pixelToSlide(0, 0);
    expect(origin.xMm).toBeCloseTo(23.449873, 9);
    expect(origin.yMm).toBeCloseTo(25.691574, 9);
    const right = level.pixelToSlide(10, 0);
    expect(right.xMm).toBeCloseTo(23.449873, 9);
    expect(right.yMm).toBeCloseTo(25.691574 - 10 * 0.000499, 9);
    const down = level.pixelToSlide(0, 10);
    expect(down.xMm).toBeCloseTo(23.449873 - 10 * 0.000499, 9);
    expect(down.yMm).toBeCloseTo(25.691574, 9);
    const back = level.slideToPixel(level.pixelToSlide(17.25, 3.5).xMm, level.pixelToSlide(17.25, 3.5).yMm);
    expect(back.column).toBeCloseTo(17.25, 9);
    expect(back.row).toBeCloseTo(3.5, 9);
    expect(slide.pixelToSlide(level, 10, 0)).toEqual(right);
  });

  it('reads grayscale and JPEG-LS slides', () => {
    const gray = describeSlide([highdicom('sm_image_grayscale.dcm')]).levels[0]!;
    expect(gray).toMatchObject({ photometricInterpretation: 'MONOCHROME2', samplesPerPixel: 1, bitsAllocated: 16 });
    const jpegls = describeSlide([highdicom('sm_image_jpegls.dcm')]).levels[0]!;
    expect(jpegls.transferSyntaxUid).toBe('1.2.840.10008.1.2.4.80');
    expect(jpegls.frameAt(1, 1)?.frameNumber).toBe(7);
  });

  it('keeps the slides of a study apart and ignores other SOP classes', () => {
    const seg = highdicom('seg_image_sm_dots.dcm');
    const other = wsiInstance({ sop: '2.25.77', frameOfReference: '2.25.99', totalColumns: 100, totalRows: 100, tileSize: 50, frames: 4, spacingMm: 0.001 });
    const groups = groupSlides([highdicom('sm_image.dcm'), seg, other]);
    expect(groups).toHaveLength(2);
    expect(() => describeSlide([highdicom('sm_image.dcm'), other])).toThrow(/2 slides/);
    expect(describeSlide([highdicom('sm_image.dcm'), seg]).levels).toHaveLength(1);
  });
});

describe('TILED_FULL with optical paths, focal planes and concatenations (hand-built metadata)', () => {
  // 3 x 2 tiles; 2 focal planes; 2 optical paths: 24 frames, split 10 + 14 over a concatenation.
  const common = { totalColumns: 300, totalRows: 200, tileSize: 100, spacingMm: 0.00025, organization: 'TILED_FULL' as const, opticalPaths: ['BF', 'DAPI'], focalPlanes: 2 };
  const slide = describeSlide([
    wsiInstance({ ...common, sop: '2.25.11', frames: 14, concatenation: { uid: '2.25.10', number: 2, offset: 10 } }),
    wsiInstance({ ...common, sop: '2.25.12', frames: 10, concatenation: { uid: '2.25.10', number: 1, offset: 0 } }),
  ]);
  const level = slide.levels[0]!;

  it('is one level of 24 frames', () => {
    expect(slide.levels).toHaveLength(1);
    expect(level.numberOfFrames).toBe(24);
    expect(level.opticalPathIdentifiers).toEqual(['BF', 'DAPI']);
    expect(level.focalPlanes).toBe(2);
  });

  it('indexes the first optical path and focal plane by default, across concatenation parts', () => {
    expect(level.frameAt(0, 0)).toMatchObject({ sopInstanceUid: '2.25.12', frameNumber: 1 });
    expect(level.frameAt(1, 2)).toMatchObject({ sopInstanceUid: '2.25.12', frameNumber: 6 });
    // Focal plane 1 of BF: frames 7..12; the 4th of them is the 10th overall, still in part 1.
    expect(level.frameAt(1, 0, { focalPlane: 1 })).toMatchObject({ sopInstanceUid: '2.25.12', frameNumber: 10 });
    expect(level.frameAt(1, 1, { focalPlane: 1 })).toMatchObject({ sopInstanceUid: '2.25.11', frameNumber: 1 });
    // DAPI, plane 0: frames 13..18 -> part 2 frames 3..8.
    expect(level.frameAt(0, 0, { opticalPath: 'DAPI' })).toMatchObject({ sopInstanceUid: '2.25.11', frameNumber: 3 });
    expect(level.frameAt(1, 2, { opticalPath: 'DAPI', focalPlane: 1 })).toMatchObject({ sopInstanceUid: '2.25.11', frameNumber: 14 });
    expect(level.frameAt(0, 0, { opticalPath: 'FITC' })).toBeUndefined();
    expect(level.frameAt(0, 0, { focalPlane: 2 })).toBeUndefined();
  });

  it('finds optical paths stored as separate instances', () => {
    const one = { totalColumns: 300, totalRows: 200, tileSize: 100, spacingMm: 0.00025, organization: 'TILED_FULL' as const, frames: 6 };
    const l = describeSlide([
      wsiInstance({ ...one, sop: '2.25.21', opticalPaths: ['A'], instanceNumber: 1 }),
      wsiInstance({ ...one, sop: '2.25.22', opticalPaths: ['B'], instanceNumber: 2 }),
    ]).levels[0]!;
    expect(l.frameAt(1, 1)).toMatchObject({ sopInstanceUid: '2.25.21', frameNumber: 5 });
    expect(l.frameAt(1, 1, { opticalPath: 'B' })).toMatchObject({ sopInstanceUid: '2.25.22', frameNumber: 5 });
  });
});

describe('TILED_SPARSE from per-frame positions (hand-built metadata)', () => {
  const common = { totalColumns: 1000, totalRows: 600, tileSize: 256, spacingMm: 0.0005, organization: 'TILED_SPARSE' as const };
  const slide = describeSlide([
    wsiInstance({ ...common, sop: '2.25.31', frames: 3, positions: [{ column: 769, row: 257 }, { column: 1, row: 1 }, { column: 257, row: 513 }] }),
    wsiInstance({ ...common, sop: '2.25.32', frames: 2, positions: [{ column: 513, row: 1 }, { column: 513, row: 1, z: 0.002 }], instanceNumber: 2 }),
  ]);
  const level = slide.levels[0]!;

  it('places each frame by its Column/Row Position In Total Image Pixel Matrix', () => {
    expect(level.dimensionOrganizationType).toBe('TILED_SPARSE');
    expect(level.tileGridColumns).toBe(4);
    expect(level.tileGridRows).toBe(3);
    expect(level.frameAt(1, 3)).toMatchObject({ sopInstanceUid: '2.25.31', frameNumber: 1 });
    expect(level.frameAt(0, 0)).toMatchObject({ sopInstanceUid: '2.25.31', frameNumber: 2 });
    expect(level.frameAt(2, 1)).toMatchObject({ sopInstanceUid: '2.25.31', frameNumber: 3 });
    expect(level.frameAt(0, 2)).toMatchObject({ sopInstanceUid: '2.25.32', frameNumber: 1 });
    expect(level.frameAt(0, 2, { focalPlane: 1 })).toMatchObject({ sopInstanceUid: '2.25.32', frameNumber: 2 });
    expect(level.frameAt(0, 1)).toBeUndefined();
    expect(level.focalPlanes).toBe(2);
  });

  it('lists only the tiles that exist', () => {
    expect(level.availableTiles()).toEqual([{ row: 0, column: 0 }, { row: 0, column: 2 }, { row: 1, column: 3 }, { row: 2, column: 1 }]);
  });
});

describe('levels, labels and level choice (hand-built pyramid)', () => {
  const level = (sop: string, size: number, spacingMm: number, imageType?: string[]): ReturnType<typeof wsiInstance> =>
    wsiInstance({ sop, totalColumns: size, totalRows: size, tileSize: 256, frames: Math.ceil(size / 256) ** 2, spacingMm, imageType });
  const slide: Slide = describeSlide([
    level('2.25.43', 1000, 0.001),
    level('2.25.41', 4000, 0.00025),
    level('2.25.44', 500, 0.01, ['DERIVED', 'PRIMARY', 'LABEL', 'NONE']),
    level('2.25.42', 2000, 0.0005),
  ]);

  it('sorts levels finest first and keeps the label aside', () => {
    expect(slide.levels.map((l) => l.totalPixelMatrixColumns)).toEqual([4000, 2000, 1000]);
    expect(slide.levels.map((l) => l.index)).toEqual([0, 1, 2]);
    expect(slide.associatedImages).toEqual([expect.objectContaining({ kind: 'LABEL', sopInstanceUid: '2.25.44' })]);
  });

  it('chooses the nearest level on a log scale and says how much to resample', () => {
    expect(chooseLevel(slide, 0.00025)).toMatchObject({ level: { index: 0 }, scale: 1 });
    expect(chooseLevel(slide, 0.0005).level.index).toBe(1);
    const { level: l, scale } = chooseLevel(slide, 0.0008);
    expect(l.index).toBe(2);
    expect(scale).toBeCloseTo(1.25, 9);
    expect(chooseLevel(slide, 0.004)).toMatchObject({ level: { index: 2 } });
    expect(chooseLevel(slide, 0.004).scale).toBeCloseTo(0.25, 9);
    expect(chooseLevel(slide, 0.0001).scale).toBeCloseTo(2.5, 9);
    // Equally far from 0.00025 and 0.0005 on a log scale: the finer one.
    expect(chooseLevel(slide, Math.sqrt(0.00025 * 0.0005)).level.index).toBe(0);
    expect(() => chooseLevel(slide, 0)).toThrow(/positive/);
  });
});

describe('slides dicomized by OrthancWSIDicomizer', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-wsi-slide-'));
  let slide: Slide;
  let files: string[];

  beforeAll(async () => {
    const result = await dicomize(sharedData('pathology/idc-slides/8863.jpg'), { outDir: out, tileSize: 256 });
    files = result.files;
    slide = describeSlide(files.map((f) => part10ToDicomJson(fs.readFileSync(f))));
  });

  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('is a pyramid of TILED_SPARSE levels, finest first, 4 micron at the base', () => {
    expect(slide.levels.map((l) => [l.totalPixelMatrixColumns, l.totalPixelMatrixRows])).toEqual([[2800, 2350], [1400, 1175], [700, 588], [350, 294], [175, 147]]);
    expect(slide.levels.map((l) => l.pixelSpacingMm[0])).toEqual([0.004, 0.008, 0.016, 0.032, 0.064]);
    expect(slide.levels.every((l) => l.dimensionOrganizationType === 'TILED_SPARSE')).toBe(true);
    expect(slide.levels[0]!.transferSyntaxUid).toBe('1.2.840.10008.1.2.4.50');
    expect(slide.containerIdentifier).toBe('8863');
    expect(slide.seriesInstanceUids).toHaveLength(1);
  });

  it('indexes every tile of every level exactly once', () => {
    for (const level of slide.levels) {
      const seen = new Set<string>();
      for (const t of level.availableTiles()) {
        const loc = level.frameAt(t.row, t.column)!;
        seen.add(`${loc.sopInstanceUid}/${loc.frameNumber}`);
      }
      expect(level.availableTiles()).toHaveLength(level.tileGridRows * level.tileGridColumns);
      expect(seen.size).toBe(level.numberOfFrames);
    }
  });

  it('agrees with the positions written into each frame (reader and writer use one geometry)', () => {
    for (const level of slide.levels) {
      const ds = level.instances[0]!.dataset;
      const frames = (ds['52009230']?.Value ?? []) as Array<Record<string, { Value?: Array<Record<string, { Value?: unknown[] }>> }>>;
      for (const frame of frames) {
        const pos = frame['0048021A']?.Value?.[0];
        const column = Number(pos?.['0048021E']?.Value?.[0]) - 1;
        const row = Number(pos?.['0048021F']?.Value?.[0]) - 1;
        const p = level.pixelToSlide(column, row);
        expect(Number(pos?.['0040072A']?.Value?.[0])).toBeCloseTo(p.xMm, 6);
        expect(Number(pos?.['0040073A']?.Value?.[0])).toBeCloseTo(p.yMm, 6);
      }
    }
  });

  it('puts the same physical point at the same slide position on every level', () => {
    const [fine, , coarse] = slide.levels;
    // The top left corner of the matrix is one point on every level...
    const a = fine!.pixelToSlide(-0.5, -0.5);
    const b = coarse!.pixelToSlide(-0.5, -0.5);
    expect(a.xMm).toBeCloseTo(b.xMm, 9);
    expect(a.yMm).toBeCloseTo(b.yMm, 9);
    // ...and the centre of fine pixel (1000, 600) lies in coarse pixel (250, 150), a quarter along.
    const p = fine!.pixelToSlide(1000, 600);
    const q = coarse!.slideToPixel(p.xMm, p.yMm);
    expect(q.column).toBeCloseTo(249.625, 6);
    expect(q.row).toBeCloseTo(149.625, 6);
    // Centred on a 25 x 75 mm slide.
    const centre = fine!.pixelToSlide(1399.5, 1174.5);
    expect(centre.xMm).toBeCloseTo(12.5, 6);
    expect(centre.yMm).toBeCloseTo(37.5, 6);
  });

  it('chooses the level for a model at 8 micron', () => {
    expect(chooseLevel(slide, 0.008)).toMatchObject({ level: { index: 1 }, scale: 1 });
  });
});
