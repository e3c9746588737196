// What a benchmark section is, for suite.ts: a name to pick it by (`--only`), a title, and a
// run that returns named figures (the ratios the goals read, and the rates behind them) and,
// if it has more to show, tables. Progress goes through `say` (stderr), never stdout, so that
// `--json` prints one object. To add a section: a file exporting a `Section`, and one line in
// sections.ts.

export type Figure = number | string;
export type Figures = Record<string, Figure>;

export interface Table {
  title: string;
  columns: string[];
  rows: Figure[][];
}

export interface SectionContext {
  /** --quick: the whole suite in under a minute (fewer batch sizes, shorter timings). */
  quick: boolean;
  say: (line: string) => void;
}

export interface SectionResult {
  figures: Figures;
  tables?: Table[];
  notes?: string[];
}

export interface Section {
  name: string;
  title: string;
  /** false: takes minutes even with --quick (the stack, child processes), so `--quick` leaves it out unless `--only` names it. */
  quick?: boolean;
  run(ctx: SectionContext): Promise<SectionResult>;
}

/** A ratio or rate to a few significant places, so the JSON and the table agree. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const scale = 10 ** Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(x))));
  return Math.round(x * scale) / scale;
}
