// Remembers whether the bundled Orthanc was already running when the test run began, so the
// teardown stops it only if the tests started it: a run leaves the machine as it found it
// (a second checkout's tests would otherwise meet this checkout's Orthanc on its port).
import { loadConfig, projectRoot } from '../../src/config/load';
import { bundledOrthancPaths, readPid } from '../../src/stack/bundled-orthanc';

export const ORTHANC_WAS_RUNNING = 'SENTINEL_TEST_ORTHANC_WAS_RUNNING';

export default function globalSetup(): void {
  const paths = bundledOrthancPaths(projectRoot, loadConfig());
  process.env[ORTHANC_WAS_RUNNING] = readPid(paths.pidFile) === undefined ? '0' : '1';
}
