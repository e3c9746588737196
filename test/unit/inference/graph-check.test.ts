// An ONNX graph is refused when it is loaded if it is not the graph its manifest describes
// (input name, channels, size; output names and shapes), with the mismatch named, instead of
// failing inside onnxruntime on the first study or being read wrongly.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isRetryable } from '../../../src/errors/errors';
import { ManifestError, ModelRegistry } from '../../../src/inference/registry';
import { TEST_US_MODEL_ID, buildEvalTestModels } from '../../support/models/eval-test-models';
import { TEST_MODEL_ID, buildTestModel } from '../../support/models/test-model';

type Manifest = Record<string, unknown> & { input: Record<string, unknown> & { normalization: Record<string, unknown> }; outputs: Array<Record<string, unknown>> };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-graph-check-'));
const built = path.join(dir, 'built');

beforeAll(() => {
  fs.mkdirSync(built);
  buildTestModel(built);
  buildEvalTestModels(built);
});

/** A models folder holding one built model with its manifest edited (the ONNX file, and so its sha256, unchanged). */
function variant(name: string, id: string, edit: (m: Manifest) => void): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  const manifest = JSON.parse(fs.readFileSync(path.join(built, `${id}.json`), 'utf8')) as Manifest;
  fs.copyFileSync(path.join(built, manifest.file as string), path.join(d, manifest.file as string));
  edit(manifest);
  fs.writeFileSync(path.join(d, `${id}.json`), JSON.stringify(manifest));
  return d;
}

/** What running the model once says: undefined when it ran, else the error. */
async function firstRun(modelsDir: string, id: string): Promise<unknown> {
  const registry = await ModelRegistry.load(modelsDir, { intraOpNumThreads: 1 });
  try {
    const { channels, height, width } = registry.get(id).manifest.input;
    return await registry.run(id, new Float32Array(channels * height * width), 1).then(() => undefined, (e: unknown) => e);
  } finally {
    await registry.close();
  }
}

async function problemsOf(modelsDir: string, id: string): Promise<string[]> {
  const err = await firstRun(modelsDir, id);
  expect(err).toBeInstanceOf(ManifestError);
  expect(isRetryable(err)).toBe(false);
  return (err as ManifestError).problems;
}

describe('an ONNX graph that does not match its manifest is refused when loaded', () => {
  it('the test models and every shipped model match their manifests and run', async () => {
    expect(await firstRun(built, TEST_MODEL_ID)).toBeUndefined();
    expect(await firstRun(built, TEST_US_MODEL_ID)).toBeUndefined();
    const shipped = await ModelRegistry.load(path.resolve(__dirname, '../../../models'), { intraOpNumThreads: 1 });
    try {
      for (const m of shipped.list()) await expect(shipped.open(m.id)).resolves.toBeUndefined();
    } finally {
      await shipped.close();
    }
  });

  it('an input name the graph does not have', async () => {
    const d = variant('input-name', TEST_MODEL_ID, (m) => { m.input.name = 'pixels'; });
    expect(await problemsOf(d, TEST_MODEL_ID)).toEqual([`${TEST_MODEL_ID}.json: input "pixels" is not an input of sentinel-test-blob.onnx (its inputs: "input")`]);
  });

  it('an input size and channel count the graph does not take', async () => {
    const d = variant('input-size', TEST_MODEL_ID, (m) => {
      Object.assign(m.input, { height: 256, width: 192, channels: 3, channelOrder: 'RGB' });
      Object.assign(m.input.normalization, { mean: [0, 0, 0], std: [1, 1, 1] });
    });
    expect(await problemsOf(d, TEST_MODEL_ID)).toEqual([
      `${TEST_MODEL_ID}.json: input "input": channels is 1, the manifest says 3`,
      `${TEST_MODEL_ID}.json: input "input": height is 128, the manifest says 256`,
      `${TEST_MODEL_ID}.json: input "input": width is 128, the manifest says 192`,
    ]);
  });

  it('an output name the graph does not have, and a heatmap with another class count', async () => {
    const d = variant('outputs', TEST_MODEL_ID, (m) => {
      m.outputs[0]!.classes = ['mass', 'calcification'];
      m.outputs[1]!.name = 'score';
    });
    expect(await problemsOf(d, TEST_MODEL_ID)).toEqual([
      `${TEST_MODEL_ID}.json: output "lesion_heatmap" (lesion_heatmap): classes is 1, the manifest says 2`,
      `${TEST_MODEL_ID}.json: output "score" (image_score) is not an output of sentinel-test-blob.onnx (its outputs: "lesion_heatmap", "image_score")`,
    ]);
  });

  it('class probabilities over more classes than the graph gives', async () => {
    const d = variant('classes', TEST_US_MODEL_ID, (m) => { m.outputs[0]!.classes = ['normal', 'benign', 'malignant', 'other']; });
    expect(await problemsOf(d, TEST_US_MODEL_ID)).toEqual([`${TEST_US_MODEL_ID}.json: output "class_probabilities" (class_probabilities): classes is 3, the manifest says 4`]);
  });

  it('a tile probability read from an output that is not [N, 1]', async () => {
    // The ultrasound graph's [N, 3] output declared as a tile classifier's probability.
    const d = variant('tile', TEST_US_MODEL_ID, (m) => {
      Object.assign(m, { task: 'wsi-tile-classification', modality: 'SM' });
      m.outputs[0] = { name: 'class_probabilities', role: 'tile_probability', classes: ['idc'], activation: 'sigmoid' };
    });
    const registry = await ModelRegistry.load(d, { intraOpNumThreads: 1 });
    try {
      // Refused by open() as well as by a run: the service can check a model before a study needs it.
      await expect(registry.open(TEST_US_MODEL_ID)).rejects.toThrow(`${TEST_US_MODEL_ID}.json: output "class_probabilities" (tile_probability): values is 3, the manifest says 1`);
    } finally {
      await registry.close();
    }
  });
});
