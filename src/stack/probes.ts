// Is each dependency answering? Real connections only: a TCP PING for Redis, a query for
// PostgreSQL, an authenticated GET /system for Orthanc.
import net from 'node:net';
import { Client } from 'pg';

export interface Probe {
  name: string;
  ok: boolean;
  detail: string;
}

export async function probePostgres(url: string): Promise<Probe> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    const res = await client.query<{ v: string }>('select version() as v');
    return { name: 'postgres', ok: true, detail: res.rows[0]?.v.split(' ').slice(0, 2).join(' ') ?? 'up' };
  } catch (err) {
    return { name: 'postgres', ok: false, detail: (err as Error).message };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The database number in a redis:// URL ("/6"), as ioredis (and so bull) reads it; 0 when none. */
export function redisDb(url: string): number {
  const db = new URL(url).pathname.slice(1);
  return db === '' ? 0 : Number(db);
}

export function probeRedis(url: string): Promise<Probe> {
  const u = new URL(url);
  const db = redisDb(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean, detail: string): void => {
      socket.destroy();
      resolve({ name: 'redis', ok, detail });
    };
    // One reply line per command sent; the first error is the answer. SELECT is sent too, so
    // a database number this Redis does not have (its "databases" setting) shows here rather
    // than as a bull error later.
    const commands: string[] = [];
    if (u.password) commands.push(`AUTH ${decodeURIComponent(u.password)}`);
    if (db !== 0) commands.push(`SELECT ${db}`);
    commands.push('PING');
    let buffer = '';
    socket.setTimeout(2000, () => done(false, 'timeout'));
    socket.on('error', (err) => done(false, err.message));
    socket.on('connect', () => socket.write(commands.map((c) => `${c}\r\n`).join('')));
    socket.on('data', (data) => {
      buffer += data.toString();
      const replies = buffer.split('\r\n').slice(0, -1);
      const error = replies.find((r) => r.startsWith('-'));
      if (error) done(false, `${error.slice(1)}${db !== 0 ? ` (database ${db})` : ''}`);
      else if (replies.length >= commands.length) done(replies.at(-1) === '+PONG', replies.at(-1) === '+PONG' ? `PONG (database ${db})` : (replies.at(-1) ?? ''));
    });
  });
}

export async function probeOrthanc(url: string, username: string, password: string): Promise<Probe> {
  try {
    const res = await fetch(new URL('/system', url), {
      headers: { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
      signal: AbortSignal.timeout(3000),
    });
    if (!res.ok) return { name: 'orthanc', ok: false, detail: res.status === 401 ? 'HTTP 401: an Orthanc answers there but refuses our credentials (one started by another checkout?)' : `HTTP ${res.status}` };
    const body = (await res.json()) as { Version?: string; DicomAet?: string };
    return { name: 'orthanc', ok: true, detail: `Orthanc ${body.Version ?? '?'} (${body.DicomAet ?? '?'})` };
  } catch (err) {
    return { name: 'orthanc', ok: false, detail: (err as Error).message };
  }
}

/** Probe until it answers or the time is up; `gaveUp` (e.g. "the process exited") ends it early. */
export async function waitFor(probe: () => Promise<Probe>, timeoutMs: number, gaveUp?: () => string | undefined): Promise<Probe> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!last.ok && Date.now() < deadline) {
    const reason = gaveUp?.();
    if (reason) return { ...last, detail: `${reason}; last probe: ${last.detail}` };
    await new Promise((r) => setTimeout(r, 250));
    last = await probe();
  }
  return last;
}
