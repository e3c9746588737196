// The split a model was trained with, models/<id>.split.json, written by its training
// script: `{ "unit": ..., "seed": ..., "<split name>": [ids...], ... }`. Which ids a split
// lists depends on the model: slide ids (idc-tile-classifier), patient ids
// (mg-lesion-detector; its extra "images" map is not a split) or "class/file.png" names
// (busi-classifier). Every top-level key whose value is a list of strings is a split.
import fs from 'node:fs';
import path from 'node:path';
import { EvalError } from './errors';

export interface SplitFile {
  file: string;
  unit: string;
  splits: Record<string, string[]>;
}

export function splitFilePath(modelsDir: string, modelId: string): string {
  return path.join(modelsDir, `${modelId}.split.json`);
}

export function readSplitFile(file: string): SplitFile {
  if (!fs.existsSync(file)) throw new EvalError(`no split file ${file} (--split needs the model's <id>.split.json next to its manifest)`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new EvalError(`${file}: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new EvalError(`${file}: not a JSON object`);
  const splits: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) splits[key] = value;
  }
  const unit = (raw as Record<string, unknown>).unit;
  return { file, unit: typeof unit === 'string' ? unit : '', splits };
}

/** The ids of one split, or an error naming the splits the file has. */
export function splitMembers(modelsDir: string, modelId: string, name: string): Set<string> {
  const split = readSplitFile(splitFilePath(modelsDir, modelId));
  const ids = split.splits[name];
  if (!ids) throw new EvalError(`split "${name}" is not in ${split.file} (splits: ${Object.keys(split.splits).join(', ') || 'none'})`);
  return new Set(ids);
}
