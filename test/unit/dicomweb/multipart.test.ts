import { buildMultipartRelated, parseMultipartRelated } from '../../../src/dicomweb/multipart';

const ct = 'multipart/related; type="application/dicom"; boundary=XyZ';

describe('multipart/related parsing for STOW-RS', () => {
  it('returns every part with its headers and exact bytes, even when a part contains CRLF and dashes', () => {
    const a = Buffer.from('first\r\n--not-a-boundary\r\n');
    const b = Buffer.from([0, 1, 2, 13, 10, 45, 45]);
    const body = buildMultipartRelated([{ contentType: 'application/dicom', body: a }, { contentType: 'application/dicom', body: b }], 'XyZ');
    const parts = parseMultipartRelated(body, ct);
    expect(parts.map((p) => p.body.equals(a) || p.body.equals(b))).toEqual([true, true]);
    expect(parts[0]?.body.equals(a)).toBe(true);
    expect(parts[1]?.headers['content-type']).toBe('application/dicom');
  });

  it("ends a part at its Content-Length when its delimiter follows, searches for it when the length is wrong or absurd, and still refuses a body cut short", () => {
    const a = Buffer.from('first body');
    const b = Buffer.from([9, 8, 7, 6, 5]);
    const build = (la: number, lb: number, cut = 0): Buffer => {
      const whole = Buffer.concat([
        Buffer.from(`--XyZ\r\nContent-Type: application/dicom\r\nContent-Length: ${la}\r\n\r\n`), a, Buffer.from('\r\n'),
        Buffer.from(`--XyZ\r\nContent-Type: application/dicom\r\nContent-Length: ${lb}\r\n\r\n`), b, Buffer.from('\r\n--XyZ--\r\n'),
      ]);
      return whole.subarray(0, whole.length - cut);
    };
    for (const [la, lb] of [[a.length, b.length], [a.length - 3, b.length + 2], [1e9, -1], [0, 2 ** 60]]) {
      const parts = parseMultipartRelated(build(la as number, lb as number), ct);
      expect(parts.map((p) => Array.from(p.body))).toEqual([Array.from(a), Array.from(b)]);
    }
    expect(() => parseMultipartRelated(build(a.length, b.length, 12), ct)).toThrow(/truncated upload.*1 complete part/);
  });

  it('refuses a truncated upload whole, saying how many parts were complete', () => {
    const body = buildMultipartRelated([{ contentType: 'application/dicom', body: Buffer.alloc(100, 7) }, { contentType: 'application/dicom', body: Buffer.alloc(100, 8) }], 'XyZ');
    const cut = body.subarray(0, body.length - 60);
    expect(() => parseMultipartRelated(cut, ct)).toThrow(/truncated upload.*1 complete part/);
  });

  it('refuses a body that is not multipart/related with an unsupported-media error', () => {
    expect(() => parseMultipartRelated(Buffer.from('x'), 'application/json')).toThrow(/expected multipart\/related/);
    try {
      parseMultipartRelated(Buffer.from('x'), 'application/json');
    } catch (err) {
      expect((err as { status: number }).status).toBe(415);
    }
  });

  it('refuses multipart/related without a boundary', () => {
    expect(() => parseMultipartRelated(Buffer.from('x'), 'multipart/related; type="application/dicom"')).toThrow(/boundary/);
  });
});
