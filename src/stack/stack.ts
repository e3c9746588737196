// `sentinel stack up|down|status`: the bundled Orthanc, PostgreSQL and Redis, for loopback
// (PostgreSQL and Redis listen there; Orthanc cannot, and refuses other peers instead).
// A dependency given from outside (DATABASE_URL, REDIS_URL, ORTHANC_URL) is only waited
// for; one that is not answering on its default address is installed if missing, started,
// and remembered in var/stack-state.json so that `down` stops only what `up` started.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { Config } from '../config/schema';
import { secretsFile } from '../config/load';
import { STACK_PACKAGES, ensurePackages } from './debian';
import { bundledOrthancPaths, readPid, startBundledOrthanc, stopBundledOrthanc, writeBundledOrthancConfig } from './bundled-orthanc';
import { type Probe, probeOrthanc, probePostgres, probeRedis, waitFor } from './probes';
import { SentinelError } from '../errors/errors';

interface StackState {
  startedPostgres?: string[];
  startedRedis?: boolean;
}

export interface StackOptions {
  root: string;
  env: NodeJS.ProcessEnv;
  log: (msg: string) => void;
}

const stateFile = (root: string): string => path.join(root, 'var', 'stack-state.json');

function readState(root: string): StackState {
  try {
    return JSON.parse(fs.readFileSync(stateFile(root), 'utf8')) as StackState;
  } catch {
    return {};
  }
}

function writeState(root: string, state: StackState): void {
  fs.mkdirSync(path.dirname(stateFile(root)), { recursive: true });
  fs.writeFileSync(stateFile(root), JSON.stringify(state, null, 2));
}

/** Random credentials for the bundled stack, made once and kept out of git (var/). */
export function ensureSecrets(root: string): void {
  const file = secretsFile(root);
  if (fs.existsSync(file)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const secrets = {
    orthancPassword: crypto.randomBytes(18).toString('base64url'),
    apiToken: crypto.randomBytes(24).toString('base64url'),
  };
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
}

function postgresClusters(): string[] {
  try {
    return fs.readdirSync('/etc/postgresql').filter((v) => fs.existsSync(`/etc/postgresql/${v}/main`));
  } catch {
    return [];
  }
}

async function upPostgres(config: Config, opts: StackOptions, state: StackState): Promise<Probe> {
  const external = Boolean(opts.env.DATABASE_URL);
  const serverUrl = new URL(config.database.url);
  serverUrl.pathname = '/postgres';
  let probe = await probePostgres(serverUrl.toString());
  if (!probe.ok && !external) {
    ensurePackages(STACK_PACKAGES.postgres, opts.log);
    const started: string[] = [];
    for (const version of postgresClusters()) {
      opts.log(`starting PostgreSQL ${version}`);
      spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'ignore' });
      started.push(version);
    }
    state.startedPostgres = started;
    probe = await waitFor(() => probePostgres(serverUrl.toString()), 30_000);
  } else if (!probe.ok) {
    probe = await waitFor(() => probePostgres(serverUrl.toString()), 30_000);
  }
  if (probe.ok) await ensureDatabase(config.database.url);
  return probe;
}

