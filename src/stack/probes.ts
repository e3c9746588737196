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

export function probeRedis(url: string): Promise<Probe> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean, detail: string): void => {
      socket.destroy();
      resolve({ name: 'redis', ok, detail });
    };
    socket.setTimeout(2000, () => done(false, 'timeout'));
    socket.on('error', (err) => done(false, err.message));
    socket.on('connect', () => {
      const auth = u.password ? `AUTH ${decodeURIComponent(u.password)}\r\n` : '';
      socket.write(`${auth}PING\r\n`);
    });
    socket.on('data', (data) => {
      const text = data.toString();
      if (text.includes('+PONG')) done(true, 'PONG');
      else if (text.startsWith('-')) done(false, text.trim());
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
