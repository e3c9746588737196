// Starting Sentinel's parts in one process: the API, the Orthanc /changes poller, and the
// workers, each optional, all stopped by one `stop()` (also on SIGTERM/SIGINT).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app';
import { OrthancChangesPoller } from '../intake/orthanc-changes';
import { describeError } from '../errors/errors';
import { type Workers, startWorkers } from '../jobs/workers';
import type { Logger } from '../log/logger';
import type { Services } from './services';

export interface Running {
  port: number;
  poller?: OrthancChangesPoller;
  stop(): Promise<void>;
}

export async function startSentinel(services: Services, parts: { api?: boolean; poller?: boolean; workers?: boolean; port?: number }): Promise<Running> {
  let server: Server | undefined;
  let port = 0;
  if (parts.api) {
    const app = createApp(services);
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(parts.port ?? services.config.server.port, services.config.server.host, () => resolve(s));
      s.once('error', reject);
    });
    port = (server.address() as AddressInfo).port;
    services.log.info({ port, host: services.config.server.host }, 'API listening');
  }
  let poller: OrthancChangesPoller | undefined;
  if (parts.poller && services.config.orthanc.pollIntervalMs > 0) {
    poller = new OrthancChangesPoller(services.intake, services.orthanc, services.log);
    poller.start(services.config.orthanc.pollIntervalMs);
  }
  let workers: Workers | undefined;
  if (parts.workers) workers = await startWorkers(services);
  return {
    port,
    poller,
    async stop() {
      await poller?.stop();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      await workers?.close();
    },
  };
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
