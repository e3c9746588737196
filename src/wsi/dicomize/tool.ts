// OrthancWSIDicomizer (Debian package orthanc-wsi) and OpenSlide (libopenslide0): finding
// them and running the tool.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';

export const DICOMIZER_TOOL = 'OrthancWSIDicomizer';

/** Where libopenslide.so.0 is (Debian package libopenslide0), or undefined. */
export function findOpenSlideLibrary(): string | undefined {
  const candidates = [
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libopenslide.so.0`,
    '/usr/lib/x86_64-linux-gnu/libopenslide.so.0',
    '/usr/lib/aarch64-linux-gnu/libopenslide.so.0',
    '/usr/lib64/libopenslide.so.0',
    '/usr/lib/libopenslide.so.0',
    '/usr/local/lib/libopenslide.so.0',
  ];
  const found = candidates.find((c) => fs.existsSync(c));
  if (found) return found;
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    const res = spawnSync(ldconfig, ['-p'], { encoding: 'utf8' });
    if (res.status !== 0) continue;
    const line = res.stdout.split('\n').find((l) => l.includes('libopenslide.so.0'));
    const lib = line?.split('=>')[1]?.trim();
    if (lib && fs.existsSync(lib)) return lib;
  }
  return undefined;
}

export function toolAvailable(): boolean {
  const res = spawnSync(DICOMIZER_TOOL, ['--version'], { encoding: 'utf8' });
  return !res.error;
}

export function run(tool: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-64 * 1024);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
