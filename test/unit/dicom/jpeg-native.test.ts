// JPEG baseline frames through the system's libjpeg-turbo (turbojpeg.ts) against two judges:
// Pillow's decode of the same files (python3-pil, its own build of libjpeg-turbo) and the wasm
// build the project falls back to. Pillow encodes the frames too, from a real IDC slide, in
// each subsampling and at sizes that are not whole MCUs, so chroma upsampling and edge blocks
// are exercised; a fast (inexact) IDCT differs from these by up to 5 on such tiles.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJpegBaseline, decodeJpegBaselineWasm } from '../../../src/dicom/pixels/codecs';
import { decodeJpegNative, nativeJpegAvailable } from '../../../src/dicom/pixels/turbojpeg';
import { sharedData } from '../../support/shared-data';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-jpeg-'));

interface Case {
  name: string;
  width: number;
  height: number;
  components: number;
}

const cases: Case[] = [];

beforeAll(() => {
  const source = path.join(sharedData('pathology/idc-slides'), fs.readdirSync(sharedData('pathology/idc-slides')).filter((f) => f.endsWith('.jpg')).sort()[0] as string);
  // Each frame: a crop of the slide, saved by Pillow, then decoded by Pillow to raw samples.
  const script = `
import sys
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
im = Image.open(src).convert('RGB')
cases = []
for i, (x, y, w, h, mode, sub, q) in enumerate([
    (700, 900, 256, 256, 'RGB', 2, 90), (300, 1200, 256, 256, 'RGB', 1, 90), (1500, 400, 256, 256, 'RGB', 0, 95),
    (1000, 1000, 250, 131, 'RGB', 2, 80), (200, 200, 97, 203, 'RGB', 1, 75), (900, 600, 256, 256, 'L', 0, 90),
    (1100, 700, 61, 45, 'L', 0, 50)]):
    crop = im.crop((x, y, x + w, y + h)).convert(mode)
    name = f'{out}/{i}'
    crop.save(name + '.jpg', 'JPEG', quality=q, subsampling=sub)
    dec = Image.open(name + '.jpg')
    dec.load()
    open(name + '.raw', 'wb').write(dec.tobytes())
    print(i, w, h, 1 if mode == 'L' else 3)
`;
  const listing = execFileSync('/usr/bin/python3', ['-c', script, source, tmp], { encoding: 'utf8' });
  for (const line of listing.trim().split('\n')) {
    const [name, width, height, components] = line.split(' ');
    cases.push({ name: name as string, width: Number(width), height: Number(height), components: Number(components) });
  }
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const frame = (c: Case): Uint8Array => new Uint8Array(fs.readFileSync(path.join(tmp, `${c.name}.jpg`)));
const pillow = (c: Case): Buffer => fs.readFileSync(path.join(tmp, `${c.name}.raw`));
const size = (c: Case) => ({ width: c.width, height: c.height, components: c.components });

describe('JPEG baseline through the system libjpeg-turbo', () => {
  it('is installed here (libturbojpeg0), so the tests and the service use it', () => {
    if (!nativeJpegAvailable()) throw new Error('libturbojpeg.so.0 did not load: install the Debian package libturbojpeg0 (bash .ci/run does)');
  });

  it('decodes every frame to the samples Pillow decodes, and the wasm build too', async () => {
    expect(cases).toHaveLength(7);
    for (const c of cases) {
      const native = decodeJpegNative(frame(c), size(c));
      expect(native).toBeDefined();
      expect([native!.width, native!.height, native!.components]).toEqual([c.width, c.height, c.components]);
      expect(Buffer.from(native!.bytes).equals(pillow(c))).toBe(true);
      const wasm = await decodeJpegBaselineWasm(frame(c), size(c));
      expect(Buffer.from(wasm.bytes).equals(pillow(c))).toBe(true);
      const chosen = await decodeJpegBaseline(frame(c), size(c));
      expect(Buffer.from(chosen.bytes).equals(pillow(c))).toBe(true);
    }
  });

  it('writes into the caller buffer when it is the decoded size, and not otherwise', async () => {
    const c = cases[0] as Case;
    const into = new Uint8Array(c.width * c.height * c.components);
    expect((await decodeJpegBaseline(frame(c), size(c), into)).bytes).toBe(into);
    expect(Buffer.from(into).equals(pillow(c))).toBe(true);
    const small = new Uint8Array(10);
    const out = await decodeJpegBaseline(frame(c), size(c), small);
    expect(out.bytes).not.toBe(small);
    expect(Array.from(small)).toEqual(new Array(10).fill(0));
  });

  it('reads a frame that is a view into a larger buffer (as frames of a PACS answer are), and writes into a view', () => {
    const c = cases[1] as Case;
    const own = frame(c);
    const answer = new Uint8Array(own.length + 1000).fill(0xd9);
    answer.set(own, 13);
    const out = new Uint8Array(c.width * c.height * c.components + 40).fill(7);
    const into = out.subarray(17, 17 + c.width * c.height * c.components);
    const decoded = decodeJpegNative(answer.subarray(13, 13 + own.length), size(c), into);
    expect(decoded!.bytes).toBe(into);
    expect(Buffer.from(into).equals(pillow(c))).toBe(true);
    expect([...out.subarray(0, 17), ...out.subarray(17 + into.length)]).toEqual(new Array(40).fill(7));
  });

  it('refuses a truncated scan, as the wasm build does, instead of returning a partly grey frame', async () => {
    const c = cases[0] as Case;
    for (const cut of [frame(c).length - 2, Math.floor(frame(c).length / 2)]) {
      const truncated = frame(c).subarray(0, cut);
      await expect(decodeJpegBaseline(truncated, size(c))).rejects.toThrow(/JPEG decoder rejected the data/);
      await expect(decodeJpegBaselineWasm(truncated, size(c))).rejects.toThrow(/JPEG decoder rejected the data/);
    }
  });

  it('refuses a frame whose header disagrees with the DICOM header before decoding it, and garbage after a valid start', async () => {
    const c = cases[0] as Case;
    await expect(decodeJpegBaseline(frame(c), { ...size(c), width: 255 })).rejects.toThrow(/256 x 256 with 3 component\(s\), the DICOM header says 255 x 256/);
    expect(() => decodeJpegNative(frame(c), { ...size(c), components: 3, height: 300 })).toThrow(/DICOM header says 256 x 300/);
    const garbage = new Uint8Array(frame(c));
    garbage.fill(0x5a, 700);
    await expect(decodeJpegBaseline(garbage, size(c))).rejects.toThrow(/JPEG decoder rejected the data/);
  });

  it('decodes a good frame right after each refused one (a Huffman table error left the decompressor refusing every later frame)', () => {
    const c = cases[0] as Case;
    const good = frame(c);
    const dht = Buffer.from(good).indexOf(Buffer.from([0xff, 0xc4]));
    expect(dht).toBeGreaterThan(0);
    let refused = 0;
    for (let at = dht + 4; at < dht + 40; at++) {
      const bad = new Uint8Array(good);
      bad[at] = 0xff;
      try {
        decodeJpegNative(bad, size(c));
      } catch {
        refused++;
      }
      expect(Buffer.from(decodeJpegNative(good, size(c))!.bytes).equals(pillow(c))).toBe(true);
    }
    expect(refused).toBeGreaterThan(5);
  });
});
