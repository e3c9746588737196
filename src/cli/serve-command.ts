// `sentinel serve` (API + Orthanc poller, optionally the workers) and `sentinel worker`.
import { loadConfig } from '../config/load';
import { guardProcess, startSentinel, stopOnSignals } from '../service/server';
import { openServices } from '../service/services';
import { deploymentProblems, readDemoSecrets } from '../service/deployment';
import type { Config } from '../config/schema';
import { SentinelError } from '../errors/errors';
import { createMetricsApp } from '../api/app';

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

export async function runWorker(options: { metricsPort?: string } = {}): Promise<void> {
  const config = checkedConfig();
  const port = options.metricsPort === undefined ? undefined : Number(options.metricsPort);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new SentinelError('bad_request', `--metrics-port ${options.metricsPort} is not a port number`);
  const services = await openServices(config);
  guardProcess(services.log);
  const running = await startSentinel(services, { workers: true });
  // The worker's own metrics, on the API's address (loopback by default), behind the API token.
  const metrics = port === undefined ? undefined : createMetricsApp(config, services.log).listen(port, config.server.host);
  if (metrics) services.log.info({ port, host: config.server.host }, 'worker metrics at /metrics');
  stopOnSignals(async () => {
    await new Promise<void>((resolve) => (metrics ? metrics.close(() => resolve()) : resolve()));
    await running.stop();
    await services.close();
  });
}
