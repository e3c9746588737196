// A whole-slide study with foreign or broken objects beside the slide: only the VL Whole Slide
// Microscopy instances make up the slide, everything else is listed as skipped with its
// reason, and the slide is still analysed, offline (local files) and as the service reads it
// (DICOM JSON metadata, frames fetched by number).
import { spawnSync } from 'node:child_process';
import { analyze } from '../../../src/analysis/analyze';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyzeFiles } from '../../../src/analysis/offline';
import { analyseSlides } from '../../../src/analysis/slides';
import { slidesOfStudy } from '../../../src/analysis/study-slides';
import { scoreHere } from '../../../src/pipelines/definition';
import { wsi } from '../../../src/pipelines/wsi';
import { loadConfig } from '../../../src/config/load';
import { parseDicom } from '../../../src/dicom/read';
import { SopClass, newUid } from '../../../src/dicom/uid';
import { SentinelError, isRetryable } from '../../../src/errors/errors';
import { ModelRegistry } from '../../../src/inference/registry';
import { type DicomizeResult, dicomize } from '../../../src/wsi/dicomize';
import { part10ToDicomJson } from '../../../src/dicom/part10';
import { localSlide, wsiInstance } from '../../support/wsi-fixtures';
import { TEST_MODEL_ID, buildTestModel } from '../../support/models/test-model';
import { sharedData } from '../../support/shared-data';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-slide-skips-'));
const SEG_REASON = `SOP class ${SopClass.Segmentation} is not read by the whole slide pipeline`;
let shipped: ModelRegistry;
let slide: DicomizeResult;
/** A real SEG from another tool, moved into the slide's study: its frames do not even parse as ours would. */
let segFile: string;
let segUid: string;

