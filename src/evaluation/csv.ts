// The small CSV files of the evaluation data sets (patches.csv, truth.csv): a header row,
// comma-separated fields, optional double quotes ("" inside quotes is one quote).
import fs from 'node:fs';
import { EvalError } from './errors';

function parseLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

/** Rows as objects keyed by the header; every column in `required` must be present. */
export function readCsv(file: string, required: string[]): Array<Record<string, string>> {
  if (!fs.existsSync(file)) throw new EvalError(`${file} not found`);
  const lines = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = parseLine(lines[0] ?? '').map((h) => h.trim());
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length) throw new EvalError(`${file}: missing column(s) ${missing.join(', ')} (header: ${header.join(',')})`);
  return lines.slice(1).map((line, i) => {
    const values = parseLine(line);
    if (values.length !== header.length) throw new EvalError(`${file}:${i + 2}: ${values.length} fields, header has ${header.length}`);
    const row: Record<string, string> = {};
    header.forEach((h, k) => {
      row[h] = (values[k] as string).trim();
    });
    return row;
  });
}
