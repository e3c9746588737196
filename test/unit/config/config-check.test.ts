// `sentinel config check`: every problem of a configuration at once, schema first, then what
// only the running service would find (routing rules, model manifests, rules without a model).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkConfiguration } from '../../../src/cli/config-command';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-config-check-'));
function configFile(name: string, content: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('sentinel config check', () => {
  it('the shipped configuration has no problem', async () => {
    const check = await checkConfiguration({ SENTINEL_API_TOKENS: 'a-token-of-sixteen-chars' });
    expect(check.problems).toEqual([]);
    expect(check.layers[0]).toMatch(/config[/\\]default\.json$/);
  });

  it('lists every schema problem of all layers at once, the environment included', async () => {
    const file = configFile('bad.json', { server: { port: 'eighty' }, database: { url: 'not a url' }, log: { level: 'loud' } });
    const check = await checkConfiguration({ SENTINEL_CONFIG: file, SENTINEL_API_TOKENS: 'short' });
    expect(check.layers).toContain(`${file} (SENTINEL_CONFIG)`);
    const paths = check.problems.map((p) => p.split(':')[0]).sort();
    expect(paths).toEqual(['auth.apiTokens.0', 'database.url', 'log.level', 'server.port']);
  });

  it('then what the service would refuse: an unknown pipeline, a broken manifest, a rule with no installed model', async () => {
    const models = path.join(dir, 'models');
    fs.mkdirSync(models);
    fs.writeFileSync(path.join(models, 'broken.json'), JSON.stringify({ id: 'broken', name: 'x', version: '1', task: 'nope', modality: 'MG', file: 'missing.onnx', input: {}, outputs: [], thresholds: {} }));
    const file = configFile('rules.json', {
      models: { dir: models },
      routing: { rules: [
        { name: 'ct', modalities: ['CT'], pipeline: 'lungs', models: ['x'] },
        { name: 'mammography', modalities: ['MG'], pipeline: 'mammography', models: ['mg-lesion-detector'] },
      ] },
    });
    const check = await checkConfiguration({ SENTINEL_CONFIG: file });
    expect(check.problems.some((p) => p.startsWith('routing.rules "ct": pipeline "lungs" is not one of'))).toBe(true);
    expect(check.problems.some((p) => p.includes('broken.json: task'))).toBe(true);

    fs.rmSync(path.join(models, 'broken.json'));
    const again = await checkConfiguration({ SENTINEL_CONFIG: file });
    expect(again.problems).toContain(`models.dir ${models}: no model manifest (*.json) there`);
  });
});
