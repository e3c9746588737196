// Implicit VR Little Endian carries no VR on the wire: a number is read by its tag's VR, so a
// two-character IS or DS ("62", "1 ") is text, not a 16-bit integer (it was read as 12854 and
// 8241, which sent a slide's frame count and a mammogram's rescale slope astray).
import { parseDicom } from '../../../src/dicom/read';
import { Tag } from '../../../src/dicom/tags';

const pad = (s: string, fill = ' '): Buffer => Buffer.from(s.length % 2 ? s + fill : s, 'latin1');

function explicit(group: number, element: number, vr: string, value: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(element, 2);
  head.write(vr, 4, 'latin1');
  head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

function implicit(group: number, element: number, value: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(element, 2);
  head.writeUInt32LE(value.length, 4);
  return Buffer.concat([head, value]);
}

const us = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };

function implicitFile(): Buffer {
  const meta = Buffer.concat([
    explicit(0x0002, 0x0002, 'UI', pad('1.2.840.10008.5.1.4.1.1.3.1', '\0')),
    explicit(0x0002, 0x0003, 'UI', pad('1.2.3.4.5', '\0')),
    explicit(0x0002, 0x0010, 'UI', pad('1.2.840.10008.1.2', '\0')),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(meta.length);
  const rows = 4;
  const columns = 4;
  const frames = 62;
  const body = Buffer.concat([
    implicit(0x0008, 0x0016, pad('1.2.840.10008.5.1.4.1.1.3.1', '\0')),
    implicit(0x0008, 0x0018, pad('1.2.3.4.5', '\0')),
    implicit(0x0008, 0x0060, pad('US')),
    implicit(0x0020, 0x000d, pad('1.2.3.4', '\0')),
    implicit(0x0020, 0x000e, pad('1.2.3.4.1', '\0')),
    implicit(0x0028, 0x0002, us(1)),
    implicit(0x0028, 0x0004, pad('MONOCHROME2')),
    implicit(0x0028, 0x0008, pad('62')),
    implicit(0x0028, 0x0010, us(rows)),
    implicit(0x0028, 0x0011, us(columns)),
    implicit(0x0028, 0x0100, us(8)),
    implicit(0x0028, 0x0101, us(8)),
    implicit(0x0028, 0x0102, us(7)),
    implicit(0x0028, 0x0103, us(0)),
    implicit(0x0028, 0x1053, pad('1')),
    implicit(0x7fe0, 0x0010, Buffer.alloc(rows * columns * frames, 9)),
  ]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), explicit(0x0002, 0x0000, 'UL', length), meta, body]);
}

describe('Implicit VR Little Endian numbers', () => {
  it('reads a two-character Number of Frames and Rescale Slope as the numbers they spell', () => {
    const parsed = parseDicom(implicitFile());
    expect(parsed.transferSyntaxUid).toBe('1.2.840.10008.1.2');
    expect(parsed.numberOfFrames).toBe(62);
    expect(parsed.number(Tag.RescaleSlope)).toBe(1);
    expect(parsed.frames()).toHaveLength(62);
    expect(parsed.pixelDescription()).toMatchObject({ rows: 4, columns: 4, bitsAllocated: 8, samplesPerPixel: 1 });
  });
});
