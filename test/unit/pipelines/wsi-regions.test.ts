// Whole-slide post-processing: tissue by saturation, tumour regions as polygons along cell
// edges, map smoothing and the slide score, on maps whose answers are known by construction.
import { detectTissue, tissueCells } from '../../../src/pipelines/wsi/tissue';
import { findRegions, mapPreview, slideScore, smoothMap, traceOutline } from '../../../src/pipelines/wsi/regions';
import { polygonArea, polygonCentroid } from '../../../src/pipelines/common/image-ops';

function map(rows: string[]): { rows: number; columns: number; values: Float32Array } {
  // '.' = no tissue (NaN), digits = probability / 10
  const values = new Float32Array(rows.length * rows[0]!.length);
  rows.forEach((r, i) => [...r].forEach((ch, j) => (values[i * r.length + j] = ch === '.' ? NaN : Number(ch) / 10)));
  return { rows: rows.length, columns: rows[0]!.length, values };
}

describe('tissue detection', () => {
  it('keeps pink and purple stain, drops glass, grey fill and white', () => {
    const width = 4;
    const colours = [[242, 242, 242], [230, 150, 200], [120, 60, 160], [255, 255, 255]];
    const rgb = new Uint8Array(width * 3 * 2);
    for (let y = 0; y < 2; y++) colours.forEach((c, x) => rgb.set(c, (y * width + x) * 3));
    const t = detectTissue({ width, height: 2, rgb });
    expect([...t.mask.subarray(0, 4)]).toEqual([0, 1, 1, 0]);
  });

  it('maps a low-resolution mask onto the model grid', () => {
    // Mask 4 x 2 over a level of 400 x 200 pixels; cells of 100 px: 4 x 2 cells.
    const mask = { width: 4, height: 2, mask: Uint8Array.from([0, 1, 1, 0, 0, 0, 1, 0]), threshold: 0 };
    const cells = tissueCells(mask, { rows: 2, columns: 4, cellPx: 100, levelWidth: 400, levelHeight: 200 });
    expect([...cells]).toEqual([0, 1, 1, 0, 0, 0, 1, 0]);
  });
});

