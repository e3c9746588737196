// Everything Sentinel does with a Part 10 file it was given, stage by stage, as the analysis
// and the whole-slide reader do it. Each stage runs even when an earlier one refused the file
// (when it can), so one corruption reaches as many readers as possible; a refusal must be a
// SentinelError, and anything else is reported as a bug with the stage that threw it.
import dcmjs from 'dcmjs';
import { SentinelError } from '../../../src/errors/errors';
import { decodeFrame } from '../../../src/dicom/pixels/decode';
import { toDisplayGray8, toRgb8 } from '../../../src/dicom/pixels/display';
import { type ParsedDicom, parseDicom, readImageAttributes, readStudyContext } from '../../../src/dicom/read';
import { part10ToDicomJson } from '../../../src/dicom/part10';
import { describeSlide } from '../../../src/wsi/slide';
import { decodeTile } from '../../../src/wsi/tiles';

// dcmjs warns on the console for every odd VR it meets; thousands of corrupt headers would
// make the run slow (jest captures each line) and its output unreadable.
type Logger = { setLevel(level: string): void; getLogger(name: string): Logger };
const dcmjsLog = (dcmjs as unknown as { log: Logger }).log;
dcmjsLog.setLevel('silent');
dcmjsLog.getLogger('validation.dcmjs').setLevel('silent');

export interface Outcome {
  /** Stages that returned normally, e.g. "decodeFrame". */
  passed: string[];
  /** Stages that refused the file with a SentinelError. */
  refused: string[];
  /** Stages that threw anything else: each one a bug. */
  bugs: Array<{ stage: string; error: unknown }>;
}

/** Frames decoded per file: the first and the last catch both ends of a corrupted offset table. */
const framesToDecode = (n: number): number[] => (n > 1 ? [0, n - 1] : [0]);

export type Stage = <T>(name: string, fn: () => T | Promise<T>) => Promise<T | undefined>;

/** Runs one stage, recording how it ended; its value, or undefined when it threw. */
export function stageRecorder(outcome: Outcome): Stage {
  return async <T>(name: string, fn: () => T | Promise<T>): Promise<T | undefined> => {
    try {
      const value = await fn();
      outcome.passed.push(name);
      return value;
    } catch (error) {
      if (error instanceof SentinelError) outcome.refused.push(name);
      else outcome.bugs.push({ stage: name, error });
      return undefined;
    }
  };
}

/** `slide`: the file was made from a whole-slide instance, so the slide readers get it too. */
export async function exercise(bytes: Uint8Array, slide: boolean): Promise<Outcome> {
  const outcome: Outcome = { passed: [], refused: [], bugs: [] };
  const stage = stageRecorder(outcome);

  const parsed = await stage('parseDicom', () => parseDicom(bytes));
  if (parsed) await readPixels(parsed, stage);
  if (slide) await readSlide(bytes, parsed, stage);
  return outcome;
}

async function readPixels(parsed: ParsedDicom, stage: Stage): Promise<void> {
  const attrs = await stage('readImageAttributes', () => readImageAttributes(parsed));
  await stage('readStudyContext', () => readStudyContext(parsed));
  if (!parsed.hasPixelData) return;
  const desc = await stage('pixelDescription', () => parsed.pixelDescription());
  const frames = await stage('frames', () => parsed.frames());
  if (!desc || !frames) return;
  for (const i of framesToDecode(frames.length)) {
    const frame = await stage('decodeFrame', () => decodeFrame(frames[i] as Uint8Array, parsed.transferSyntaxUid, desc));
    if (!frame) continue;
    if (frame.samplesPerPixel === 1) await stage('toDisplayGray8', () => toDisplayGray8(frame, attrs ?? {}));
    await stage('toRgb8', () => toRgb8(frame));
  }
}

/** The slide path: the header as DICOM JSON, the slide description, and a tile decoded against the level. */
async function readSlide(bytes: Uint8Array, parsed: ParsedDicom | undefined, stage: Stage): Promise<void> {
  const json = await stage('part10ToDicomJson', () => part10ToDicomJson(bytes));
  if (!json) return;
  const slide = await stage('describeSlide', () => describeSlide([json]));
  const level = slide?.levels[0];
  if (!level || !parsed) return;
  const frames = await stage('frames', () => parsed.frames());
  if (!frames?.[0]) return;
  await stage('decodeTile', () => decodeTile(level, frames[0] as Uint8Array, level.transferSyntaxUid));
}

/** The first frame's decoded samples: compared before and after fuzzing, to show no codec was left broken by a corrupt frame. */
export async function firstFrameSamples(bytes: Uint8Array): Promise<number[]> {
  const parsed = parseDicom(bytes);
  const frame = await decodeFrame(parsed.frames()[0] as Uint8Array, parsed.transferSyntaxUid, parsed.pixelDescription());
  return Array.from(frame.data);
}
