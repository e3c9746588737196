// The evaluation metrics on small hand-made cases; every expected value is worked out by
// hand in the comments, following models/training/common.py, train_mg.py and train_busi.py.
import {
  averageRanks, binaryMetrics, confusionAt, confusionMatrix, frocPoint, linspace, multiclassMetrics, rocAuc, sensitivityAtFp,
} from '../../../src/evaluation/metrics';
import { FROC_THRESHOLDS, heatmapDetections } from '../../../src/evaluation/mammography';
import { pilResize } from '../../../src/pipelines/common/pil-resample';

describe('ranks and ROC AUC', () => {
  it('gives tied values their average rank (scipy rankdata)', () => {
    // sorted: 1, 1, 3, 4, 5 -> the two 1s share ranks 1 and 2: 1.5 each.
    expect(Array.from(averageRanks([3, 1, 4, 1, 5]))).toEqual([3, 1.5, 4, 1.5, 5]);
  });

  it('counts a tied positive/negative pair as one half', () => {
    // positives 0.9, 0.5, 0.3; negatives 0.5, 0.1, 0.3.
    // 0.9 beats all three: 3. 0.5 beats 0.1 and 0.3, ties 0.5: 2.5. 0.3 beats 0.1, ties 0.3: 1.5.
    // (3 + 2.5 + 1.5) / 9 = 7 / 9.
    expect(rocAuc([true, true, false, false, true, false], [0.9, 0.5, 0.5, 0.1, 0.3, 0.3])).toBeCloseTo(7 / 9, 12);
  });

  it('is 0.5 when every score is tied, 1 when perfect, 0 when reversed, NaN with one class', () => {
    expect(rocAuc([true, false, true, false], [0.4, 0.4, 0.4, 0.4])).toBe(0.5);
    expect(rocAuc([true, false, true, false], [0.9, 0.1, 0.8, 0.2])).toBe(1);
    expect(rocAuc([true, false, true, false], [0.1, 0.9, 0.2, 0.8])).toBe(0);
    expect(rocAuc([true, true], [0.1, 0.9])).toBeNaN();
  });
});

describe('binary metrics at a threshold', () => {
  it('counts, sensitivity, specificity, balanced accuracy, F1', () => {
    // Positive when score >= 0.5 (0.5 itself is positive).
    // labels 1,1,1 scored 0.9 0.6 0.2 -> tp 2, fn 1; labels 0,0,0,0 scored 0.7 0.4 0.1 0.5 -> fp 2, tn 2.
    // sensitivity 2/3, specificity 2/4, balanced (2/3 + 1/2) / 2 = 7/12,
    // precision 2/4, F1 = 2 (1/2)(2/3) / (1/2 + 2/3) = (2/3) / (7/6) = 4/7, accuracy 4/7.
    const labels = [true, true, true, false, false, false, false];
    const scores = [0.9, 0.6, 0.2, 0.7, 0.4, 0.1, 0.5];
    expect(confusionAt(labels, scores, 0.5)).toEqual({ tp: 2, fn: 1, fp: 2, tn: 2 });
    const m = binaryMetrics(labels, scores, 0.5);
    expect(m.n).toBe(7);
    expect(m.sensitivity).toBeCloseTo(2 / 3, 12);
    expect(m.specificity).toBeCloseTo(1 / 2, 12);
    expect(m.balanced_accuracy).toBeCloseTo(7 / 12, 12);
    expect(m.f1).toBeCloseTo(4 / 7, 12);
    expect(m.accuracy).toBeCloseTo(4 / 7, 12);
    // AUC: 0.9 beats all 4 negatives, 0.6 beats 0.4 0.1 0.5 (3), 0.2 beats 0.1 (1): 8 / 12.
    expect(m.auc).toBeCloseTo(8 / 12, 12);
  });

  it('F1 is 0, not NaN, when nothing is called positive', () => {
    const m = binaryMetrics([true, false], [0.1, 0.2], 0.5);
    expect(m.f1).toBe(0);
    expect(m.sensitivity).toBe(0);
    expect(m.specificity).toBe(1);
  });

  it('compares in float32 as numpy does: a float32 score equal to the rounded threshold is positive', () => {
    // float32(0.195) = 0.19499999284744263 < 0.195 in double, but numpy casts the threshold
    // to the float32 scores' type, so the tile is positive in train_idc.py.
    expect(confusionAt([true], [Math.fround(0.195)], 0.195)).toEqual({ tp: 1, fn: 0, fp: 0, tn: 0 });
  });
});

