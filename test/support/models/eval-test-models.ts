// Builds the evaluation tests' deterministic models (see build_eval_test_models.py) once per folder.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const TEST_IDC_MODEL_ID = 'test-idc-brightness';
export const TEST_US_MODEL_ID = 'test-us-brightness';

export function buildEvalTestModels(dir: string): void {
  if (!fs.existsSync(path.join(dir, `${TEST_IDC_MODEL_ID}.json`)) || !fs.existsSync(path.join(dir, `${TEST_US_MODEL_ID}.json`))) {
    execFileSync('/usr/bin/python3', [path.join(__dirname, 'build_eval_test_models.py'), dir], { stdio: 'pipe' });
  }
}
