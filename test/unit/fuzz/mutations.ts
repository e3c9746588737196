// Corruptions of a valid file, as fast-check values: plain data, so a failing case prints as
// something a person can replay by hand. Random bytes alone rarely hit the few bytes that
// matter, so the structural mutations aim at the seed's real length fields (element, item,
// fragment), its offset table, and the attributes that size the pixel data.
import dicomParser, { type DataSet, type Element } from 'dicom-parser';
import fc from 'fast-check';
import { Tag, parserKey } from '../../../src/dicom/tags';

export interface Field {
  what: string;
  at: number;
  size: 2 | 4;
  littleEndian: boolean;
}

export interface Layout {
  length: number;
  /** Where Pixel Data begins: flips before it hit the header, after it the pixels. */
  headerLength: number;
  /** Lengths of elements, items and fragments, and offset table entries. */
  fields: Field[];
  /** Values that size the pixel data (Rows, Columns, Bits Allocated...): what decoders allocate from. */
  sizes: Field[];
  /** Number of Frames (IS): text that a multi-frame size is computed from. */
  numberOfFrames?: { at: number; length: number; lengthField?: Field };
}

/** Explicit VRs whose length is 4 bytes after 2 reserved ones (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

const SIZE_TAGS = new Map<string, string>([
  [parserKey(Tag.Rows), 'Rows'], [parserKey(Tag.Columns), 'Columns'], [parserKey(Tag.BitsAllocated), 'Bits Allocated'], [parserKey(Tag.BitsStored), 'Bits Stored'],
  [parserKey(Tag.HighBit), 'High Bit'], [parserKey(Tag.SamplesPerPixel), 'Samples per Pixel'], [parserKey(Tag.PixelRepresentation), 'Pixel Representation'],
  [parserKey(Tag.PlanarConfiguration), 'Planar Configuration'], ['x00480006', 'Total Pixel Matrix Columns'], ['x00480007', 'Total Pixel Matrix Rows'],
]);

/** The seed's length and value fields, each kept only if the bytes at its position really hold it (not so in a deflated body). */
export function layoutOf(bytes: Uint8Array): Layout {
  const ds = dicomParser.parseDicom(bytes);
  const fields: Field[] = [];
  const sizes: Field[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = (f: Field): number | undefined => {
    if (f.at < 0 || f.at + f.size > bytes.length) return undefined;
    return f.size === 2 ? view.getUint16(f.at, f.littleEndian) : view.getUint32(f.at, f.littleEndian);
  };
  const keep = (what: string, at: number, size: 2 | 4, expected: number[], into = fields): void => {
    for (const littleEndian of [true, false]) {
      const f = { what, at, size, littleEndian };
      const v = read(f);
      if (v !== undefined && expected.includes(v)) {
        into.push(f);
        return;
      }
    }
  };
  const visit = (set: DataSet): void => {
    for (const el of Object.values(set.elements)) {
      const long = el.vr === undefined || LONG_VRS.has(el.vr);
      const declared = el.hadUndefinedLength ? [0xffffffff] : [el.length];
      keep(`length of ${el.tag}`, el.dataOffset - (long ? 4 : 2), long ? 4 : 2, declared);
      const size = SIZE_TAGS.get(el.tag);
      if (size) keep(size, el.dataOffset, el.length === 4 ? 4 : 2, [el.vr === 'UL' || el.length === 4 ? set.uint32(el.tag) ?? -1 : set.uint16(el.tag) ?? -1], sizes);
      el.items?.forEach((item: Element, i) => {
        keep(`length of item ${i + 1} of ${el.tag}`, item.dataOffset - 4, 4, item.hadUndefinedLength ? [0xffffffff] : [item.length]);
        if (item.dataSet) visit(item.dataSet);
      });
      el.fragments?.forEach((frag, i) => keep(`length of fragment ${i + 1}`, frag.position - 4, 4, [frag.length]));
      el.basicOffsetTable?.forEach((offset, i) => keep(`offset table entry ${i + 1}`, el.dataOffset + 8 + 4 * i, 4, [offset]));
    }
  };
  visit(ds);
  const pixels = ds.elements[parserKey(Tag.PixelData)];
  const frames = ds.elements[parserKey(Tag.NumberOfFrames)];
  return {
    length: bytes.length,
    headerLength: pixels && pixels.dataOffset < bytes.length ? pixels.dataOffset : bytes.length,
    fields,
    sizes,
    numberOfFrames: frames && frames.dataOffset + frames.length <= bytes.length && ds.string(parserKey(Tag.NumberOfFrames)) !== undefined
      ? { at: frames.dataOffset, length: frames.length, lengthField: fields.find((f) => f.what === `length of ${parserKey(Tag.NumberOfFrames)}`) }
      : undefined,
  };
}

export type Mutation =
  | { kind: 'flip'; header: boolean; flips: Array<{ at: number; bit: number }> }
  | { kind: 'truncate'; at: number }
  | { kind: 'field' | 'size'; index: number; value: number }
  | { kind: 'duplicate'; at: number; length: number; to: number }
  | { kind: 'remove'; at: number; length: number }
  | { kind: 'frames'; text: string };

const EXTREMES = [0, 1, 2, 3, 0x7f, 0xff, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

const extreme = fc.oneof(fc.constantFrom(...EXTREMES), fc.nat(), fc.integer({ min: 0, max: 0xffffffff }).map((v) => v | 1));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    header: fc.boolean(),
    flips: fc.array(fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  // Weighted: the length fields are where a reader's trust in the file is tested, and the
  // size fields where a decoder's (most length mutations stop the parse before any decoder).
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('field' as const), index: fc.nat(), value: extreme }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('size' as const), index: fc.nat(), value: extreme }) },
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 600 }), to: fc.nat() }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 600 }) }),
  fc.record({ kind: fc.constant('frames' as const), text: fc.constantFrom('0', '-1', '3', '1000', '65536', '99999999', '4294967297', '1e9', 'NaN', ' ', '2.5') }),
);