describe('multi-class metrics', () => {
  it('confusion matrix: rows truth, columns predicted', () => {
    expect(confusionMatrix([0, 0, 1, 2, 2, 1], [0, 1, 1, 2, 0, 1], 3)).toEqual([[1, 1, 0], [0, 2, 0], [1, 0, 1]]);
  });

  it('macro one-vs-rest AUC, argmax accuracy and confusion', () => {
    const truth = [0, 1, 2, 1];
    const p = [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.1, 0.5, 0.4], [0.2, 0.2, 0.6]];
    // argmax 0, 1, 1, 2 -> right, right, wrong, wrong: accuracy 1/2.
    // class 0: positive 0.7 vs 0.3 0.1 0.2 -> 1.
    // class 1: positives 0.4, 0.2 vs negatives 0.2, 0.5: 0.4 -> 1 + 0; 0.2 -> 0.5 + 0: 1.5 / 4 = 3/8.
    // class 2: positive 0.4 vs 0.1 0.3 0.6 -> 2/3.  macro = (1 + 3/8 + 2/3) / 3 = 49/72.
    const m = multiclassMetrics(truth, p, 3);
    expect(m.per_class_auc[0]).toBe(1);
    expect(m.per_class_auc[1]).toBeCloseTo(3 / 8, 12);
    expect(m.per_class_auc[2]).toBeCloseTo(2 / 3, 12);
    expect(m.macro_auc).toBeCloseTo(49 / 72, 12);
    expect(m.accuracy).toBe(0.5);
    expect(m.confusion).toEqual([[1, 0, 0], [0, 1, 1], [0, 1, 0]]);
  });

  it('argmax takes the first of equal probabilities (numpy)', () => {
    expect(multiclassMetrics([0], [[0.4, 0.4, 0.2]], 3).confusion[0]).toEqual([1, 0, 0]);
  });
});

