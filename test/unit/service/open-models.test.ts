// The service opens, at start, every model its routing can run: the rules' models and the
// companions their pipelines run beside them (mammography's density model). A companion whose
// ONNX graph does not match its manifest stops the start with the mismatch named, instead of
// failing the first study (and no first study waits for its session to open).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../../src/config/load';
import { ManifestError } from '../../../src/inference/registry';
import { openServices } from '../../../src/service/services';
import { TEST_MODEL_ID, buildTestModel } from '../../support/models/test-model';
import { testConfig } from '../../support/stack';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-open-models-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A models folder: the test MG model and the shipped density model, its manifest edited by `edit`. */
function modelsWithDensity(name: string, edit: (m: { input: Record<string, unknown> }) => void): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  buildTestModel(d);
  const manifest = JSON.parse(fs.readFileSync(path.join(projectRoot, 'models/mini-mias-density.json'), 'utf8')) as { file: string; input: Record<string, unknown> };
  fs.copyFileSync(path.join(projectRoot, 'models', manifest.file), path.join(d, manifest.file));
  edit(manifest);
  fs.writeFileSync(path.join(d, 'mini-mias-density.json'), JSON.stringify(manifest));
  return d;
}

const config = (modelsDir: string) => testConfig({
  models: { dir: modelsDir, threads: 1 },
  routing: { rules: [{ name: 'mammography', modalities: ['MG'], pipeline: 'mammography', models: [TEST_MODEL_ID] }] },
});

describe('models opened at start', () => {
  it("refuses to start when a routed pipeline's companion does not match its manifest, naming it", async () => {
    const broken = modelsWithDensity('broken', (m) => Object.assign(m.input, { width: (m.input.width as number) + 8 }));
    const err = await openServices(config(broken)).then(async (started) => started.close(), (e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).problems.join('\n')).toMatch(/^mini-mias-density\.json: input "\w+": width is \d+, the manifest says \d+/m);
  });

  it('starts with the same companion unedited', async () => {
    const services = await openServices(config(modelsWithDensity('intact', () => undefined)));
    try {
      expect(services.models.list().map((m) => m.id).sort()).toEqual(['mini-mias-density', TEST_MODEL_ID].sort());
    } finally {
      await services.close();
    }
  });
});
