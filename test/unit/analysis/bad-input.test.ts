// Bad input among good input: each file the pipeline cannot analyse (a SOP class it does not
// read, no laterality, no pixels) is set aside with a reason a person can act on, the good
// files of the same study are still analysed, and a study with nothing left fails for good.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type OfflineStudySummary, analyzeFiles } from '../../../src/analysis/offline';
import { analyze } from '../../../src/analysis/analyze';
import { pipelineNamed } from '../../../src/pipelines/registry';
import type { Config } from '../../../src/config/schema';
import { loadConfig } from '../../../src/config/load';
import { SopClass, newUid } from '../../../src/dicom/uid';
import { type NaturalizedDataset, writePart10 } from '../../../src/dicom/write';
import { SentinelError, isRetryable } from '../../../src/errors/errors';
import { ModelRegistry } from '../../../src/inference/registry';
import { type SampleStudy, buildMammogramDataset, buildSyntheticMammogram } from '../../../src/samples/mammogram';
import { drawSyntheticBreast } from '../../../src/samples/synthetic-breast';
import { buildUltrasoundDataset } from '../../../src/samples/ultrasound';
import { TEST_US_MODEL_ID, buildEvalTestModels } from '../../support/models/eval-test-models';
import { TEST_MODEL_ID, buildTestModel } from '../../support/models/test-model';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-bad-input-'));
const modelsDir = path.join(dir, 'models');
let registry: ModelRegistry;

/** The test US model with a score class, which analysis (unlike evaluation) needs for a study score. */
const US_MODEL_ID = 'test-us-scored';

beforeAll(async () => {
  fs.mkdirSync(modelsDir);
  buildTestModel(modelsDir);
  buildEvalTestModels(modelsDir);
  const us = JSON.parse(fs.readFileSync(path.join(modelsDir, `${TEST_US_MODEL_ID}.json`), 'utf8')) as { id: string; outputs: Array<{ scoreClass?: string }> };
  us.id = US_MODEL_ID;
  us.outputs[0]!.scoreClass = 'malignant';
  fs.writeFileSync(path.join(modelsDir, `${US_MODEL_ID}.json`), JSON.stringify(us));
  registry = await ModelRegistry.load(modelsDir, { intraOpNumThreads: 1 });
});
afterAll(() => registry.close());

function config(): Config {
  return loadConfig({ overrides: { routing: { rules: [
    { name: 'mammography', modalities: ['MG'], pipeline: 'mammography', models: [TEST_MODEL_ID] },
    { name: 'ultrasound', modalities: ['US'], pipeline: 'ultrasound', models: [US_MODEL_ID] },
  ] } } });
}

const study = (): SampleStudy => ({ studyInstanceUid: newUid(), accessionNumber: 'BAD1', patientId: 'P1', patientName: 'Bad^Input' });

/** A synthetic 12-bit mammogram's dataset, to be altered before it is written. */
function mammogramDataset(s: SampleStudy, laterality: 'L' | 'R', lesion: boolean): NaturalizedDataset {
  const rows = 400;
  const columns = 320;
  const data = drawSyntheticBreast({ rows, columns, laterality, lesions: lesion ? [{ x: 200, y: 200, radius: 20 }] : [], seed: 3, bits: 12 });
  return buildMammogramDataset(s, { laterality, view: 'CC' }, { rows, columns, data, bits: 12, spacingMm: 0.4 });
}

function writeStudy(name: string, files: Array<Buffer | NaturalizedDataset>): string {
  const input = path.join(dir, name);
  fs.mkdirSync(input);
  files.forEach((f, i) => fs.writeFileSync(path.join(input, `${i}.dcm`), Buffer.isBuffer(f) ? f : writePart10(f)));
  return input;
}

async function analyseOne(name: string, files: Array<Buffer | NaturalizedDataset>): Promise<OfflineStudySummary> {
  const summary = await analyzeFiles({ paths: [writeStudy(name, files)], outDir: path.join(dir, `out-${name}`), config: config(), registry });
  expect(summary.studies).toHaveLength(1);
  return summary.studies[0]!;
}

