// A model manifest (models/<id>.json) carries everything model-specific, so a pipeline
// never hard-codes a size, a spacing, a normalisation or a threshold: a new or retrained
// model is a new manifest next to its .onnx file.
import { z } from 'zod';
import { SentinelError } from '../errors/errors';

const normalization = z.object({
  /** Applied first: value * scale (e.g. 1/255 for 8-bit input). */
  scale: z.number().positive(),
  /** Then (value - mean[c]) / std[c], one entry per input channel. */
  mean: z.array(z.number()).min(1),
  std: z.array(z.number().positive()).min(1),
});

const codedConcept = z.object({ CodeValue: z.string().min(1), CodingSchemeDesignator: z.string().min(1), CodeMeaning: z.string().min(1) });

const output = z.object({
  /** Name of the ONNX graph output. */
  name: z.string().min(1),
  /**
   * What the tensor means:
   * - lesion_heatmap: [N, C, h, w] per-pixel probability, one channel per class, aligned
   *   with the input (stride = input size / h);
   * - image_score: [N, 1] probability that the input image is abnormal;
   * - class_probabilities: [N, K] probabilities over `classes`;
   * - tile_probability: [N, 1] probability that the tile shows the positive class;
   * - segmentation_probability: [N, 1, H, W] per-pixel probability of the class, at the input's size.
   */
  role: z.enum(['lesion_heatmap', 'image_score', 'class_probabilities', 'tile_probability', 'segmentation_probability']),
  /** Class names, in channel / column order (e.g. ["mass", "calcification"]). */
  classes: z.array(z.string()).default([]),
  /** Activation already applied inside the graph ("none" means the values are logits). */
  activation: z.enum(['sigmoid', 'softmax', 'none']),
  /** class_probabilities: the class whose probability is the study score (e.g. "malignant"). */
  scoreClass: z.string().optional(),
  /**
   * What the positive class is, as a coded concept (e.g. SCT 82711006 "Infiltrating duct
   * carcinoma" for a tile classifier): the SEG's segmented property and the SR's finding.
   */
  findingCode: codedConcept.optional(),
  /** class_probabilities: the coded concept each class stands for (e.g. a density class's BI-RADS breast composition). */
  classCodes: z.record(z.string(), codedConcept).optional(),
}).refine((o) => o.scoreClass === undefined || o.classes.includes(o.scoreClass), { message: 'scoreClass must be one of classes' })
  .refine((o) => Object.keys(o.classCodes ?? {}).every((k) => o.classes.includes(k)), { message: 'classCodes must name classes of the output' });

