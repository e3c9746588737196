// The HTTP API as a component of the process: listening on start (on `server.host`, loopback
// by default), and on stop refusing new connections, then closing the open ones.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApiDeps, createApp } from './app';

export interface ApiListener {
  name: 'api';
  /** The port listened on, once started (0 asks the system for a free one). */
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** How long an idle kept-alive connection stays open. */
const KEEP_ALIVE_MS = 65_000;

export function apiListener(deps: ApiDeps, port: number): ApiListener {
  let server: Server | undefined;
  const listener: ApiListener = {
    name: 'api',
    port: 0,
    async start() {
      const app = createApp(deps);
      server = await new Promise<Server>((resolve, reject) => {
        const s = app.listen(port, deps.config.server.host, () => resolve(s));
        s.once('error', reject);
      });
      // An idle kept-alive connection is closed after a minute, not Node's 5 s. A sender whose
      // next request crosses the server's close on the wire gets ECONNRESET for a POST it
      // cannot safely repeat (seen in the bench: a STOW-RS sent 5 s after the last one).
      // Clients forget idle connections sooner than this (undici and browsers after 4-60 s),
      // so the server is not the one to close them. headersTimeout must stay above it.
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      server.headersTimeout = KEEP_ALIVE_MS + 1000;
      listener.port = (server.address() as AddressInfo).port;
      deps.log.info({ port: listener.port, host: deps.config.server.host }, 'API listening');
    },
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      await closed;
    },
  };
  return listener;
}
