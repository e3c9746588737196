// Synthetic mammogram pixels with known truth, for tests and the demo: a breast-shaped
// region of textured tissue against a dark background, a bright film-label square away from
// the breast, and optional round lesions brighter than the tissue. Deterministic per seed.

export interface SyntheticLesion {
  /** Centre column and row, and radius, in pixels. */
  x: number;
  y: number;
  radius: number;
}

export interface SyntheticBreastOptions {
  rows: number;
  columns: number;
  laterality: 'L' | 'R';
  lesions?: SyntheticLesion[];
  seed?: number;
  /** Stored bits (values 0 .. 2^bits - 1). */
  bits?: number;
  /** Draw a bright label in the corner opposite the chest wall (as film labels are). */
  label?: boolean;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export function drawSyntheticBreast(o: SyntheticBreastOptions): Uint16Array {
  const bits = o.bits ?? 12;
  const max = (1 << bits) - 1;
  const rand = rng(o.seed ?? 1);
  const out = new Uint16Array(o.rows * o.columns);
  // Chest wall on the image side of the laterality (R breast: chest wall on the left of the image).
  const chestX = o.laterality === 'R' ? 0 : o.columns - 1;
  const ry = o.rows * 0.42;
  const rx = o.columns * 0.55;
  const cy = o.rows / 2;
  for (let y = 0; y < o.rows; y++) {
    for (let x = 0; x < o.columns; x++) {
      const dx = (x - chestX) / rx;
      const dy = (y - cy) / ry;
      const d = dx * dx + dy * dy;
      let v = 0.04 + 0.02 * rand();
      if (d < 1) v = 0.42 + 0.12 * (1 - d) + 0.06 * (rand() - 0.5) + 0.04 * Math.sin(x / 9) * Math.sin(y / 13);
      out[y * o.columns + x] = Math.round(Math.max(0, Math.min(1, v)) * max);
    }
  }
  for (const l of o.lesions ?? []) {
    for (let y = Math.max(0, Math.floor(l.y - l.radius)); y <= Math.min(o.rows - 1, Math.ceil(l.y + l.radius)); y++) {
      for (let x = Math.max(0, Math.floor(l.x - l.radius)); x <= Math.min(o.columns - 1, Math.ceil(l.x + l.radius)); x++) {
        const r2 = ((x - l.x) ** 2 + (y - l.y) ** 2) / (l.radius * l.radius);
        if (r2 <= 1) out[y * o.columns + x] = Math.round((0.97 - 0.03 * r2) * max);
      }
    }
  }
  if (o.label ?? true) {
    const size = Math.round(Math.min(o.rows, o.columns) * 0.06);
    const x0 = o.laterality === 'R' ? o.columns - 2 * size : size;
    for (let y = size; y < 2 * size; y++) for (let x = x0; x < x0 + size; x++) out[y * o.columns + x] = max;
  }
  return out;
}

/** The same pixels as 8-bit display values (bright = dense). */
export function toGray8(values: Uint16Array, bits = 12): Uint8Array {
  const shift = Math.max(0, bits - 8);
  return Uint8Array.from(values, (v) => v >> shift);
}
