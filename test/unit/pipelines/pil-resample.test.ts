// pilResize against Pillow itself (Debian's python3-pil): the training scripts resized with
// PIL, so the service must give the models the very same bytes. Random images, both filters,
// gray and RGB, shrinking by whole and fractional factors (a full-field mammogram to the
// detector's 0.8 mm is 11.4x), enlarging, and one axis only; every byte must be equal.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type PilFilter, pilResize } from '../../../src/pipelines/common/pil-resample';

interface Case { width: number; height: number; channels: 1 | 3; outWidth: number; outHeight: number; filter: PilFilter }

const CASES: Case[] = [
  { width: 3328, height: 410, channels: 1, outWidth: 291, outHeight: 36, filter: 'box' },
  { width: 997, height: 1213, channels: 1, outWidth: 256, outHeight: 256, filter: 'box' },
  { width: 997, height: 1213, channels: 1, outWidth: 87, outHeight: 106, filter: 'box' },
  { width: 64, height: 64, channels: 1, outWidth: 64, outHeight: 30, filter: 'box' },
  { width: 64, height: 48, channels: 1, outWidth: 31, outHeight: 48, filter: 'box' },
  { width: 50, height: 40, channels: 1, outWidth: 128, outHeight: 97, filter: 'box' },
  { width: 300, height: 217, channels: 1, outWidth: 128, outHeight: 128, filter: 'bilinear' },
  { width: 50, height: 40, channels: 1, outWidth: 128, outHeight: 97, filter: 'bilinear' },
  { width: 123, height: 77, channels: 3, outWidth: 50, outHeight: 50, filter: 'bilinear' },
  { width: 123, height: 77, channels: 3, outWidth: 50, outHeight: 77, filter: 'box' },
  { width: 123, height: 77, channels: 3, outWidth: 41, outHeight: 19, filter: 'box' },
];

const PIL = `
import sys
from PIL import Image
src, dst, mode, w, h, ow, oh, flt = sys.argv[1:]
img = Image.frombytes(mode, (int(w), int(h)), open(src, 'rb').read())
out = img.resize((int(ow), int(oh)), Image.BOX if flt == 'box' else Image.BILINEAR)
open(dst, 'wb').write(out.tobytes())
`;

function pillow(dir: string, k: number, c: Case, pixels: Uint8Array): Uint8Array {
  const src = path.join(dir, `${k}.raw`);
  const dst = path.join(dir, `${k}.out`);
  fs.writeFileSync(src, pixels);
  const run = spawnSync('/usr/bin/python3', ['-c', PIL, src, dst, c.channels === 1 ? 'L' : 'RGB', ...[c.width, c.height, c.outWidth, c.outHeight].map(String), c.filter], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`Pillow failed: ${run.stderr}`);
  return new Uint8Array(fs.readFileSync(dst));
}

/** Pixels of every value, not smooth, so a tap weighted wrongly changes the answer. */
function randomPixels(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

describe('pilResize gives the bytes Pillow gives', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pil-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each(CASES.map((c, k) => [`${c.filter} ${c.channels === 1 ? 'L' : 'RGB'} ${c.width}x${c.height} -> ${c.outWidth}x${c.outHeight}`, c, k] as const))('%s', (_name, c, k) => {
    const pixels = randomPixels(c.width * c.height * c.channels, 7 + k);
    const ours = pilResize(pixels, c.width, c.height, c.channels, c.outWidth, c.outHeight, c.filter);
    const theirs = pillow(dir, k, c, pixels);
    expect(ours.length).toBe(c.outWidth * c.outHeight * c.channels);
    let differing = 0;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) differing++;
    expect({ differing, length: theirs.length }).toEqual({ differing: 0, length: ours.length });
  });
});
