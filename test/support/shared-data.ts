// The labelled data of ../shared/data (see its README). CI always has it; a fresh clone may
// not, and then tests that need it fail with this message instead of being skipped.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/config/load';

export const SHARED_DATA = path.resolve(projectRoot, '..', 'shared', 'data');

export function sharedData(relative: string): string {
  const p = path.join(SHARED_DATA, relative);
  if (!fs.existsSync(p)) {
    throw new Error(`this test needs ${p} (the project's shared data folder, ../shared/data next to the repository; see README "Data")`);
  }
  return p;
}