function dcmodify(file: string, ...edits: string[]): void {
  const r = spawnSync('dcmodify', ['-nb', ...edits.flatMap((e) => ['-m', e]), file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dcmodify failed: ${r.stderr}`);
}

beforeAll(async () => {
  shipped = await ModelRegistry.load(path.resolve(__dirname, '../../../models'), { intraOpNumThreads: 2 });
  slide = await dicomize(sharedData('pathology/idc-slides/9124.jpg'), { outDir: path.join(dir, 'slide'), pixelSpacingMm: 0.004 });
  segFile = path.join(dir, 'seg.dcm');
  fs.copyFileSync(sharedData('dicom-reference/highdicom/seg_image_sm_dots.dcm'), segFile);
  dcmodify(segFile, `(0020,000d)=${slide.studyInstanceUid}`);
  segUid = parseDicom(new Uint8Array(fs.readFileSync(segFile))).sopInstanceUid;
});
afterAll(() => shipped.close());

/** A fresh input folder holding the slide's files and the extras given. */
function folder(name: string, extras: string[]): string {
  const input = path.join(dir, name);
  fs.mkdirSync(input);
  for (const f of [...slide.files, ...extras]) fs.copyFileSync(f, path.join(input, path.basename(f)));
  return input;
}

describe('sentinel analyze: a slide with foreign and broken objects beside it', () => {
  it('an unrelated SEG in the slide\'s study is skipped with its reason; the slide is analysed', async () => {
    const out = path.join(dir, 'out-seg');
    const summary = await analyzeFiles({ paths: [folder('with-seg', [segFile])], outDir: out, config: loadConfig(), registry: shipped });
    expect(summary.studies).toHaveLength(1);
    const s = summary.studies[0]!;
    expect(s).toMatchObject({ studyInstanceUid: slide.studyInstanceUid, status: 'analysed', pipeline: 'wsi', category: 'high' });
    expect(s.findings!.length).toBeGreaterThan(0);
    expect(s.skippedImages).toEqual([{ sopInstanceUid: segUid, reason: SEG_REASON }]);
    const onDisk = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as typeof summary;
    expect(onDisk.studies[0]!.skippedImages).toEqual([{ sopInstanceUid: segUid, reason: SEG_REASON }]);
  });

  it('a second slide that cannot be described is skipped with its reason; the good slide is analysed', async () => {
    // A label image alone in its own frame of reference: a slide with no pyramid level.
    const label = path.join(dir, 'label.dcm');
    fs.copyFileSync(slide.levels[3]!.files[0]!, label);
    const otherFrame = newUid();
    dcmodify(label, '(0008,0008)=ORIGINAL\\PRIMARY\\LABEL\\NONE', `(0020,0052)=${otherFrame}`, `(0008,0018)=${newUid()}`);
    const summary = await analyzeFiles({ paths: [folder('with-label', [label, segFile])], outDir: path.join(dir, 'out-label'), config: loadConfig(), registry: shipped });
    const s = summary.studies[0]!;
    expect(s.status).toBe('analysed');
    expect(s.findings!.length).toBeGreaterThan(0);
    expect(s.skippedImages).toEqual([
      { sopInstanceUid: segUid, reason: SEG_REASON },
      { reason: `the slide in frame of reference ${otherFrame} (1 instance(s)) was not analysed: not a usable whole-slide image: no VOLUME image (only label/overview/thumbnail)` },
    ]);
  });
});

describe('the service\'s path: slides from DICOM JSON metadata', () => {
  it('the SEG is left out of the slide and reported with the result; the slide is analysed from its frames', async () => {
    const metadata = [...slide.files.map((f) => part10ToDicomJson(new Uint8Array(fs.readFileSync(f)))), part10ToDicomJson(new Uint8Array(fs.readFileSync(segFile)))];
    const slides = slidesOfStudy(metadata, wsi);
    expect(slides).toHaveLength(1);
    expect(slides[0]!.levels).toHaveLength(slide.levels.length);
    expect(slides[0]!.skipped).toEqual([{ sopInstanceUid: segUid, reason: SEG_REASON }]);
    const { source } = localSlide(slide.files);
    const out = await analyseSlides({ pipeline: wsi, slides, frames: source, scoring: scoreHere, model: shipped.model('idc-tile-classifier'), config: loadConfig(), newUid, now: new Date() });
    expect(out.skipped).toEqual([{ sopInstanceUid: segUid, reason: SEG_REASON }]);
    expect(out.result.images[0]!.findings.length).toBeGreaterThan(0);
  });

  it('metadata with no readable slide fails for good, naming each object left out', () => {
    const seg = { ...wsiInstance({ sop: '2.25.71', totalColumns: 512, totalRows: 512, tileSize: 256, frames: 4, spacingMm: 0.004 }), '00080016': { vr: 'UI', Value: [SopClass.Segmentation] } };
    const label = wsiInstance({ sop: '2.25.72', imageType: ['ORIGINAL', 'PRIMARY', 'LABEL', 'NONE'], totalColumns: 256, totalRows: 256, tileSize: 256, frames: 1, spacingMm: 0.02 });
    let err: unknown;
    try {
      slidesOfStudy([seg, label], wsi);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SentinelError);
    expect(isRetryable(err)).toBe(false);
    expect((err as SentinelError).message).toBe(`no image of the study could be analysed by the whole slide pipeline: ${SEG_REASON}; `
      + 'the slide in frame of reference 2.25.3 (1 instance(s)) was not analysed: not a usable whole-slide image: no VOLUME image (only label/overview/thumbnail)');
  });

  it('a mammography model is refused before any tile is read', async () => {
    const modelsDir = path.join(dir, 'models');
    fs.mkdirSync(modelsDir);
    buildTestModel(modelsDir);
    const registry = await ModelRegistry.load(modelsDir, { intraOpNumThreads: 1 });
    try {
      // No file at all: refused for the model before the study is even looked at (else: "no slide").
      const err = await analyze({ source: { kind: 'files', files: [] }, pipeline: wsi, model: registry.model(TEST_MODEL_ID), config: loadConfig(), newUid, now: new Date() })
        .then(() => undefined, (e: unknown) => e);
      expect((err as SentinelError).message).toBe(`model ${TEST_MODEL_ID} (task mammography-lesion-detection, modality MG) does not fit the whole slide pipeline, which runs wsi-tile-classification models for SM`);
      expect(isRetryable(err)).toBe(false);
    } finally {
      await registry.close();
    }
  });
});
