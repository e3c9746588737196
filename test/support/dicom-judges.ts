// Independent judges for every DICOM object Sentinel writes: dciodvfy (dicom3tools) for
// conformance, dcmdump and dsrdump (dcmtk) to read it back.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-judge-'));
let n = 0;

function toFile(bytes: Uint8Array | string): string {
  if (typeof bytes === 'string') return bytes;
  const file = path.join(dir, `object-${++n}.dcm`);
  fs.writeFileSync(file, bytes);
  return file;
}

export function dciodvfy(bytes: Uint8Array | string): { errors: string[]; warnings: string[]; output: string } {
  const res = spawnSync('dciodvfy', [toFile(bytes)], { encoding: 'utf8' });
  const output = `${res.stdout}${res.stderr}`;
  const lines = output.split('\n');
  return { errors: lines.filter((l) => l.startsWith('Error')), warnings: lines.filter((l) => l.startsWith('Warning')), output };
}

function run(tool: string, args: string[]): string {
  const res = spawnSync(tool, args, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${tool} failed (${res.status}): ${res.stderr}`);
  return res.stdout;
}

export const dcmdump = (bytes: Uint8Array | string): string => run('dcmdump', ['+L', toFile(bytes)]);
export const dsrdump = (bytes: Uint8Array | string): string => run('dsrdump', ['-Ei', toFile(bytes)]);
