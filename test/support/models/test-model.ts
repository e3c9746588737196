// Builds the deterministic test model (see build_test_model.py) once per folder.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const TEST_MODEL_ID = 'sentinel-test-blob';
/** The blob detector as a two-film model that looks at the other breast's (mirrored) film only. */
export const PAIR_TEST_MODEL_ID = 'sentinel-test-pair';

export function buildTestModel(dir: string, opts: { pair?: boolean } = {}): string {
  const manifest = path.join(dir, `${opts.pair ? PAIR_TEST_MODEL_ID : TEST_MODEL_ID}.json`);
  if (!fs.existsSync(manifest)) {
    execFileSync('/usr/bin/python3', [path.join(__dirname, 'build_test_model.py'), dir, ...(opts.pair ? ['--pair'] : [])], { stdio: 'pipe' });
  }
  return manifest;
}
