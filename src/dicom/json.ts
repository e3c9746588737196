// Reading DICOM JSON (PS3.18 F.2) as servers really send it: tags in upper or lower case hex,
// numbers as JSON numbers or as strings (DS, IS), sequences as arrays of datasets. Local Part
// 10 files are read into the same DICOM JSON (part10.ts), so that local files and DICOMweb
// metadata go through one code path.

/** DICOM JSON (PS3.18 F.2): tag -> { vr, Value }. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[]; InlineBinary?: string; BulkDataURI?: string }>;

type Element = DicomJson[string];

function element(ds: DicomJson | undefined, tag: string): Element | undefined {
  if (!ds) return undefined;
  return ds[tag] ?? ds[tag.toUpperCase()] ?? ds[tag.toLowerCase()];
}

export function hasTag(ds: DicomJson | undefined, tag: string): boolean {
  return element(ds, tag) !== undefined;
}

export function values(ds: DicomJson | undefined, tag: string): unknown[] {
  return element(ds, tag)?.Value ?? [];
}

function asString(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && 'Alphabetic' in v) return String((v as { Alphabetic: unknown }).Alphabetic);
  const s = String(v).trim();
  return s === '' ? undefined : s;
}

export function str(ds: DicomJson | undefined, tag: string, index = 0): string | undefined {
  return asString(values(ds, tag)[index]);
}

export function strs(ds: DicomJson | undefined, tag: string): string[] {
  return values(ds, tag).map((v) => asString(v) ?? '');
}

function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

export function num(ds: DicomJson | undefined, tag: string, index = 0): number | undefined {
  return asNumber(values(ds, tag)[index]);
}

export function nums(ds: DicomJson | undefined, tag: string): number[] {
  const out: number[] = [];
  for (const v of values(ds, tag)) {
    const n = asNumber(v);
    if (n === undefined) return [];
    out.push(n);
  }
  return out;
}

/** The items of a sequence (empty when absent or empty). */
export function items(ds: DicomJson | undefined, tag: string): DicomJson[] {
  return values(ds, tag).filter((v): v is DicomJson => typeof v === 'object' && v !== null && !Array.isArray(v));
}

export function firstItem(ds: DicomJson | undefined, tag: string): DicomJson | undefined {
  return items(ds, tag)[0];
}
