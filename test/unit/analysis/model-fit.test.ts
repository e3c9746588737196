// A model runs only under the pipeline its manifest is for: `--model busi-classifier` on a
// mammogram, or a routing rule naming the wrong model, is refused with the reason (and, in
// the service, fails the job for good) instead of scoring the study with the wrong model.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyzeFiles } from '../../../src/analysis/offline';
import { analyze } from '../../../src/analysis/analyze';
import { runAnalyze } from '../../../src/cli/analyze-command';
import { loadConfig } from '../../../src/config/load';
import { newUid } from '../../../src/dicom/uid';
import { SentinelError, isRetryable } from '../../../src/errors/errors';
import { ModelRegistry } from '../../../src/inference/registry';
import { PIPELINES, pipelineNamed } from '../../../src/pipelines/registry';
import { buildSyntheticMammogram } from '../../../src/samples/mammogram';
import { TEST_US_MODEL_ID, buildEvalTestModels } from '../../support/models/eval-test-models';
import { TEST_MODEL_ID, buildTestModel } from '../../support/models/test-model';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-model-fit-'));
const modelsDir = path.join(dir, 'models');
const shippedDir = path.resolve(__dirname, '../../../models');
let registry: ModelRegistry;
let input: string;
let mammogram: Buffer;

beforeAll(async () => {
  fs.mkdirSync(modelsDir);
  buildTestModel(modelsDir);
  buildEvalTestModels(modelsDir);
  registry = await ModelRegistry.load(modelsDir, { intraOpNumThreads: 1 });
  input = path.join(dir, 'mg');
  fs.mkdirSync(input);
  const study = { studyInstanceUid: newUid(), accessionNumber: 'FIT1', patientId: 'P1', patientName: 'Model^Fit' };
  mammogram = buildSyntheticMammogram(study, { laterality: 'L', view: 'CC' }, { rows: 400, columns: 320, spacingMm: 0.4, lesions: [{ x: 200, y: 200, radius: 20 }] });
  fs.writeFileSync(path.join(input, 'L.dcm'), mammogram);
});
afterAll(() => registry.close());

const MISFIT = 'model busi-classifier (task ultrasound-classification, modality US) does not fit the mammography pipeline, which runs mammography-lesion-detection models for MG';

describe('a model for another pipeline is refused', () => {
  it('every pipeline names the task and modality of the models it runs, each task once', () => {
    const tasks = PIPELINES.map((p) => p.task);
    expect(new Set(tasks).size).toBe(tasks.length);
    for (const m of registry.list()) {
      expect(PIPELINES.filter((p) => p.task === m.task && p.modality === m.modality)).toHaveLength(1);
    }
  });

  it('sentinel analyze --model busi-classifier on a mammogram exits non-zero with the reason', async () => {
    const errors: string[] = [];
    const err = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const code = await runAnalyze([input], { out: path.join(dir, 'out-cli'), model: 'busi-classifier', models: shippedDir });
      expect(code).toBe(1);
    } finally {
      err.mockRestore();
      log.mockRestore();
    }
    expect(errors.join('\n')).toContain(MISFIT);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'out-cli', 'summary.json'), 'utf8')) as { studies: Array<{ status: string; reason: string; outputs: Record<string, string[]> }> };
    expect(summary.studies).toEqual([expect.objectContaining({ status: 'failed', reason: `SentinelError: ${MISFIT}`, outputs: {} })]);
  });

  it('--model overrides the rule even when the rule\'s own model is not installed; the fitting model analyses', async () => {
    // The rules route MG to mg-lesion-detector, which is not in this folder.
    const summary = await analyzeFiles({ paths: [input], outDir: path.join(dir, 'out-override'), config: loadConfig(), registry, modelId: TEST_MODEL_ID });
    expect(summary.studies).toEqual([expect.objectContaining({ status: 'analysed', pipeline: 'mammography', model: { id: TEST_MODEL_ID, version: '0.0.1' } })]);
    const misfit = await analyzeFiles({ paths: [input], outDir: path.join(dir, 'out-misfit'), config: loadConfig(), registry, modelId: TEST_US_MODEL_ID });
    expect(misfit.studies[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining(`model ${TEST_US_MODEL_ID} (task ultrasound-classification, modality US) does not fit the mammography pipeline`) as unknown });
  });

  it('the service\'s path (analyze) refuses it for good, so the job is not retried', async () => {
    const err = await analyze({ source: { kind: 'files', files: [mammogram] }, pipeline: pipelineNamed('mammography'), model: registry.model(TEST_US_MODEL_ID), config: loadConfig(), newUid, now: new Date() })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SentinelError);
    expect((err as SentinelError).message).toContain('does not fit the mammography pipeline');
    expect(isRetryable(err)).toBe(false);
    const wrongWay = await analyze({ source: { kind: 'files', files: [mammogram] }, pipeline: pipelineNamed('ultrasound'), model: registry.model(TEST_MODEL_ID), config: loadConfig(), newUid, now: new Date() })
      .then(() => undefined, (e: unknown) => e);
    expect((wrongWay as SentinelError).message).toBe(`model ${TEST_MODEL_ID} (task mammography-lesion-detection, modality MG) does not fit the ultrasound pipeline, which runs ultrasound-classification models for US`);
  });
});
