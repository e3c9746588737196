import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelRegistry } from '../../../src/inference/registry';
import { analyzeMammogram, filmAtSpacing, windowOrigins } from '../../../src/pipelines/mammography/analyze';
import { resampleToSpacing } from '../../../src/pipelines/common/image-ops';
import { findBreastRegion } from '../../../src/pipelines/mammography/breast-region';
import { summarizeStudy } from '../../../src/pipelines/mammography/summarize';
import type { ImageRef } from '../../../src/domain/findings';
import { drawSyntheticBreast, toGray8 } from '../../../src/samples/synthetic-breast';
import { TEST_MODEL_ID, buildTestModel } from '../../support/models/test-model';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-models-'));
let registry: ModelRegistry;

beforeAll(async () => {
  buildTestModel(dir);
  registry = await ModelRegistry.load(dir, { intraOpNumThreads: 1 });
});
afterAll(() => registry.close());

function ref(rows: number, columns: number): ImageRef {
  return { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', sopInstanceUid: '1.2.3.4.5', sopClassUid: '1.2.840.10008.5.1.4.1.1.1.2', rows, columns };
}

function ids(): { newUid: () => string; nextTrackingId: () => string } {
  let n = 0;
  return { newUid: () => `2.25.${++n}`, nextTrackingId: () => `F${n + 1}` };
}

describe('mammography pipeline', () => {
  it('windows overlap by half and the last one is flush with the edge', () => {
    expect(windowOrigins(100, 128)).toEqual([0]);
    expect(windowOrigins(300, 128)).toEqual([0, 64, 128, 172]);
  });

  it('a film is resampled to a spacing once, though it is analysed as itself and as a partner', () => {
    const film = { width: 160, height: 200, pixels: toGray8(drawSyntheticBreast({ rows: 200, columns: 160, laterality: 'L' })) };
    const once = filmAtSpacing(film, [0.1, 0.1], 0.8);
    expect(filmAtSpacing({ ...film }, [0.1, 0.1], 0.8)).toBe(once);
    expect(once).toEqual(resampleToSpacing(film, [0.1, 0.1], 0.8));
    expect([once.width, once.height]).toEqual([20, 25]);
    // Another spacing, or other pixels of the same size, are resampled anew.
    expect(filmAtSpacing(film, [0.1, 0.1], 0.4).width).toBe(40);
    expect(filmAtSpacing({ ...film, pixels: film.pixels.slice() }, [0.1, 0.1], 0.8)).not.toBe(once);
  });

  it('the breast region leaves out a film label that is not connected to it', () => {
    const rows = 200;
    const columns = 160;
    const gray = toGray8(drawSyntheticBreast({ rows, columns, laterality: 'R', label: true }));
    const region = findBreastRegion({ width: columns, height: rows, pixels: gray });
    expect(region.mask[100 * columns + 10]).toBe(1); // near the chest wall
    const labelX = columns - 2 * Math.round(160 * 0.06) + 2;
    expect(gray[Math.round(160 * 0.06) * columns + labelX + columns * 2]).toBe(255);
    expect(region.mask[(Math.round(160 * 0.06) + 2) * columns + labelX]).toBe(0);
  });

  it('outlines the breast: every breast pixel inside the outline, the film label and the background outside', () => {
    const rows = 200;
    const columns = 160;
    const gray = toGray8(drawSyntheticBreast({ rows, columns, laterality: 'R', label: true }));
    const region = findBreastRegion({ width: columns, height: rows, pixels: gray });
    // Even-odd ray casting, independent of how the outline was made.
    const inside = (x: number, y: number): boolean => {
      let hit = false;
      const o = region.outline;
      for (let i = 0, j = o.length - 1; i < o.length; j = i++) {
        const a = o[i]!, b = o[j]!;
        if ((a.y > y) !== (b.y > y) && x < ((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x) hit = !hit;
      }
      return hit;
    };
    let breastPixels = 0;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        if (!region.mask[y * columns + x]) continue;
        breastPixels++;
        expect(inside(x + 0.5, y + 0.5)).toBe(true);
      }
    }
    const labelX = columns - 2 * Math.round(160 * 0.06) + 2;
    expect(inside(labelX + 0.5, Math.round(160 * 0.06) + 2.5)).toBe(false);
    expect(inside(columns - 1.5, rows - 1.5)).toBe(false); // the far corner, behind the breast
    // A hull, not the frame: no more than a little larger than the breast itself.
    const area = region.outline.reduce((a, p, i) => { const q = region.outline[(i + 1) % region.outline.length]!; return a + p.x * q.y - q.x * p.y; }, 0) / 2;
    expect(Math.abs(area)).toBeGreaterThanOrEqual(breastPixels);
    expect(Math.abs(area)).toBeLessThan(breastPixels * 1.3);
  });

  it('finds one lesion where it is, in source pixels, when the source spacing differs from the model', async () => {
    // 0.2 mm source, 0.5 mm model: the pipeline must map back by 2.5x.
    const rows = 600;
    const columns = 480;
    const lesion = { x: 150, y: 320, radius: 30 };
    const gray = toGray8(drawSyntheticBreast({ rows, columns, laterality: 'R', lesions: [lesion], seed: 3 }));
    const result = await analyzeMammogram({ ref: ref(rows, columns), gray8: gray, pixelSpacingMm: [0.2, 0.2], laterality: 'R', view: 'CC' },
      registry.model(TEST_MODEL_ID), ids());
    expect(result.findings).toHaveLength(1);
    const f = result.findings[0]!;
    expect(Math.hypot(f.centre.x - lesion.x, f.centre.y - lesion.y)).toBeLessThan(12);
    expect(f.type).toBe('mass');
    expect(f.score).toBeGreaterThan(0.5);
    // The contour surrounds the lesion centre and its area is in the right range (π r² = 113 mm²).
    expect(f.box.x).toBeLessThan(lesion.x);
    expect(f.box.x + f.box.width).toBeGreaterThan(lesion.x);
    expect(f.areaMm2).toBeGreaterThan(30);
    expect(f.areaMm2).toBeLessThan(400);
    expect(result.score).toBeGreaterThan(0.5);
    // The breast's outline, mapped back to source pixels like the finding: it holds the lesion and stays on the film.
    const xs = result.breastOutline!.map((p) => p.x);
    const ys = result.breastOutline!.map((p) => p.y);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThanOrEqual(columns);
    expect(Math.max(...ys)).toBeLessThanOrEqual(rows);
    expect(Math.max(...xs)).toBeGreaterThan(lesion.x + lesion.radius);
    expect(Math.max(...ys) - Math.min(...ys)).toBeGreaterThan(rows * 0.6);
    expect(result.spacingAssumed).toBe(false);
  });

  it('reports nothing on a lesion-free breast, and nothing on the bright film label', async () => {
    const rows = 600;
    const columns = 480;
    const gray = toGray8(drawSyntheticBreast({ rows, columns, laterality: 'L', seed: 5, label: true }));
    const result = await analyzeMammogram({ ref: ref(rows, columns), gray8: gray, pixelSpacingMm: [0.2, 0.2], laterality: 'L' },
      registry.model(TEST_MODEL_ID), ids());
    expect(result.findings).toEqual([]);
  });

  it('merges windows: lesions in different windows of a large image are all found', async () => {
    const rows = 1400;
    const columns = 1000;
    const lesions = [{ x: 120, y: 300, radius: 40 }, { x: 200, y: 1100, radius: 40 }];
    const gray = toGray8(drawSyntheticBreast({ rows, columns, laterality: 'R', lesions, seed: 9 }));
    const result = await analyzeMammogram({ ref: ref(rows, columns), gray8: gray, pixelSpacingMm: [0.1, 0.1] },
      registry.model(TEST_MODEL_ID), ids());
    expect(result.findings).toHaveLength(2);
    for (const l of lesions) {
      expect(result.findings.some((f) => Math.hypot(f.centre.x - l.x, f.centre.y - l.y) < 15)).toBe(true);
    }
  });

  it('summarises per breast and per study with the manifest thresholds', () => {
    const manifest = registry.get(TEST_MODEL_ID).manifest;
    const base = { image: ref(1, 1), findings: [] };
    const s = summarizeStudy([
      { ...base, laterality: 'L', score: 0.2 },
      { ...base, laterality: 'L', score: 0.6 },
      { ...base, laterality: 'R', score: 0.95 },
    ], manifest);
    expect(s.breasts.L).toEqual({ score: 0.6, category: 'intermediate' });
    expect(s.breasts.R).toEqual({ score: 0.95, category: 'high' });
    expect(s).toMatchObject({ score: 0.95, category: 'high' });
    expect(summarizeStudy([{ ...base, laterality: 'L', score: 0.1 }], manifest).category).toBe('low');
  });
});

describe('model registry', () => {
  it('lists every problem of a broken manifest, with the file name', async () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-bad-'));
    fs.writeFileSync(path.join(bad, 'broken.json'), JSON.stringify({ id: 'broken', name: 'x', version: '1', task: 'nope', modality: 'MG', file: 'missing.onnx', input: {}, outputs: [], thresholds: {} }));
    await expect(ModelRegistry.load(bad)).rejects.toThrow(/broken\.json: task[\s\S]*broken\.json: input/);
  });

  it('refuses a model file whose sha256 does not match its manifest', async () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-sha-'));
    for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(copy, f));
    fs.appendFileSync(path.join(copy, `${TEST_MODEL_ID}.onnx`), Buffer.from([0]));
    await expect(ModelRegistry.load(copy)).rejects.toThrow(/sha256/);
  });
});
