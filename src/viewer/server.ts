// `sentinel viewer`'s web server: OHIF's prebuilt static files, a generated app-config.js, and
// the PACS's DICOMweb under /dicom-web on the same origin. Everything is behind the Sentinel
// API token as HTTP Basic (any user name, the token as password): the browser asks for it
// once and sends it with every request of the page, including OHIF's own fetches.
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { requireToken } from '../api/auth';
import type { Config } from '../config/schema';
import { DICOMWEB_PATH, buildAppConfig } from './app-config';
import { dicomwebProxy } from './dicomweb-proxy';
import { SentinelError } from '../errors/errors';

export interface ViewerOptions {
  config: Config;
  /** OHIF's dist/ folder (see ohif-package.ts). */
  distDir: string;
}

/** Basic, not Bearer, in the challenge: a browser only prompts for a Basic (or Digest) realm. */
function requireTokenAsBasic(tokens: string[]) {
  const check = requireToken(tokens);
  return (req: Request, res: Response, next: NextFunction): void => {
    check(req, res, (err?: unknown) => {
      if (err === undefined) return next();
      res.setHeader('WWW-Authenticate', 'Basic realm="Sentinel viewer", charset="UTF-8"');
      res.status(401).type('text/plain').send(tokens.length === 0
        ? 'no API token is configured (set SENTINEL_API_TOKENS, or run `sentinel stack up`)\n'
        : 'user name: anything; password: a Sentinel API token\n');
    });
  };
}

export function createViewerApp(options: ViewerOptions): Express {
  const { config, distDir } = options;
  const index = path.join(distDir, 'index.html');
  if (!fs.existsSync(index)) throw new SentinelError('not_found', `${index} is missing: not an OHIF dist folder`);
  const appConfig = buildAppConfig({ friendlyName: `Sentinel PACS (${new URL(config.orthanc.url).host})` });

  const app = express();
  app.disable('x-powered-by');
  // Browsers fetch the web manifest and icons without credentials; they hold no patient data.
  app.use('/assets', express.static(path.join(distDir, 'assets'), { fallthrough: false }));
  app.get('/manifest.json', (_req, res) => res.sendFile(path.join(distDir, 'manifest.json')));
  app.use(requireTokenAsBasic(config.auth.apiTokens));
  app.get('/app-config.js', (_req, res) => {
    res.type('application/javascript').setHeader('Cache-Control', 'no-store');
    res.send(appConfig);
  });
  app.use(DICOMWEB_PATH, dicomwebProxy({
    root: `${config.orthanc.url.replace(/\/+$/, '')}${config.orthanc.dicomwebPath}`,
    username: config.orthanc.username,
    password: config.orthanc.password,
  }, DICOMWEB_PATH));
  app.use(express.static(distDir, { index: false, fallthrough: true }));
  // OHIF routes (/viewer, /microscopy, /segmentation...) are client-side: every other GET of a
  // page is the app. A missing file (a script, a worker) is a 404, not the app in disguise.
  app.use((req, res, next) => (req.method === 'GET' && path.extname(req.path) === '' ? res.sendFile(index) : next()));
  return app;
}

export interface RunningViewer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Listens on loopback only: the viewer hands out PACS data to whoever holds a token. */
export async function startViewer(options: ViewerOptions & { port: number }): Promise<RunningViewer> {
  const app = createViewerApp(options);
  const host = '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, host, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}
