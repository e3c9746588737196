// Stops the tests' own Orthanc if this test run started it (see global-setup.ts); the demo's
// Orthanc is left alone, running or not.
import { projectRoot } from '../../src/config/load';
import { bundledOrthancPaths, stopBundledOrthanc } from '../../src/stack/bundled-orthanc';
import { ORTHANC_WAS_RUNNING } from './global-setup';
import { testConfig } from './stack';

export default async function globalTeardown(): Promise<void> {
  if (process.env[ORTHANC_WAS_RUNNING] !== '0') return;
  await stopBundledOrthanc(bundledOrthancPaths(projectRoot, testConfig()));
}