describe('tumour regions', () => {
  it('finds 4-connected components above the threshold, largest first, with mean and peak', () => {
    const m = map([
      '99.11',
      '98.12',
      '11.19',
      '.....',
    ]);
    const regions = findRegions(m, 0.5);
    expect(regions.map((r) => r.cells.length)).toEqual([4, 1]);
    expect(regions[0]!.maxProbability).toBeCloseTo(0.9);
    expect(regions[0]!.meanProbability).toBeCloseTo((0.9 * 3 + 0.8) / 4);
    expect(regions[0]!.box).toEqual({ x: 0, y: 0, width: 2, height: 2 });
    expect(regions[1]!.centre).toEqual({ x: 4.5, y: 2.5 });
  });

  it('traces an L-shaped region along cell edges: area equals its cell count, no collinear points', () => {
    const m = map([
      '900',
      '900',
      '999',
    ]);
    const [region] = findRegions(m, 0.5);
    expect(region!.cells).toHaveLength(5);
    expect(polygonArea(region!.outline)).toBe(5);
    expect(region!.outline).toHaveLength(6);
  });

  it('the area centroid of an outline, either way round: a rectangle at its middle, an L of three unit squares at (5/6, 5/6)', () => {
    const rectangle = [{ x: 0, y: 0 }, { x: 4, y: 0 }, { x: 4, y: 2 }, { x: 0, y: 2 }];
    expect(polygonCentroid(rectangle)).toEqual({ x: 2, y: 1 });
    expect(polygonCentroid([...rectangle].reverse())).toEqual({ x: 2, y: 1 });
    const l = polygonCentroid([{ x: 0, y: 0 }, { x: 2, y: 0 }, { x: 2, y: 1 }, { x: 1, y: 1 }, { x: 1, y: 2 }, { x: 0, y: 2 }]);
    expect(l.x).toBeCloseTo(5 / 6, 12);
    expect(l.y).toBeCloseTo(5 / 6, 12);
  });

  it('a ring: the outer boundary is traced, the hole is not', () => {
    const labels = Int32Array.from([1, 1, 1, 1, 0, 1, 1, 1, 1]);
    expect(polygonArea(traceOutline(labels, 1, 3, 3))).toBe(9);
  });

  it('the slide score is the best 3 x 3 mean over tissue: one hot tile among cold ones does not make a high score', () => {
    expect(slideScore(map(['11111', '11111', '11911', '11111', '11111']))).toBeCloseTo((8 * 0.1 + 0.9) / 9);
    expect(slideScore(map(['999', '999', '999']))).toBeCloseTo(0.9);
    expect(slideScore(map(['...', '.9.', '...']))).toBeCloseTo(0.9);
  });

  it('map smoothing: a Gaussian mean over tissue cells only; no-tissue cells stay empty and do not dilute', () => {
    const flat = smoothMap(map(['5555', '55..', '5555']), 1.5);
    for (const v of flat.values) if (!Number.isNaN(v)) expect(v).toBeCloseTo(0.5, 6);
    expect(Number.isNaN(flat.values[6] as number)).toBe(true);

    // One hot cell spreads symmetrically with weights exp(-d^2 / 2 sigma^2), radius 2 sigma.
    const sigma = 1;
    const hot = smoothMap(map(['000000000', '000000000', '000000000', '000000000', '000090000', '000000000', '000000000', '000000000', '000000000']), sigma);
    const g = (d: number): number => Math.exp(-(d * d) / (2 * sigma * sigma));
    const total = [-2, -1, 0, 1, 2].reduce((a, d) => a + g(d), 0) ** 2;
    expect(hot.values[40]).toBeCloseTo(0.9 / total, 6);
    expect(hot.values[31]).toBeCloseTo(hot.values[39] as number, 6);
    expect(hot.values[31]).toBeCloseTo((0.9 * g(1)) / total, 6);
    expect(hot.values[22]).toBeCloseTo((0.9 * g(2)) / total, 6);
    expect(hot.values[13]).toBe(0); // beyond 2 sigma
    // The mass is kept where no kernel is cut off at the edges.
    expect(Array.from(hot.values).reduce((a, v) => a + v, 0)).toBeCloseTo(0.9, 5);
    // Next to empty cells a cell averages only over tissue: an edge cell beside '.' is not pulled down.
    const edge = smoothMap(map(['9.', '9.']), 2);
    expect(edge.values[0]).toBeCloseTo(0.9, 6);
  });
});

describe('the map preview for the study page', () => {
  it('keeps a small map as it is, a byte per cell, 255 where no tissue was analysed', () => {
    const map = { rows: 2, columns: 3, values: new Float32Array([0, 0.5, 1, NaN, 0.25, NaN]) };
    const p = mapPreview(map, 8);
    expect([p.columns, p.rows, p.cellPx]).toEqual([3, 2, 8]);
    expect([...Buffer.from(p.probability, 'base64')]).toEqual([0, 127, 254, 255, 64, 255]);
  });

  it('shrinks a large map by whole factors, each cell the highest it covers, so a hot spot stays', () => {
    const map = { rows: 600, columns: 1000, values: new Float32Array(600 * 1000).fill(NaN) };
    map.values[123 * 1000 + 777] = 0.9; // one hot cell in tissue-free surroundings
    map.values[122 * 1000 + 776] = 0.1; // in the same preview cell
    const p = mapPreview(map, 4, 256);
    // 1000 / 256 -> a factor of 4: 250 x 150 cells of 16 pixels.
    expect([p.columns, p.rows, p.cellPx]).toEqual([250, 150, 16]);
    const bytes = Buffer.from(p.probability, 'base64');
    expect(bytes[30 * 250 + 194]).toBe(Math.round(0.9 * 254));
    expect([...bytes].filter((b) => b !== 255)).toHaveLength(1);
  });
});
