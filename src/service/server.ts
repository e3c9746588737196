// Starting Sentinel's parts in one process: the workers, the intake listeners (the Orthanc
// /changes poller; the DICOM C-STORE SCP; the API, which also hosts STOW-RS and Orthanc's
// events), each optional,
// as components started in order and stopped once in reverse (service/lifecycle.ts), by one
// `stop()` (also on SIGTERM/SIGINT). A new listener is a file exporting a component and one
// line below.
import { apiListener } from '../api/listener';
import { dimseListener } from '../intake/dimse-scp';
import { OrthancChangesPoller } from '../intake/orthanc-changes';
import { describeError } from '../errors/errors';
import { workersComponent } from '../jobs/workers';
import type { Logger } from '../log/logger';
import { type Component, startInOrder } from './lifecycle';
import type { Services } from './services';

export interface Running {
  port: number;
  poller?: OrthancChangesPoller;
  stop(): Promise<void>;
}

export async function startSentinel(services: Services, parts: { api?: boolean; poller?: boolean; workers?: boolean; port?: number }): Promise<Running> {
  const { config, log } = services;
  const api = parts.api ? apiListener(services, parts.port ?? config.server.port) : undefined;
  const poller = parts.poller && config.orthanc.pollIntervalMs > 0 ? new OrthancChangesPoller(services.intake, services.orthanc, log) : undefined;
  const components: Component[] = [
    ...(parts.workers ? [workersComponent(services)] : []),
    ...(poller ? [poller.component(config.orthanc.pollIntervalMs)] : []),
    ...(parts.api ? [dimseListener(services)] : []),
    ...(api ? [api] : []),
  ];
  const started = await startInOrder(components, log);
  return { port: api?.port ?? 0, poller, stop: started.stop };
}

/** Stop cleanly on SIGTERM/SIGINT: finish the current request, close queues and DB. */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.error(`sentinel: ${signal} received, stopping`);
    stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => handler('SIGTERM'));
  process.once('SIGINT', () => handler('SIGINT'));
}

/**
 * A promise that rejects with nobody listening must not take the whole service down (Node's
 * default): it is logged and the service goes on; each job records its own failure anyway.
 * An uncaught exception leaves the process in an unknown state: it is logged and the process
 * exits for its supervisor to restart it; jobs and messages wait in PostgreSQL and Redis.
 */
export function guardProcess(log: Logger, exit: (code: number) => void = (code) => process.exit(code)): { onRejection: (reason: unknown) => void; onException: (err: unknown) => void } {
  const onRejection = (reason: unknown): void => log.error({ error: describeError(reason) }, 'unhandled promise rejection; the service goes on');
  const onException = (err: unknown): void => {
    log.fatal({ error: describeError(err) }, 'uncaught exception; exiting for the supervisor to restart (queued work is kept)');
    exit(1);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return { onRejection, onException };
}