describe('FROC', () => {
  it('hits, repeated hits, ignored regions and false positives as train_mg.froc counts them', () => {
    const p = frocPoint([
      {
        targets: [{ x: 100, y: 100, r: 10 }, { x: 200, y: 200, r: 20 }],
        ignored: [{ x: 50, y: 50, r: 15 }],
        detections: [
          { x: 105, y: 100 }, // inside target 0: hit
          { x: 100, y: 110 }, // on target 0's circle: hit again, not a false positive
          { x: 55, y: 50 }, //   inside the ignored circle only: not counted
          { x: 300, y: 300 }, // nowhere: false positive
        ],
      },
      { targets: [], ignored: [], detections: [{ x: 10, y: 10 }] }, // normal film: false positive
      { targets: [{ x: 0, y: 0, r: 5 }], ignored: [], detections: [] }, // missed lesion
      // overlapping targets: one detection in both finds both
      { targets: [{ x: 0, y: 0, r: 10 }, { x: 5, y: 0, r: 10 }], ignored: [{ x: 3, y: 0, r: 50 }], detections: [{ x: 3, y: 0 }] },
    ]);
    // lesions 2 + 1 + 2 = 5, found 1 + 2 = 3; false positives 2 on 4 films.
    expect(p).toEqual({ hits: 3, lesions: 5, falsePositives: 2, sensitivity: 0.6, fpPerImage: 0.5 });
  });

  it('heatmap detections as train_mg.detections: 4-connected regions, centred on their first highest cell', () => {
    // 4 x 3 cells of 16 source pixels, one class:
    //   0.9 0.1 0.1 0.1
    //   0.1 0.5 0.7 0.1      the diagonal 0.9 / 0.5 touch only by a corner: two regions at 0.4;
    //   0.1 0.7 0.1 0.1      the second region's highest value 0.7 comes first at row 1, column 2.
    const data = Float32Array.from([0.9, 0.1, 0.1, 0.1, 0.1, 0.5, 0.7, 0.1, 0.1, 0.7, 0.1, 0.1]);
    const h = { classes: 1, width: 4, height: 3, data, cellPx: 16 };
    expect(heatmapDetections(h, 0.4)).toEqual([
      { x: 8, y: 8, score: Math.fround(0.9), cls: 0 },
      { x: 40, y: 24, score: Math.fround(0.7), cls: 0 },
    ]);
    // At 0.6 the 0.5 cell drops out and the two 0.7 cells touch only by a corner: three regions.
    expect(heatmapDetections(h, 0.6).map((d) => [d.x, d.y])).toEqual([[8, 8], [40, 24], [24, 40]]);
    // A cell exactly at the threshold is in (float32 comparison, as numpy).
    expect(heatmapDetections(h, 0.9)).toHaveLength(1);
  });

  it('sensitivity at 1 FP/image is the best point at or under 1, whatever the order; 0 when none', () => {
    expect(sensitivityAtFp([[2, 0.8], [1, 0.6], [0.5, 0.4], [1.2, 0.7]])).toBe(0.6);
    expect(sensitivityAtFp([[0.9, 0.3], [0.95, 0.5], [0.8, 0.4]])).toBe(0.5);
    expect(sensitivityAtFp([[3, 0.9]])).toBe(0);
  });

  it('uses train_mg.py thresholds: numpy linspace 0.02 ... 0.3 (15) then 0.32 ... 0.98 (34)', () => {
    expect(linspace(0, 1, 5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(FROC_THRESHOLDS).toHaveLength(49);
    expect(FROC_THRESHOLDS[0]).toBe(0.02);
    expect(FROC_THRESHOLDS[14]).toBe(0.3);
    expect(FROC_THRESHOLDS[48]).toBe(0.98);
    FROC_THRESHOLDS.forEach((t, i) => expect(t).toBeCloseTo(0.02 * (i + 1), 12));
  });
});

describe('PIL resize (what train_busi.py and train_mg.py fed their models)', () => {
  it('bilinear 4 -> 2: a triangle filter widened by the scale, weights 3/7 3/7 1/7', () => {
    // out 0: centre 1, taps 0..2 weights 0.75 0.75 0.25 -> (0*3 + 70*3 + 140) / 7 = 50
    // out 1: centre 3, taps 1..3 weights 0.25 0.75 0.75 -> (70 + 140*3 + 210*3) / 7 = 160
    expect(Array.from(pilResize(Uint8Array.from([0, 70, 140, 210]), 4, 1, 1, 2, 1, 'bilinear'))).toEqual([50, 160]);
  });

  it('box 4 -> 2 averages pairs and rounds halves up', () => {
    expect(Array.from(pilResize(Uint8Array.from([10, 20, 30, 41]), 4, 1, 1, 2, 1, 'box'))).toEqual([15, 36]);
  });

  it('rounds after each pass: box 2x2 -> 1 of [[0,1],[0,0]] is 1 (rows 0.5 -> 1 and 0, then 0.5 -> 1), not round(0.25)', () => {
    expect(Array.from(pilResize(Uint8Array.from([0, 1, 0, 0]), 2, 2, 1, 1, 1, 'box'))).toEqual([1]);
  });

  it('keeps a uniform image uniform and an image of the same size unchanged', () => {
    expect(new Set(pilResize(new Uint8Array(300 * 217).fill(77), 300, 217, 1, 128, 128, 'bilinear'))).toEqual(new Set([77]));
    const img = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
    expect(Array.from(pilResize(img, 2, 2, 3, 2, 2, 'bilinear'))).toEqual(Array.from(img));
  });
});
