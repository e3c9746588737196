// The exam score (1-10): the decile of the model's validation scores a score falls in, on the
// study, each breast, image and finding alike; and the scale itself, as numpy computes it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { StudyResult } from '../../../src/domain/findings';
import { scoreScale } from '../../../src/evaluation/calibration';
import { checkedManifestSchema } from '../../../src/inference/manifest';
import { examScoreOf, withExamScores } from '../../../src/pipelines/common/category';

const deciles = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.55, 0.75];
const manifest = { calibration: { examScore: { split: 'validation', unit: 'film', n: 50, deciles } } };

describe('exam score', () => {
  it('is 1 below the first decile, 10 above the last, and a score on a cut point stays in the lower decile', () => {
    expect(examScoreOf(0, manifest)).toBe(1);
    expect(examScoreOf(0.02, manifest)).toBe(1);
    expect(examScoreOf(0.021, manifest)).toBe(2);
    expect(examScoreOf(0.25, manifest)).toBe(6);
    expect(examScoreOf(0.74, manifest)).toBe(9);
    expect(examScoreOf(0.99, manifest)).toBe(10);
    expect(examScoreOf(0.5, {})).toBeUndefined();
  });

  it('is set beside every raw score of a result, and left out without a calibration', () => {
    const ref = { studyInstanceUid: '1', seriesInstanceUid: '2', sopInstanceUid: '3', sopClassUid: '4', rows: 10, columns: 10 };
    const finding = { trackingId: 'F1', trackingUid: '5', type: 'mass' as const, score: 0.6, image: ref, centre: { x: 1, y: 1 }, contour: [], box: { x: 0, y: 0, width: 1, height: 1 } };
    const result: StudyResult = {
      studyInstanceUid: '1', pipeline: 'mammography', model: { id: 'm', version: '1', name: 'm' }, score: 0.6, category: 'high',
      breasts: { L: { score: 0.6, category: 'high' }, R: { score: 0.01, category: 'low' } },
      images: [{ image: ref, laterality: 'L', score: 0.6, findings: [finding] }, { image: { ...ref, sopInstanceUid: '6' }, laterality: 'R', score: 0.01, findings: [] }],
    };
    const scored = withExamScores(result, manifest);
    expect(scored.examScore).toBe(9);
    expect(scored.breasts).toEqual({ L: { score: 0.6, category: 'high', examScore: 9 }, R: { score: 0.01, category: 'low', examScore: 1 } });
    expect(scored.images.map((i) => i.examScore)).toEqual([9, 1]);
    expect(scored.images[0]!.findings[0]!.examScore).toBe(9);
    expect(withExamScores(result, {})).toBe(result);
  });

  it("the scale's deciles are numpy's percentiles 10..90 of the scores", () => {
    const scores = Array.from({ length: 37 }, (_, i) => ((i * 7919) % 37) / 41 + (i % 3) * 0.001);
    const py = spawnSync('/usr/bin/python3', ['-c', 'import sys,json,numpy; s=json.load(sys.stdin); print(json.dumps([float(v) for v in numpy.percentile(s, range(10, 100, 10))]))'], { input: JSON.stringify(scores), encoding: 'utf8' });
    expect(py.status).toBe(0);
    const expected = JSON.parse(py.stdout) as number[];
    const scale = scoreScale('film', scores);
    expect(scale.n).toBe(37);
    scale.deciles.forEach((d, i) => expect(d).toBeCloseTo(expected[i] as number, 5));
  });

  it('every shipped suspicion model carries its scale, taken on its validation split; a scale out of order is refused', () => {
    for (const id of ['mg-lesion-detector', 'busi-classifier', 'idc-tile-classifier']) {
      const raw = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../models', `${id}.json`), 'utf8')) as Record<string, unknown>;
      const m = checkedManifestSchema.parse(raw);
      expect(m.calibration?.examScore).toMatchObject({ split: 'validation' });
      const bad = structuredClone(raw) as { calibration: { examScore: { deciles: number[] } } };
      bad.calibration.examScore.deciles.reverse();
      const parsed = checkedManifestSchema.safeParse(bad);
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues.map((i) => i.path.join('.'))).toContain('calibration.examScore.deciles');
    }
  });
});
