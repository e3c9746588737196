// A real `sentinel serve --worker` in its own process, for tests that kill it: its
// configuration is written to a file (SENTINEL_CONFIG), its JSON log goes to a file the test
// can read, and it is started from the TypeScript sources (ts-register.js).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config/load';
import type { Config } from '../../src/config/schema';

export interface ChildSentinel {
  port: number;
  pid: number;
  logFile: string;
  /** Send a signal and wait for the process to end; its exit code (null when killed by the signal). */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-child-logs-'));
let count = 0;

/** Every log line any child wrote in this test file. */
export function childLogs(): string {
  return fs.readdirSync(logDir).map((f) => fs.readFileSync(path.join(logDir, f), 'utf8')).join('');
}

export async function spawnSentinel(config: Config, args: string[] = ['serve', '--worker']): Promise<ChildSentinel> {
  const port = await freePort();
  const configFile = path.join(logDir, `config-${++count}.json`);
  fs.writeFileSync(configFile, JSON.stringify({ ...config, server: { ...config.server, port } }));
  const logFile = path.join(logDir, `sentinel-${count}.log`);
  const out = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, ['-r', path.join(__dirname, 'ts-register.js'), path.join(projectRoot, 'src', 'cli', 'main.ts'), ...args], {
    cwd: projectRoot,
    env: { ...process.env, SENTINEL_CONFIG: configFile, LOG_LEVEL: 'info' },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  // A worker has no API: it is up once it says so in its log.
  const isUp = args[0] === 'worker'
    ? async (): Promise<boolean> => fs.readFileSync(logFile, 'utf8').includes('"workers started"')
    : (): Promise<boolean> => fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);
  for (;;) {
    const up = await isUp();
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`sentinel child did not start (exit ${child.exitCode}): ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port,
    pid: child.pid as number,
    logFile,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
