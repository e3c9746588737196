// The whole Sentinel, really started against the real bundled stack, for end-to-end tests:
// a clean test database and queues, the stand-in HIS, the deterministic test model.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { CursorRow } from '../../src/db/entities/cursor';
import { type HisListener, startHisListener } from '../../src/delivery/mllp';
import { CHANGES_CURSOR } from '../../src/intake/orthanc-changes';
import { type Running, startSentinel } from '../../src/service/server';
import { type Services, openServices } from '../../src/service/services';
import { bundledStorescuArgs } from '../../src/stack/bundled-orthanc';
import { TEST_MODEL_ID, buildTestModel } from './models/test-model';
import { ensureStack, settleOrthanc, testConfig } from './stack';

export interface Harness {
  config: Config;
  services: Services;
  running: Running;
  his: HisListener;
  baseUrl: string;
  token: string;
  stop(): Promise<void>;
  /** Start again; `firstStart` forgets the /changes cursor first, as on Sentinel's first day. */
  start(opts?: { firstStart?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Shipped models (from models/) to install next to the test model. */
  shippedModels?: string[];
  /** Extra routing rules, after the test model's MG rule. */
  rules?: Array<{ name: string; modalities: string[]; pipeline: string; models: string[] }>;
  tileRangeCells?: number;
  /** Reach Orthanc's HTTP API here instead (e.g. through a forwarder that a test takes down). */
  orthancUrl?: string;
  /** Job settings to change from the suite's fast defaults. */
  jobs?: Partial<Config['jobs']>;
  /** Reach Redis / PostgreSQL here instead (e.g. through a forwarder that a test takes down). */
  redisUrl?: string;
  databaseUrl?: string;
  /** The DIMSE listener's settings (off in the tests unless given a port). */
  dimse?: Partial<Config['dimse']>;
  /** A FHIR server to deliver to (none in the tests unless given). */
  fhir?: Partial<Config['fhir']>;
  /** Web app users (name and scrypt password). */
  users?: Config['auth']['users'];
  /** The model the MG rule routes to (default: the test model); a shipped one must be in shippedModels. */
  mammographyModel?: string;
  /** onnxruntime intra-op threads per session (default 1). */
  threads?: number;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  await ensureStack();
  const his = await startHisListener({ port: 0 });
  const modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-e2e-models-'));
  buildTestModel(modelsDir);
  for (const id of opts.shippedModels ?? []) {
    for (const ext of ['json', 'onnx', 'md', 'metrics.json']) fs.copyFileSync(path.join(projectRoot, 'models', `${id}.${ext}`), path.join(modelsDir, `${id}.${ext}`));
  }
  const config = testConfig({
    hl7: { destination: { host: '127.0.0.1', port: his.port, timeoutMs: 5000 } },
    models: { dir: modelsDir, threads: opts.threads ?? 1 },
    routing: { rules: [{ name: 'mammography', modalities: ['MG'], pipeline: 'mammography', models: [opts.mammographyModel ?? TEST_MODEL_ID] }, ...(opts.rules ?? [])] },
    orthanc: { pollIntervalMs: 500, ...(opts.orthancUrl ? { url: opts.orthancUrl } : {}) },
    ...(opts.redisUrl ? { redis: { url: opts.redisUrl } } : {}),
    ...(opts.dimse ? { dimse: opts.dimse } : {}),
    ...(opts.fhir ? { fhir: opts.fhir } : {}),
    ...(opts.users ? { auth: { users: opts.users } } : {}),
    ...(opts.databaseUrl ? { database: { url: opts.databaseUrl } } : {}),
    jobs: { sweepIntervalMs: 1000, analyzeAttempts: 3, deliverAttempts: 10, backoffMs: 200, maxBackoffMs: 2000, stowSettleMs: 500, tileRangeCells: opts.tileRangeCells ?? 0, ...opts.jobs },
  });
  // Whatever an earlier suite stored has settled, so no late StableStudy reaches this one.
  await settleOrthanc(config);
  let services = await openServices(config);
  // A clean slate: empty tables and queues, no /changes cursor: Sentinel starts as on its
  // first day, at the end of the feed, so studies from earlier runs are not analysed again.
  await services.ds.query('truncate studies, jobs, findings, outbox, cursors, audit');
  await services.queues.analyze.obliterate({ force: true });
  await services.queues.deliver.obliterate({ force: true });
  await services.queues.tiles.obliterate({ force: true });

  let running = await startSentinel(services, { api: true, poller: true, workers: true });
  // Sentinel has met the PACS once: its first poll has set the /changes cursor (at the end of
  // the feed), so whatever a test stores from now on is after it.
  await waitUntil('the first /changes cursor', async () => (await services.ds.getRepository(CursorRow).findOneBy({ name: CHANGES_CURSOR })) ?? undefined, 30_000);
  const h: Harness = {
    config, services, running, his,
    baseUrl: `http://127.0.0.1:${running.port}`,
    token: config.auth.apiTokens[0] ?? '',
    async stop() {
      await running.stop();
      await services.close();
    },
    async start(opts: { firstStart?: boolean } = {}) {
      services = await openServices(config);
      if (opts.firstStart) await services.ds.query('truncate cursors');
      running = await startSentinel(services, { api: true, poller: true, workers: true });
      h.services = services;
      h.running = running;
    },
    async close() {
      await h.stop();
      await his.close();
    },
  };
  return h;
}

/**
 * Store files into the tests' bundled Orthanc over DICOM, as a modality would: with an allowed
 * calling AE title, since the Orthanc refuses any other.
 */
export function storescu(config: Config, files: string[]): void {
  execFileSync('storescu', [...bundledStorescuArgs(config), ...files], { stdio: 'pipe' });
}

export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface Forwarder {
  port: number;
  /** Hold each chunk from the server this long (in order), making the server slow. */
  delayMs: number;
  /** Cut any connection that sends an HTTP POST: a PACS that can be read but not written. */
  refuseWrites: boolean;
  /** Stop answering: open connections are cut and new ones refused, as when a server is down. */
  down(): Promise<void>;
  /** Answer again on the same port. */
  up(): Promise<void>;
}

/** A TCP forwarder to 127.0.0.1:targetPort that a test can take down and bring back. */
export async function startForwarder(targetPort: number): Promise<Forwarder> {
  let server: net.Server | undefined;
  const sockets = new Set<net.Socket>();
  let port = 0;
  const up = (): Promise<void> => new Promise((resolve, reject) => {
    if (server) return resolve(); // already answering: a second server would orphan the first
    server = net.createServer((client) => {
      const upstream = net.connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      client.on('data', (chunk: Buffer) => {
        if (state.refuseWrites && chunk.subarray(0, 5).toString('latin1') === 'POST ') {
          client.destroy();
          upstream.destroy();
          return;
        }
        if (!upstream.write(chunk)) client.pause();
      });
      upstream.on('drain', () => client.resume());
      client.on('end', () => upstream.end());
      // Server to client through a serial delay line, so a test can make the server slow.
      let line = Promise.resolve();
      upstream.on('data', (chunk: Buffer) => {
        const wait = state.delayMs;
        line = line.then(() => (wait > 0 ? new Promise((r) => setTimeout(r, wait)) : undefined)).then(() => { if (!client.destroyed) client.write(chunk); });
      });
      upstream.on('end', () => void line.then(() => client.end()));
    });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      port = (server?.address() as net.AddressInfo).port;
      resolve();
    });
  });
  const down = (): Promise<void> => new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    if (!server) return resolve();
    server.close(() => resolve());
    server = undefined;
  });
  await up();
  const state = { get port() { return port; }, up, down, delayMs: 0, refuseWrites: false };
  return state;
}