describe('SOP classes: each pipeline reads only the ones it declares', () => {
  it('a made-up SOP class with Modality MG is skipped with its reason; the real mammogram beside it is analysed', async () => {
    const s = study();
    const good = mammogramDataset(s, 'L', true);
    const fake: NaturalizedDataset = { ...mammogramDataset(s, 'R', true), SOPClassUID: '1.2.840.10008.5.1.4.1.1.999' };
    const r = await analyseOne('made-up-sop', [good, fake]);
    expect(r).toMatchObject({ status: 'analysed', pipeline: 'mammography' });
    expect(r.skippedImages).toEqual([{ sopInstanceUid: fake.SOPInstanceUID, reason: 'SOP class 1.2.840.10008.5.1.4.1.1.999 is not read by the mammography pipeline' }]);
    expect(new Set(r.findings!.map((f) => f.sopInstanceUid))).toEqual(new Set([good.SOPInstanceUID]));
  });

  it('a study left with no image the pipeline reads fails for good, naming the reasons', async () => {
    const s = study();
    const fake: NaturalizedDataset = { ...mammogramDataset(s, 'R', true), SOPClassUID: '1.2.840.10008.5.1.4.1.1.999' };
    const r = await analyseOne('only-made-up-sop', [fake]);
    expect(r.status).toBe('failed');
    expect(r.reason).toBe('SentinelError: no image of the study could be analysed by the mammography pipeline: SOP class 1.2.840.10008.5.1.4.1.1.999 is not read by the mammography pipeline');

    // The service calls analyze the same way: the job must not be retried.
    const err = await analyze({ source: { kind: 'files', files: [writePart10(fake)] }, pipeline: pipelineNamed('mammography'), model: registry.model(TEST_MODEL_ID), config: config(), newUid, now: new Date() })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SentinelError);
    expect(isRetryable(err)).toBe(false);
  });

  it('Digital Mammography For Processing is read like For Presentation', async () => {
    const s = study();
    const forProcessing: NaturalizedDataset = { ...mammogramDataset(s, 'L', true), SOPClassUID: SopClass.DigitalMammographyForProcessing, PresentationIntentType: 'FOR PROCESSING' };
    const r = await analyseOne('for-processing', [forProcessing]);
    expect(r).toMatchObject({ status: 'analysed', skippedImages: [] });
    expect(r.findings!.length).toBeGreaterThan(0);
  });

  it('ultrasound reads US Image and US Multi-frame Image; a mammogram in the US study is skipped', async () => {
    const s = study();
    const rows = 128;
    const columns = 128;
    const bright = new Uint8Array(rows * columns).fill(220);
    const single = buildUltrasoundDataset(s, { instanceNumber: 1 }, { rows, columns, data: bright });
    const clip = new Uint8Array(2 * rows * columns).fill(220);
    const multi: NaturalizedDataset = { ...buildUltrasoundDataset(s, { instanceNumber: 2 }, { rows, columns, data: clip }), SOPClassUID: '1.2.840.10008.5.1.4.1.1.3.1', NumberOfFrames: 2 };
    const mg: NaturalizedDataset = { ...mammogramDataset(s, 'L', false), Modality: 'US' };
    const r = await analyseOne('ultrasound', [single, multi, mg]);
    expect(r).toMatchObject({ status: 'analysed', pipeline: 'ultrasound', model: { id: US_MODEL_ID } });
    // Both US images were classified: the ORU carries one class per image.
    const oru = fs.readFileSync(path.join(dir, 'out-ultrasound', r.outputs.oru![0]!), 'utf8');
    expect(oru.split('\r').filter((seg) => seg.startsWith('OBX|') && seg.includes('|AICLASS^'))).toHaveLength(2);
    expect(r.skippedImages).toEqual([{ sopInstanceUid: mg.SOPInstanceUID, reason: `SOP class ${SopClass.DigitalMammographyForPresentation} is not read by the ultrasound pipeline` }]);
  });
});

describe('files the pipeline reads but cannot analyse', () => {
  it('a mammogram without laterality is skipped with the reason; the other side is analysed', async () => {
    const s = study();
    const good = mammogramDataset(s, 'L', true);
    const noSide = mammogramDataset(s, 'R', true);
    delete noSide.ImageLaterality;
    const both: NaturalizedDataset = { ...mammogramDataset(s, 'R', true), ImageLaterality: 'B' };
    const r = await analyseOne('no-laterality', [good, noSide, both]);
    expect(r.status).toBe('analysed');
    expect(r.skippedImages).toEqual([
      { sopInstanceUid: noSide.SOPInstanceUID, reason: 'the mammogram has no Image Laterality (0020,0062) L or R: its findings could not be given a breast' },
      { sopInstanceUid: both.SOPInstanceUID, reason: 'the mammogram has no Image Laterality (0020,0062) L or R (it says "B"): its findings could not be given a breast' },
    ]);
    expect(new Set(r.findings!.map((f) => f.sopInstanceUid))).toEqual(new Set([good.SOPInstanceUID]));
  });

  it('an image without Pixel Data is skipped with the reason; the good one is analysed', async () => {
    const s = study();
    const good = buildSyntheticMammogram(s, { laterality: 'L', view: 'MLO' }, { rows: 400, columns: 320, spacingMm: 0.4, lesions: [{ x: 200, y: 200, radius: 20 }], seed: 4 });
    const noPixels = mammogramDataset(s, 'R', false);
    delete noPixels.PixelData;
    const r = await analyseOne('no-pixels', [good, noPixels]);
    expect(r.status).toBe('analysed');
    expect(r.skippedImages).toEqual([{ sopInstanceUid: noPixels.SOPInstanceUID, reason: 'the image has no Pixel Data (7FE0,0010)' }]);
    expect(r.findings!.length).toBeGreaterThan(0);
  });

  it('a study with no instance at all fails for good with a clear reason', async () => {
    const err = await analyze({ source: { kind: 'files', files: [] }, pipeline: pipelineNamed('mammography'), model: registry.model(TEST_MODEL_ID), config: config(), newUid, now: new Date() })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SentinelError);
    expect((err as SentinelError).message).toBe('the study holds no instance for the mammography pipeline: nothing to analyse');
    expect(isRetryable(err)).toBe(false);
  });
});
