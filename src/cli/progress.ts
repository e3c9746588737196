// Progress of a long command on stderr (stdout stays the command's answer, e.g. eval's JSON):
// on a terminal one bar redrawn in place; otherwise (a log, CI) a plain line at every tenth.
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export type Reporter = (label: string, done: number, total: number) => void;

function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** A reporter for one command; each label (phase) is its own bar, begun when first reported. */
export function progressReporter(stream: ProgressStream = process.stderr, now: () => number = Date.now): Reporter {
  const started = new Map<string, number>();
  const lastTenth = new Map<string, number>();
  let lastDraw = 0;
  return (label, done, total) => {
    if (total <= 0) return;
    const t = now();
    if (!started.has(label)) started.set(label, t);
    const fraction = Math.min(1, done / total);
    const elapsed = (t - (started.get(label) as number)) / 1000;
    const eta = done > 0 ? (elapsed * (total - done)) / done : NaN;
    if (stream.isTTY) {
      if (done < total && t - lastDraw < 100) return;
      lastDraw = t;
      const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - 40));
      const filled = Math.round(fraction * width);
      const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${Math.floor(fraction * 100)}% ${done < total ? `eta ${duration(eta)}` : `in ${duration(elapsed)}`}`;
      stream.write(`\r${line}\x1b[K${done >= total ? '\n' : ''}`);
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth <= (lastTenth.get(label) ?? -1) && done < total) return;
    if (done >= total && lastTenth.get(label) === 10) return;
    lastTenth.set(label, done >= total ? 10 : tenth);
    stream.write(`${label}: ${done}/${total} (${Math.floor(fraction * 100)}%)${done < total ? `, about ${duration(eta)} to go` : `, done in ${duration(elapsed)}`}\n`);
  };
}
