// The streaming STOW-RS reader gives the same parts as the in-memory one however the body is
// cut into chunks (a boundary split across chunks included), and refuses what it refuses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildMultipartRelated, parseMultipartRelated } from '../../../src/dicomweb/multipart';
import { spoolMultipartRelated } from '../../../src/dicomweb/multipart-spool';

const ct = 'multipart/related; type="application/dicom"; boundary=XyZ';

async function* chunked(body: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let pos = 0;
  for (let i = 0; pos < body.length; i++) {
    const n = sizes[i % sizes.length] as number;
    yield body.subarray(pos, pos + n);
    pos += n;
  }
}

const spool = async (body: Buffer, sizes: number[], maxBytes = 1e9): Promise<Buffer[]> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-test-'));
  try {
    const parts = await spoolMultipartRelated(chunked(body, sizes), ct, dir, { maxBytes });
    return parts.map((p) => fs.readFileSync(p.file));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

describe('streamed multipart/related', () => {
  const a = Buffer.from('first\r\n--not-a-boundary\r\n--XyZ-almost');
  const b = Buffer.concat([Buffer.from([0, 1, 2, 13, 10, 45, 45]), Buffer.alloc(5000, 9)]);
  const body = buildMultipartRelated([{ contentType: 'application/dicom', body: a }, { contentType: 'application/dicom', body: b }], 'XyZ');
  const expected = parseMultipartRelated(body, ct).map((p) => p.body);

  it.each([[[1]], [[2, 3]], [[7]], [[64]], [[4096]], [[body.length]], [[5, 1, 300, 2]]])('chunks of %j give the same parts, byte for byte', async (sizes) => {
    const parts = await spool(body, sizes);
    expect(parts).toHaveLength(2);
    expect(parts[0]?.equals(expected[0] as Buffer)).toBe(true);
    expect(parts[1]?.equals(expected[1] as Buffer)).toBe(true);
  });

  it('parts larger than a write (1 MB) arrive whole and in order, whatever the chunks', async () => {
    const random = (n: number, seed: number): Buffer => {
      const out = Buffer.alloc(n);
      let v = seed;
      for (let i = 0; i < n; i++) out[i] = (v = (Math.imul(v, 1103515245) + 12345) >>> 0) >>> 24;
      return out;
    };
    const big = [random(3_500_001, 1), random(1 << 20, 2), random(17, 3), random(2_000_000, 4)];
    const whole = buildMultipartRelated(big.map((body) => ({ contentType: 'application/dicom', body })), 'XyZ');
    for (const sizes of [[65536], [1 << 20], [99_991, 7, 1_300_000]]) {
      const parts = await spool(whole, sizes);
      expect(parts.map((p) => p.length)).toEqual(big.map((p) => p.length));
      parts.forEach((p, i) => expect(p.equals(big[i] as Buffer)).toBe(true));
    }
  });

  it('refuses a truncated body whole, saying how many parts were complete', async () => {
    await expect(spool(body.subarray(0, body.length - 60), [100])).rejects.toThrow(/truncated upload.*1 complete part/);
    await expect(spool(Buffer.alloc(0), [1])).rejects.toThrow(/no boundary delimiter/);
  });

  it('refuses a body past the limit with 413', async () => {
    await expect(spool(body, [100], 1000)).rejects.toMatchObject({ status: 413 });
  });

  it('refuses another media type with 415', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-test-'));
    await expect(spoolMultipartRelated(chunked(body, [10]), 'application/json', dir, { maxBytes: 1e9 })).rejects.toMatchObject({ status: 415 });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
