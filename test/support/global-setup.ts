// Remembers whether the tests' own Orthanc (var/test-orthanc, see TEST_STACK in stack.ts) was
// already running when the test run began, so the teardown stops it only if the tests started
// it: a run leaves the machine as it found it. The demo's or service's Orthanc (var/orthanc)
// is never looked at: the tests do not use it, and stopping it would stop someone's service.
import { projectRoot } from '../../src/config/load';
import { bundledOrthancPaths, readPid } from '../../src/stack/bundled-orthanc';
import { testConfig } from './stack';

export const ORTHANC_WAS_RUNNING = 'SENTINEL_TEST_ORTHANC_WAS_RUNNING';

export default function globalSetup(): void {
  const paths = bundledOrthancPaths(projectRoot, testConfig());
  process.env[ORTHANC_WAS_RUNNING] = readPid(paths.pidFile) === undefined ? '0' : '1';
}