/** CREATE DATABASE when the one named in the URL does not exist yet. */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new SentinelError('unavailable', `unexpected database name in DATABASE_URL: ${name}`, false);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database "${name}"`);
  } catch (err) {
    // Two processes racing to create it: the loser sees "already exists", which is fine.
    if (!/already exists/.test((err as Error).message)) throw err;
  } finally {
    await client.end();
  }
}

async function upRedis(config: Config, opts: StackOptions, state: StackState): Promise<Probe> {
  let probe = await probeRedis(config.redis.url);
  if (!probe.ok && !opts.env.REDIS_URL) {
    ensurePackages(STACK_PACKAGES.redis, opts.log);
    const u = new URL(config.redis.url);
    opts.log('starting Redis');
    const dir = path.join(opts.root, 'var', 'redis');
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('redis-server', [
      '--daemonize', 'yes', '--bind', '127.0.0.1', '--port', u.port || '6379',
      '--dir', dir, '--appendonly', 'yes', '--logfile', path.join(dir, 'redis.log'),
    ]);
    state.startedRedis = true;
  }
  if (!probe.ok) probe = await waitFor(() => probeRedis(config.redis.url), 30_000);
  return probe;
}

async function upOrthanc(config: Config, opts: StackOptions): Promise<Probe> {
  const probe = (): Promise<Probe> => probeOrthanc(config.orthanc.url, config.orthanc.username, config.orthanc.password);
  if (opts.env.ORTHANC_URL) return waitFor(probe, 60_000);
  ensurePackages(STACK_PACKAGES.orthanc, opts.log);
  const paths = writeBundledOrthancConfig(opts.root, config);
  if (paths.changed && readPid(paths.pidFile) !== undefined) {
    // It was started with other settings (an older lockdown, other ports or Lua settings) and
    // Orthanc reads them only at start: left running, it would keep the old ones.
    opts.log(`restarting the bundled Orthanc (${paths.dir}): its configuration changed`);
    await stopBundledOrthanc(paths);
  }
  if (readPid(paths.pidFile) === undefined) {
    const first = await probe();
    if (first.ok) return first; // someone else's Orthanc with our credentials: use it
    const b = config.orthanc.bundled;
    // Orthanc 1.10 cannot be told an address: it listens on every interface and refuses, by its
    // configuration, HTTP from anywhere but loopback and DICOM from all but the allowed senders.
    opts.log(`starting the bundled Orthanc: HTTP port ${b.httpPort} (loopback clients only), DICOM port ${b.dicomPort} (AE title ${b.aet}; stores only from ${b.allowedModalities.map((m) => `${m.aet}@${m.host}`).join(', ') || 'nobody'})`);
    startBundledOrthanc(paths);
  }
  const exited = (): string | undefined => (readPid(paths.pidFile) === undefined ? 'Orthanc exited' : undefined);
  const result = await waitFor(probe, 60_000, exited);
  if (!result.ok) result.detail += ` (see ${paths.logFile})`;
  return result;
}

export async function stackUp(config: Config, opts: StackOptions): Promise<Probe[]> {
  ensurePackages([...STACK_PACKAGES.sentinel, ...STACK_PACKAGES.tools], opts.log);
  const state = readState(opts.root);
  const probes = [await upPostgres(config, opts, state), await upRedis(config, opts, state), await upOrthanc(config, opts)];
  writeState(opts.root, state);
  const failed = probes.filter((p) => !p.ok);
  if (failed.length > 0) throw new SentinelError('unavailable', `stack not ready: ${failed.map((p) => `${p.name}: ${p.detail}`).join('; ')}`, false);
  return probes;
}

export async function stackStatus(config: Config): Promise<Probe[]> {
  const pgUrl = new URL(config.database.url);
  pgUrl.pathname = '/postgres';
  return [
    await probePostgres(pgUrl.toString()),
    await probeRedis(config.redis.url),
    await probeOrthanc(config.orthanc.url, config.orthanc.username, config.orthanc.password),
  ];
}

export async function stackDown(config: Config, opts: StackOptions): Promise<string[]> {
  const stopped: string[] = [];
  if (await stopBundledOrthanc(bundledOrthancPaths(opts.root, config))) stopped.push('orthanc');
  const state = readState(opts.root);
  if (state.startedRedis) {
    const u = new URL(config.redis.url);
    spawnSync('redis-cli', ['-h', u.hostname, '-p', u.port || '6379', 'shutdown', 'nosave'], { stdio: 'ignore' });
    stopped.push('redis');
  }
  for (const version of state.startedPostgres ?? []) {
    spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'stop'], { stdio: 'ignore' });
    stopped.push(`postgres ${version}`);
  }
  writeState(opts.root, {});
  return stopped;
}
