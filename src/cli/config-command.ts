// `sentinel config check`: the configuration as the service would load it, every problem at
// once: the schema (all layers merged: config/default.json, SENTINEL_CONFIG, var/secrets.json,
// environment), routing rules that name no pipeline, model manifests that do not validate or
// whose ONNX file is missing or altered, and rules none of whose models is installed. Secrets
// are never printed.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, projectRoot, secretsFile } from '../config/load';
import type { Config } from '../config/schema';
import { ManifestError, ModelRegistry } from '../inference/registry';
import { routingRuleProblems } from '../pipelines/routing';

export interface ConfigCheck {
  problems: string[];
  warnings: string[];
  /** Where the configuration came from, in the order applied. */
  layers: string[];
}

export async function checkConfiguration(env: NodeJS.ProcessEnv = process.env): Promise<ConfigCheck> {
  const layers = [path.join(projectRoot, 'config', 'default.json')];
  if (env.SENTINEL_CONFIG) layers.push(`${path.resolve(env.SENTINEL_CONFIG)} (SENTINEL_CONFIG)`);
  if (fs.existsSync(secretsFile())) layers.push(secretsFile());
  let config: Config;
  try {
    config = loadConfig({ env });
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems, warnings: [], layers };
    throw err;
  }
  const problems = routingRuleProblems(config.routing.rules);
  const warnings: string[] = [];
  const dir = path.resolve(projectRoot, config.models.dir);
  let installed: Map<string, string> | undefined;
  try {
    const registry = await ModelRegistry.load(dir);
    installed = new Map(registry.list().map((m) => [m.id, m.version]));
    await registry.close();
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    problems.push(...err.problems.map((p) => `models.dir ${dir}: ${p}`));
  }
  if (installed) {
    if (installed.size === 0) problems.push(`models.dir ${dir}: no model manifest (*.json) there`);
    for (const rule of config.routing.rules) {
      if (!rule.models.some((id) => installed.has(id))) {
        problems.push(`routing.rules "${rule.name}": none of its models (${rule.models.join(', ')}) is installed in ${dir}`);
      }
    }
  }
  if (config.auth.apiTokens.length === 0) warnings.push('auth.apiTokens is empty (SENTINEL_API_TOKENS): every data endpoint will refuse everyone');
  if (config.server.host !== '127.0.0.1' && config.server.host !== 'localhost' && config.server.host !== '::1') {
    warnings.push(`server.host ${config.server.host}: the API listens beyond loopback; put TLS in front of it`);
  }
  return { problems, warnings, layers };
}

export async function runConfigCheck(): Promise<number> {
  const check = await checkConfiguration();
  console.log(`config: read ${check.layers.join(', then ')}, then the environment`);
  for (const w of check.warnings) console.log(`config: warning: ${w}`);
  if (check.problems.length === 0) {
    console.log('config: no problem found');
    return 0;
  }
  console.error(`config: ${check.problems.length} problem${check.problems.length === 1 ? '' : 's'}:`);
  for (const p of check.problems) console.error(`  - ${p}`);
  return 1;
}