/** One to three corruptions applied in turn. */
export const mutations: fc.Arbitrary<Mutation[]> = fc.array(mutation, { minLength: 1, maxLength: 3 });

/** A copy in its own ArrayBuffer: Buffer's slice() is a view, which would corrupt the seed itself,
 * and a view would let a reader see bytes past a truncation. */
const copy = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Positions are taken modulo the file's size, so any number is a valid place in any seed. */
export function applyMutation(input: Uint8Array, m: Mutation, layout: Layout): Uint8Array {
  const n = input.length;
  if (n === 0) return input;
  switch (m.kind) {
    case 'flip': {
      const out = copy(input);
      const span = m.header ? Math.min(layout.headerLength, n) : n;
      for (const f of m.flips) out[f.at % span] = (out[f.at % span] as number) ^ (1 << f.bit);
      return out;
    }
    case 'truncate':
      return copy(input.subarray(0, m.at % n));
    case 'field':
    case 'size': {
      const fields = m.kind === 'field' ? layout.fields : layout.sizes;
      const field = fields[m.index % Math.max(1, fields.length)];
      if (!field || field.at + field.size > n) return input;
      const out = copy(input);
      const view = new DataView(out.buffer);
      if (field.size === 2) view.setUint16(field.at, m.value & 0xffff, field.littleEndian);
      else view.setUint32(field.at, m.value >>> 0, field.littleEndian);
      return out;
    }
    case 'duplicate': {
      const at = m.at % n;
      const to = m.to % (n + 1);
      return copy(input.subarray(0, to), input.subarray(at, Math.min(n, at + m.length)), input.subarray(to));
    }
    case 'remove': {
      const at = m.at % n;
      return copy(input.subarray(0, at), input.subarray(Math.min(n, at + m.length)));
    }
    case 'frames': {
      // The new text replaces the old value and its length field says so: a longer number
      // than the seed's must fit, or '99999999' would only ever be '99'.
      const nf = layout.numberOfFrames;
      if (!nf?.lengthField || nf.at + nf.length > n) return input;
      const text = m.text.length % 2 ? `${m.text} ` : m.text;
      const value = Buffer.from(text, 'latin1');
      const out = copy(input.subarray(0, nf.at), value, input.subarray(nf.at + nf.length));
      const view = new DataView(out.buffer);
      const f = nf.lengthField;
      if (f.size === 2) view.setUint16(f.at, value.length, f.littleEndian);
      else view.setUint32(f.at, value.length, f.littleEndian);
      return out;
    }
  }
}

/** The mutations apply to the seed's layout in turn; after a size change, later positions still land somewhere (modulo). */
export function applyMutations(seed: Uint8Array, ms: Mutation[], layout: Layout): Uint8Array {
  return ms.reduce((bytes, m) => applyMutation(bytes, m, layout), seed);
}
