// What a service must not start with. The bundled stack's credentials (var/secrets.json,
// written by `sentinel stack up` for the demo) sit in a file on disk and in Orthanc's Lua
// settings: good enough for a demo on loopback, not for a service other hosts can reach.
// Outside loopback, an API token or PACS password from that file, or none at all, is refused.
import fs from 'node:fs';
import type { Config } from '../config/schema';
import { secretsFile } from '../config/load';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

export interface DemoSecrets {
  apiToken?: string;
  orthancPassword?: string;
}

export function readDemoSecrets(file = secretsFile()): DemoSecrets {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as DemoSecrets;
  } catch {
    return {};
  }
}

/** Pure: every reason not to start, or none. */
export function deploymentProblems(config: Config, demo: DemoSecrets): string[] {
  if (LOOPBACK.test(config.server.host)) return [];
  const problems: string[] = [];
  const where = `server.host is ${config.server.host}, reachable from other hosts`;
  if (config.auth.apiTokens.length === 0) problems.push(`${where}, and no API token is configured (SENTINEL_API_TOKENS)`);
  if (demo.apiToken && config.auth.apiTokens.includes(demo.apiToken)) {
    problems.push(`${where}, but an API token is the bundled demo stack's (var/secrets.json): set SENTINEL_API_TOKENS to tokens of your own`);
  }
  if (demo.orthancPassword && config.orthanc.password === demo.orthancPassword) {
    problems.push(`${where}, but the PACS password is the bundled demo stack's (var/secrets.json): set ORTHANC_PASSWORD`);
  }
  return problems;
}
