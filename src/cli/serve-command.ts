// `sentinel serve` (API + Orthanc poller, optionally the workers) and `sentinel worker`.
import { loadConfig } from '../config/load';
import { guardProcess, startSentinel, stopOnSignals } from '../service/server';
import { openServices } from '../service/services';
import { deploymentProblems, readDemoSecrets } from '../service/deployment';
import type { Config } from '../config/schema';
import { SentinelError } from '../errors/errors';

/** Refuse to start with the demo's credentials where other hosts can reach the service. */
function checkedConfig(): Config {
  const config = loadConfig();
  const problems = deploymentProblems(config, readDemoSecrets());
  if (problems.length > 0) throw new SentinelError('bad_request', `sentinel will not start:\n  - ${problems.join('\n  - ')}`);
  return config;
}

export async function runServe(options: { worker: boolean; poller: boolean }): Promise<void> {
  const services = await openServices(checkedConfig());
  guardProcess(services.log);
  const running = await startSentinel(services, { api: true, poller: options.poller, workers: options.worker });
  stopOnSignals(async () => {
    await running.stop();
    await services.close();
  });
}

export async function runWorker(): Promise<void> {
  const services = await openServices(checkedConfig());
  guardProcess(services.log);
  const running = await startSentinel(services, { workers: true });
  stopOnSignals(async () => {
    await running.stop();
    await services.close();
  });
}
