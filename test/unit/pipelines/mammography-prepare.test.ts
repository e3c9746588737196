// The mammography pipeline's prepare hook, which starts a film's decoding, and its resizing
// for each model, as its file arrives from the PACS while the rest of the study is still being
// fetched:
// - the film it decoded is the one the analysis uses (shown by overwriting the file's pixel
//   data after prepare has read it: the lesion is still found; without prepare it is not);
// - what it resizes for the detector's spacing and the density model (the shipped one) gives
//   the findings and composition the film's own bytes give;
// - a hostile or foreign file given to it neither throws nor leaves a rejected promise behind,
//   and the analysis still refuses the file with its reason.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDicom } from '../../../src/dicom/read';
import { newUid } from '../../../src/dicom/uid';
import { writePart10 } from '../../../src/dicom/write';
import { ModelRegistry } from '../../../src/inference/registry';
import type { Companions } from '../../../src/pipelines/definition';
import { mammography } from '../../../src/pipelines/mammography';
import { buildMammogramDataset, buildSyntheticMammogram } from '../../../src/samples/mammogram';
import { drawSyntheticBreast } from '../../../src/samples/synthetic-breast';
import { TEST_MODEL_ID, buildTestModel } from '../../support/models/test-model';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-prepare-'));
let registry: ModelRegistry;

beforeAll(async () => {
  buildTestModel(dir);
  for (const f of ['mini-mias-density.json', 'mini-mias-density.onnx']) fs.copyFileSync(path.join(__dirname, '../../../models', f), path.join(dir, f));
  registry = await ModelRegistry.load(dir, { intraOpNumThreads: 1 });
});
afterAll(() => registry.close());

const study = { studyInstanceUid: newUid(), accessionNumber: 'ACC-PREP', patientId: 'P-PREP', patientName: 'Prepare^Test' };
const rows = 600;
const columns = 480;
const lesion = { x: 150, y: 320, radius: 30 };

function ids(): { newUid: () => string; nextTrackingId: () => string } {
  let n = 0;
  return { newUid: () => `2.25.${++n}`, nextTrackingId: () => `F${++n}` };
}

const withLesion = (): Buffer => buildSyntheticMammogram(study, { laterality: 'R', view: 'CC', seriesInstanceUid: `${study.studyInstanceUid}.1` }, { rows, columns, spacingMm: 0.2, lesions: [lesion], seed: 3 });

/** Zeroes the file's Pixel Data in place: what the analysis sees if it decodes the file again. */
function blankPixels(bytes: Buffer): void {
  const element = parseDicom(bytes).dataSet.elements.x7fe00010!;
  bytes.fill(0, element.dataOffset, element.dataOffset + element.length);
}

const analyse = async (bytes: Buffer, companions: Companions = {}) => {
  const parsed = parseDicom(bytes);
  return mammography.analyseImage(parsed, registry.model(TEST_MODEL_ID), ids(), companions, [parsed]);
};

/** Until the decoding prepare started has run (it starts after the caller's next step). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
};

describe('mammography prepare', () => {
  it('decodes the film as its file arrives, and the analysis uses that film', async () => {
    const control = withLesion();
    expect((await analyse(Buffer.from(control))).findings).toHaveLength(1);
    blankPixels(control);
    expect((await analyse(control)).findings).toEqual([]);

    const bytes = withLesion();
    mammography.prepare!(bytes, registry.model(TEST_MODEL_ID), {});
    await settle();
    blankPixels(bytes);
    const result = await analyse(bytes);
    expect(result.findings).toHaveLength(1);
    expect(Math.hypot(result.findings[0]!.centre.x - lesion.x, result.findings[0]!.centre.y - lesion.y)).toBeLessThan(12);
  });

  it('with the density model as a companion, gives the analysis the same findings and composition as analysing the film from its bytes', async () => {
    const companions = { density: registry.model('mini-mias-density') };
    const fromBytes = await analyse(withLesion(), companions);
    const bytes = withLesion();
    mammography.prepare!(bytes, registry.model(TEST_MODEL_ID), companions);
    await settle();
    const prepared = await analyse(bytes, companions);
    expect(prepared.density).toEqual(fromBytes.density);
    expect(prepared.findings.map((f) => [f.score, f.centre])).toEqual(fromBytes.findings.map((f) => [f.score, f.centre]));
    expect(prepared.findings).toHaveLength(1);
  });

  it('takes hostile and foreign files without throwing or leaving a rejected promise, and the analysis still gives the reason', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => void rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const whole = withLesion();
      const ultrasound = writePart10({ ...buildMammogramDataset(study, { laterality: 'L', view: 'CC' }, { rows: 8, columns: 8, data: new Uint8Array(64), bits: 8, spacingMm: 0.2 }), SOPClassUID: '1.2.840.10008.5.1.4.1.1.6.1', Modality: 'US' });
      const badBits = writePart10({ ...buildMammogramDataset(study, { laterality: 'L', view: 'MLO' }, { rows, columns, data: drawSyntheticBreast({ rows, columns, laterality: 'L', bits: 12 }), bits: 12, spacingMm: 0.2 }), BitsStored: 20, HighBit: 19 });
      const inputs: Array<[string, Uint8Array]> = [
        ['empty', new Uint8Array(0)],
        ['random bytes', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)],
        ['cut inside its pixel data', whole.subarray(0, whole.length - 1000)],
        ['cut inside its header', whole.subarray(0, 300)],
        ['another SOP class', ultrasound],
        ['Bits Stored larger than Bits Allocated', badBits],
      ];
      for (const [, bytes] of inputs) expect(() => mammography.prepare!(bytes, registry.model(TEST_MODEL_ID), { density: registry.model('mini-mias-density') })).not.toThrow();
      await settle();
      expect(rejections).toEqual([]);
      await expect(analyse(badBits)).rejects.toThrow(/Bits Stored 20 does not fit Bits Allocated 16/);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
