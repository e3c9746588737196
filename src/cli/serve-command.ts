// `sentinel serve` (API + Orthanc poller, optionally the workers) and `sentinel worker`.
import { loadConfig } from '../config/load';
import { guardProcess, startSentinel, stopOnSignals } from '../service/server';
import { openServices } from '../service/services';

export async function runServe(options: { worker: boolean; poller: boolean }): Promise<void> {
  const services = await openServices(loadConfig());
  guardProcess(services.log);
  const running = await startSentinel(services, { api: true, poller: options.poller, workers: options.worker });
  stopOnSignals(async () => {
    await running.stop();
    await services.close();
  });
}

export async function runWorker(): Promise<void> {
  const services = await openServices(loadConfig());
  guardProcess(services.log);
  const running = await startSentinel(services, { workers: true });
  stopOnSignals(async () => {
    await running.stop();
    await services.close();
  });
}
