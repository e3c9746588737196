// Builds the deterministic test model (see build_test_model.py) once per folder.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const TEST_MODEL_ID = 'sentinel-test-blob';

export function buildTestModel(dir: string): string {
  const manifest = path.join(dir, `${TEST_MODEL_ID}.json`);
  if (!fs.existsSync(manifest)) {
    execFileSync('/usr/bin/python3', [path.join(__dirname, 'build_test_model.py'), dir], { stdio: 'pipe' });
  }
  return manifest;
}
