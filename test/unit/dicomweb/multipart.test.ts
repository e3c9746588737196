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