export const modelManifestSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  name: z.string().min(1),
  version: z.string().min(1),
  task: z.enum(['mammography-lesion-detection', 'wsi-tile-classification', 'ultrasound-classification', 'ultrasound-segmentation', 'mammography-density']),
  modality: z.enum(['MG', 'SM', 'US']),
  /** ONNX file name, relative to the manifest. */
  file: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  input: z.object({
    name: z.string().min(1),
    layout: z.literal('NCHW'),
    /** 1 gray, 3 RGB, or 2 for a gray model that takes a pair of films (`views: 'pair'`). */
    channels: z.union([z.literal(1), z.literal(2), z.literal(3)]),
    channelOrder: z.enum(['GRAY', 'RGB']),
    /**
     * What one input holds: `single`, one image; `pair` (mammography), two gray channels:
     * channel 0 a window of the film analysed, channel 1 the same window of the other
     * breast's film of the same view, resampled to the same spacing, mirrored left to right
     * (so both breasts face the same way) and brought to the film's size; where the study
     * has no such film, channel 1 repeats channel 0 (the film itself, not mirrored). The
     * outputs are the channel-0 film's. Normalisation is one mean/std for both channels.
     */
    views: z.enum(['single', 'pair']).default('single'),
    height: z.number().int().positive(),
    width: z.number().int().positive(),
    /**
     * Physical size of one input pixel in millimetres (row spacing = column spacing).
     * Absent for whole-image classifiers, whose input is the whole image resized.
     */
    pixelSpacingMm: z.number().positive().optional(),
    normalization,
  }),
  outputs: z.array(output).min(1),
  /**
   * Operating points chosen on the validation split:
   * - detection: minimum heatmap/tile probability for a finding;
   * - high / intermediate: study-score cut-offs for the category;
   * - mask: minimum per-pixel probability inside a segmentation.
   * Which of them a model must give depends on its task (THRESHOLDS_BY_TASK). Model-specific
   * extras (e.g. minimum finding area) go here too.
   */
  thresholds: z.object({
    detection: z.number().min(0).max(1).optional(),
    high: z.number().min(0).max(1).optional(),
    intermediate: z.number().min(0).max(1).optional(),
    mask: z.number().min(0).max(1).optional(),
  }).catchall(z.number()),
  /** What the pipeline does to the model's outputs before findings, chosen on validation. */
  postprocessing: z.object({
    /** Tile classifiers: Gaussian smoothing of the slide's probability map, sigma in map cells. */
    mapSmoothingSigmaCells: z.number().positive().max(10).optional(),
    /** Segmenters: how the probability map is brought back to the image's size before the mask threshold. */
    resizeProbabilityToImage: z.enum(['bilinear', 'nearest']).optional(),
    /** Segmenters: connected components smaller than this fraction of the image are dropped. */
    minComponentAreaFraction: z.number().min(0).max(1).optional(),
    componentConnectivity: z.union([z.literal(4), z.literal(8)]).optional(),
    /** Segmenters: keep only the largest component. */
    largestComponentOnly: z.boolean().optional(),
  }).strict().optional(),
  /**
   * The exam score's scale (1-10): the nine cut points between the deciles of the model's
   * scores on its validation split (`sentinel eval <task> <folder> --split validation
   * --calibrate` writes them), so a score of 10 is in the top tenth of validation scores.
   */
  calibration: z.object({
    examScore: z.object({
      split: z.string().min(1),
      /** What each score was: an image, a film, a slide. */
      unit: z.string().min(1),
      n: z.number().int().positive(),
      deciles: z.array(z.number().min(0).max(1)).length(9)
        .refine((d) => d.every((v, i) => i === 0 || v >= (d[i - 1] as number)), { message: 'deciles must be ascending' }),
    }),
  }).optional(),
  training: z.object({
    data: z.string(),
    license: z.string(),
    split: z.string(),
    script: z.string(),
  }).optional(),
  intendedUse: z.string().default('Research use only. Not a medical device.'),
}).refine((m) => (m.input.views === 'pair') === (m.input.channels === 2) && (m.input.views !== 'pair' || m.input.channelOrder === 'GRAY'), {
  message: "input.views 'pair' goes with input.channels 2 and channelOrder GRAY (and only with them)",
  path: ['input', 'views'],
});

/** The operating points each task's models must give in `thresholds`. */
export const THRESHOLDS_BY_TASK = {
  'mammography-lesion-detection': ['detection', 'high', 'intermediate'],
  'wsi-tile-classification': ['detection', 'high', 'intermediate'],
  'ultrasound-classification': ['detection', 'high', 'intermediate'],
  'ultrasound-segmentation': ['mask'],
  // Breast composition classes (class_probabilities): the most probable class is the answer.
  'mammography-density': [],
} as const satisfies Record<z.infer<typeof modelManifestSchema>['task'], readonly string[]>;

export const checkedManifestSchema = modelManifestSchema.superRefine((m, ctx) => {
  for (const key of THRESHOLDS_BY_TASK[m.task]) {
    if (m.thresholds[key] === undefined) ctx.addIssue({ code: 'custom', path: ['thresholds', key], message: `a ${m.task} model must give thresholds.${key}` });
  }
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;

export type OperatingPoint = 'detection' | 'high' | 'intermediate' | 'mask';

/** An operating point the caller needs; a manifest validated for its task always has its own. */
export function threshold(manifest: Pick<ModelManifest, 'id' | 'thresholds'>, key: OperatingPoint): number {
  const v = manifest.thresholds[key];
  if (v === undefined) throw new SentinelError('unsupported', `model ${manifest.id} gives no thresholds.${key} in its manifest`);
  return v;
}
