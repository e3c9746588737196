// `sentinel analyze` without any server: files in, SEG/SR/ORU/summary.json out, each output
// checked by the independent judges; an unreadable file is reported and the rest goes on.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Fhir } from 'fhir';
import sharp from 'sharp';
import { analyze } from '../../../src/analysis/analyze';
import { analyzeFiles } from '../../../src/analysis/offline';
import { pipelineNamed } from '../../../src/pipelines/registry';
import type { Config } from '../../../src/config/schema';
import { loadConfig } from '../../../src/config/load';
import { newUid } from '../../../src/dicom/uid';
import { ModelRegistry } from '../../../src/inference/registry';
import { buildSyntheticMammogram } from '../../../src/samples/mammogram';
import { ultrasoundFromImage } from '../../../src/samples/ultrasound';
import { dicomize } from '../../../src/wsi/dicomize';
import { readNaturalizedHeader } from '../../../src/dicom/part10';
import { parseDicom } from '../../../src/dicom/read';
import { decodeFrame } from '../../../src/dicom/pixels/decode';
import { dciodvfy, dcmdump, dsrdump } from '../../support/dicom-judges';
import { TEST_US_MODEL_ID, buildEvalTestModels } from '../../support/models/eval-test-models';
import { TEST_MODEL_ID, buildTestModel } from '../../support/models/test-model';
import { sharedData } from '../../support/shared-data';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-analyze-'));
const modelsDir = path.join(dir, 'models');
let registry: ModelRegistry;

beforeAll(async () => {
  fs.mkdirSync(modelsDir);
  buildTestModel(modelsDir);
  registry = await ModelRegistry.load(modelsDir, { intraOpNumThreads: 1 });
});
afterAll(() => registry.close());

type Item = Record<string, unknown>;
const list = (v: unknown): Item[] => (v === undefined ? [] : Array.isArray(v) ? v as Item[] : [v as Item]);
const conceptOf = (i: Item): string | undefined => list(i.ConceptNameCodeSequence)[0]?.CodeValue as string | undefined;
const readDataset = (bytes: Buffer): Item => readNaturalizedHeader(new Uint8Array(bytes)) as Item;

/** Each measurement group's tracking UID and the SEG segment it names (IHE AIR). */
function segmentRefsOf(sr: Item): Array<{ trackingUid: string; segUid: string; segmentNumber: number }> {
  const groups: Item[] = [];
  const walk = (items: Item[]): void => items.forEach((i) => (conceptOf(i) === '125007' ? groups.push(i) : walk(list(i.ContentSequence))));
  walk(list(sr.ContentSequence));
  // Images without findings have a "No AI finding" group, with no segment.
  const findingOf = (g: Item): string | undefined => list(list(g.ContentSequence).find((c) => conceptOf(c) === '121071')?.ConceptCodeSequence)[0]?.CodeValue as string | undefined;
  return groups.filter((g) => findingOf(g) !== 'NOAIFINDING').map((g) => {
    const children = list(g.ContentSequence);
    const ref = list(children.find((c) => conceptOf(c) === '121191')?.ReferencedSOPSequence)[0] ?? {};
    return { trackingUid: String(children.find((c) => conceptOf(c) === '112040')?.UID), segUid: String(ref.ReferencedSOPInstanceUID), segmentNumber: Number(ref.ReferencedSegmentNumber) };
  });
}

/** The SEG's segments, number -> tracking UID. */
function segmentsOf(seg: Item): Map<number, string> {
  return new Map(list(seg.SegmentSequence).map((s) => [Number(s.SegmentNumber), String(s.TrackingUID)]));
}

function config(): Config {
  return loadConfig({ overrides: { routing: { rules: [{ name: 'mammography', modalities: ['MG'], pipeline: 'mammography', models: [TEST_MODEL_ID] }] } } });
}

describe('sentinel analyze (offline)', () => {
  it('writes valid SEG and SR, a parseable ORU and a summary for each study; bad files are listed, not fatal', async () => {
    const input = path.join(dir, 'in');
    fs.mkdirSync(path.join(input, 'nested'), { recursive: true });
    const study = { studyInstanceUid: newUid(), accessionNumber: 'ACC42', patientId: 'P42', patientName: 'Offline^Test' };
    const series = newUid();
    fs.writeFileSync(path.join(input, 'L.dcm'), buildSyntheticMammogram(study, { laterality: 'L', view: 'CC', seriesInstanceUid: series, instanceNumber: 1 },
      { rows: 800, columns: 640, spacingMm: 0.2, lesions: [{ x: 420, y: 380, radius: 35 }], seed: 5 }));
    fs.writeFileSync(path.join(input, 'nested', 'R.dcm'), buildSyntheticMammogram(study, { laterality: 'R', view: 'CC', seriesInstanceUid: series, instanceNumber: 2 },
      { rows: 800, columns: 640, spacingMm: 0.2, seed: 6 }));
    fs.writeFileSync(path.join(input, 'notes.txt'), 'not DICOM');
    const out = path.join(dir, 'out');

    const summary = await analyzeFiles({ paths: [input], outDir: out, config: config(), registry });

    expect(summary.inputs).toBe(3);
    expect(summary.unreadable).toEqual([{ file: path.join(input, 'notes.txt'), reason: expect.stringMatching(/not a readable DICOM file/) as unknown }]);
    expect(summary.studies).toHaveLength(1);
    const s = summary.studies[0]!;
    expect(s).toMatchObject({ studyInstanceUid: study.studyInstanceUid, status: 'analysed', pipeline: 'mammography', model: { id: TEST_MODEL_ID, version: '0.0.1' } });
    expect(s.findings).toHaveLength(1);
    expect(Math.hypot(s.findings![0]!.centre.x - 420, s.findings![0]!.centre.y - 380)).toBeLessThan(12);
    expect(s.score).toBeGreaterThan(0.5);
    expect(s.outputs.seg).toHaveLength(1); // only the image with a finding gets a SEG
    expect(s.outputs.sr).toHaveLength(1);
    expect(s.outputs.cadsr).toHaveLength(1); // the Mammography CAD SR beside the TID 1500 SR
    // The FHIR Bundle too, for inspection, though no FHIR server is configured; valid R4.
    expect(s.outputs.fhir).toHaveLength(1);
    const bundle = JSON.parse(fs.readFileSync(path.join(out, s.outputs.fhir![0]!), 'utf8')) as Record<string, unknown>;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'transaction' });
    expect(new Fhir().validate(bundle, { errorOnUnexpected: true }).valid).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(summary)));

    for (const rel of [...(s.outputs.seg ?? []), ...(s.outputs.sr ?? []), ...(s.outputs.cadsr ?? [])]) {
      const bytes = fs.readFileSync(path.join(out, rel));
      expect(dciodvfy(bytes).errors).toEqual([]);
      expect(dcmdump(bytes)).toContain(study.studyInstanceUid);
    }
    const srBytes = fs.readFileSync(path.join(out, s.outputs.sr![0]!));
    expect(dsrdump(srBytes)).toContain('Measurement Group');
    expect(dsrdump(srBytes)).toMatch(/contains IMAGE:\(,,"Referenced Segment"\)=\(SG image,,1\)/);

    // The SR's finding names the SEG segment that outlines it, the one with its tracking UID.
    const seg = readDataset(fs.readFileSync(path.join(out, s.outputs.seg![0]!)));
    const sr = readDataset(srBytes);
    const refs = segmentRefsOf(sr);
    expect(refs).toHaveLength(1);
    // The image without findings says so, in a group over the whole image.
    expect(dsrdump(srBytes)).toMatch(/"Finding"\)=\(NOAIFINDING,99SENTINEL,"No AI finding"\)[\s\S]*inferred from SCOORD:=\(POLYLINE,0\/0,/);
    expect(JSON.stringify(sr.ContentSequence)).toMatch(/"TextValue":"No AI finding on this image: AI score [0-9.]+, exam score \d+\/10"/);
    expect(refs[0]!.segUid).toBe(String(seg.SOPInstanceUID));
    expect(segmentsOf(seg).get(refs[0]!.segmentNumber)).toBe(refs[0]!.trackingUid);

    // The ORU names the SR by its Study and SOP Instance UIDs.
    const oru = fs.readFileSync(path.join(out, s.outputs.oru![0]!), 'utf8');
    const py = spawnSync('/usr/bin/python3', ['-c', [
      'import hl7,sys', 'm=hl7.parse(sys.stdin.read())', 'print(m.segment("OBR")[2], m.segment("OBX")[5])',
      'print(" ".join(str(o[3][0][0]) + "=" + str(o[5]) + "/" + str(o[11]) for o in m.segments("OBX") if str(o[4]).startswith("SR")))',
    ].join('\n')], { input: oru, encoding: 'utf8' });
    expect(py.status).toBe(0);
    const [first, uids] = py.stdout.trim().split('\n');
    // Exam scores on the test model's scale (tenths): in the ORU for the study, per breast and per finding, and in the SR.
    const expected = (score: number): number => Math.min(10, Math.max(1, Math.ceil(10 * score)));
    const obx = (code: string): string | undefined => oru.split('\r').find((l) => l.split('|')[3]?.startsWith(`${code}^`))?.split('|')[5];
    expect(obx('AIEXAM')).toBe(String(expected(s.score!)));
    expect(obx('AIEXAM-L')).toBe(String(expected(s.score!)));
    expect(obx('AIFINDING')).toContain(`exam score ${expected(s.findings![0]!.score)}`);
    expect(dsrdump(srBytes)).toContain(`"AI exam score (1-10)")="${expected(s.score!)}"`);
    expect(first!.split(' ')).toEqual(['ACC42', s.score!.toFixed(3)]);
    const cad = readDataset(fs.readFileSync(path.join(out, s.outputs.cadsr![0]!)));
    expect(uids!.split(' ')).toEqual([
      `113014=${study.studyInstanceUid}/O`, `AISRUID=${String(sr.SOPInstanceUID)}/O`,
      `113014=${study.studyInstanceUid}/O`, `AISRUID=${String(cad.SOPInstanceUID)}/O`,
    ]);
  });

  it('a study no rule routes is listed as skipped with the reason', async () => {
    const input = path.join(dir, 'ct');
    fs.mkdirSync(input);
    const bytes = buildSyntheticMammogram({ studyInstanceUid: newUid(), accessionNumber: 'A1', patientId: 'P1', patientName: 'X^Y' }, { laterality: 'L', view: 'CC' }, { rows: 64, columns: 64 });
    fs.writeFileSync(path.join(input, 'a.dcm'), bytes);
    const c = config();
    c.routing.rules = [{ name: 'us-only', modalities: ['US'], pipeline: 'ultrasound', models: [TEST_MODEL_ID] }];
    const summary = await analyzeFiles({ paths: [input], outDir: path.join(dir, 'out-ct'), config: c, registry });
    expect(summary.studies).toEqual([expect.objectContaining({ status: 'skipped', reason: 'no routing rule for modalities MG' })]);
  });
});

describe('sentinel analyze: breast ultrasound, each image classified', () => {
  // The deterministic test classifier (test-us-brightness): normal below a mean brightness
  // of 0.3, benign to 0.7, malignant above. Images of 0 and 255 only (shown as stored: the
  // display range spans 0 to 255), 90% bright (mean 0.90) and half bright (0.50), are
  // therefore malignant and benign, in that order.
  it('classifies each image, writes a valid SR (no SEG: no locations) and an ORU with each image\'s class in order', async () => {
    const usModels = path.join(dir, 'us-models');
    buildEvalTestModels(usModels);
    const models = await ModelRegistry.load(usModels, { intraOpNumThreads: 1 });
    try {
      const input = path.join(dir, 'us');
      fs.mkdirSync(input);
      const study = { studyInstanceUid: newUid(), accessionNumber: 'US77', patientId: 'P77', patientName: 'Us^Test' };
      const series = newUid();
      for (const [i, bright] of [0.9, 0.5].entries()) {
        const png = path.join(dir, `us-${bright}.png`);
        const pixels = Buffer.alloc(160 * 120);
        for (let y = 0; y < 120; y++) pixels.fill(y < bright * 120 ? 255 : 0, y * 160, (y + 1) * 160);
        await sharp(pixels, { raw: { width: 160, height: 120, channels: 1 } }).png().toFile(png);
        fs.writeFileSync(path.join(input, `${i}.dcm`), await ultrasoundFromImage(png, study, { seriesInstanceUid: series, instanceNumber: i + 1 }));
      }
      const out = path.join(dir, 'out-us');
      const c = config();
      c.routing.rules = [{ name: 'ultrasound', modalities: ['US'], pipeline: 'ultrasound', models: [TEST_US_MODEL_ID] }];
      const summary = await analyzeFiles({ paths: [input], outDir: out, config: c, registry: models });
      const s = summary.studies[0]!;
      expect(s).toMatchObject({ status: 'analysed', pipeline: 'ultrasound', model: { id: TEST_US_MODEL_ID } });
      expect(s.outputs.seg ?? []).toEqual([]);
      const sr = fs.readFileSync(path.join(out, s.outputs.sr![0]!));
      expect(dciodvfy(sr).errors).toEqual([]);
      const tree = dsrdump(sr);
      expect(tree).toContain('AI image classification');
      expect(tree).toContain('Ultrasonography of breast');
      expect(tree).toContain('(MALIGNANT,99SENTINEL,"malignant")');
      expect(tree).toContain('(BENIGN,99SENTINEL,"benign")');
      // Each image, classified but not outlined, has a group over the whole image naming its class (what OHIF lists).
      expect(tree.match(/Measurement Group/g)).toHaveLength(2);
      expect(tree).toMatch(/"Finding"\)=\(MALIGNANT,99SENTINEL,"malignant"\)[\s\S]*"Finding"\)=\(BENIGN,99SENTINEL,"benign"\)/);
      expect(JSON.stringify(readDataset(sr).ContentSequence)).toContain('"TextValue":"AI class malignant (whole image, no outline): AI score');
      const oru = fs.readFileSync(path.join(out, s.outputs.oru![0]!), 'utf8');
      const py = spawnSync('/usr/bin/python3', ['-c', 'import hl7,sys; m=hl7.parse(sys.stdin.read()); print(" ".join(str(o[5][0][1]) for o in m.segments("OBX") if str(o[3][0][0]) == "AICLASS"))'], { input: oru, encoding: 'utf8' });
      expect(py.status).toBe(0);
      expect(py.stdout.trim()).toBe('malignant benign');
    } finally {
      await models.close();
    }
  });
});

describe('sentinel analyze: a whole slide from local files', () => {
  it('reads the dicomized slide tile by tile and writes the tumour map SEG, the 3D SR and the ORU', async () => {
    const shipped = await ModelRegistry.load(path.resolve(__dirname, '../../../models'), { intraOpNumThreads: 2 });
    try {
      const input = path.join(dir, 'slide');
      const slide = await dicomize(sharedData('pathology/idc-slides/9124.jpg'), { outDir: input, pixelSpacingMm: 0.004, context: { accessionNumber: 'SL1' } });
      const out = path.join(dir, 'out-slide');
      const summary = await analyzeFiles({ paths: [input], outDir: out, config: loadConfig(), registry: shipped });
      const s = summary.studies[0]!;
      expect(s).toMatchObject({ studyInstanceUid: slide.studyInstanceUid, status: 'analysed', pipeline: 'wsi', model: { id: 'idc-tile-classifier' }, category: 'high' });
      expect(s.findings!.length).toBeGreaterThan(0);
      expect(s.findings!.every((f) => f.type === 'tumor' && (f.areaMm2 ?? 0) > 0)).toBe(true);
      for (const rel of [...(s.outputs.seg ?? []), ...(s.outputs.sr ?? [])]) expect(dciodvfy(fs.readFileSync(path.join(out, rel))).errors).toEqual([]);
      expect(readNaturalizedHeader(new Uint8Array(fs.readFileSync(path.join(out, s.outputs.seg![0]!)))).FrameOfReferenceUID).toBe(slide.frameOfReferenceUid);
      // Every region points at the tumour map, segment 1 of the slide's SEG.
      const seg = readDataset(fs.readFileSync(path.join(out, s.outputs.seg![0]!)));
      const refs = segmentRefsOf(readDataset(fs.readFileSync(path.join(out, s.outputs.sr![0]!))));
      expect(refs).toHaveLength(s.findings!.length);
      expect(refs.every((r) => r.segUid === String(seg.SOPInstanceUID) && r.segmentNumber === 1 && segmentsOf(seg).has(1))).toBe(true);

      // Analysed again as a re-analysis: the slide's SR names the SR it replaces, the ORU is a correction.
      const earlier = { studyInstanceUid: slide.studyInstanceUid, seriesInstanceUid: '2.25.1', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.34', sopInstanceUid: '2.25.2' };
      const files = fs.readdirSync(input).map((f) => new Uint8Array(fs.readFileSync(path.join(input, f))));
      const again = await analyze({ source: { kind: 'files', files }, pipeline: pipelineNamed('wsi'), model: shipped.model('idc-tile-classifier'), config: loadConfig(), newUid, now: new Date(), predecessors: [earlier] });
      const sr = again.outputs.find((o) => o.label === 'SR')!;
      expect(dcmdump(sr.bytes)).toMatch(/PredecessorDocumentsSequence[\s\S]*2\.25\.2/);
      expect(again.outputs.find((o) => o.label === 'ORU^R01')!.bytes.toString('utf8').split('\r').find((l) => l.startsWith('OBR'))?.split('|')[25]).toBe('C');
    } finally {
      await shipped.close();
    }
  });

  it('a study with two slides: each analysed in its own frame of reference, one ORU for the study', async () => {
    const shipped = await ModelRegistry.load(path.resolve(__dirname, '../../../models'), { intraOpNumThreads: 2 });
    try {
      const input = path.join(dir, 'two-slides');
      const studyInstanceUid = newUid();
      const a = await dicomize(sharedData('pathology/idc-slides/9124.jpg'), { outDir: path.join(input, 'a'), studyInstanceUid, pixelSpacingMm: 0.004 });
      const b = await dicomize(sharedData('pathology/idc-slides/14306.jpg'), { outDir: path.join(input, 'b'), studyInstanceUid, pixelSpacingMm: 0.004 });
      const out = path.join(dir, 'out-two-slides');
      const summary = await analyzeFiles({ paths: [input], outDir: out, config: loadConfig(), registry: shipped });
      expect(summary.studies).toHaveLength(1);
      const s = summary.studies[0]!;
      expect(s.status).toBe('analysed');
      expect(s.outputs.seg).toHaveLength(2);
      expect(s.outputs.sr).toHaveLength(2);
      expect(s.outputs.oru).toHaveLength(1);
      const frames = s.outputs.seg!.map((f) => readNaturalizedHeader(new Uint8Array(fs.readFileSync(path.join(out, f)))).FrameOfReferenceUID);
      expect(new Set(frames)).toEqual(new Set([a.frameOfReferenceUid, b.frameOfReferenceUid]));
      const prefixes = new Set(s.findings!.map((f) => f.trackingId.split('-')[0]));
      expect(prefixes).toEqual(new Set(['S1', 'S2']));
    } finally {
      await shipped.close();
    }
  });
});

describe('sentinel analyze: breast ultrasound with the lesion segmenter', () => {
  // The shipped classifier and segmenter on two BUSI images: a benign one with a calibrated
  // ultrasound region (0.1 mm per pixel), a malignant one without.
  it('each lesion is a finding outlined on its image: a SEG per image (0 dciodvfy errors) matching BUSI\'s own mask, an SR with area and longest diameter in mm or in pixels, the ORU', async () => {
    const shipped = await ModelRegistry.load(path.resolve(__dirname, '../../../models'), { intraOpNumThreads: 2 });
    try {
      const input = path.join(dir, 'us-seg');
      fs.mkdirSync(input);
      const study = { studyInstanceUid: newUid(), accessionNumber: 'USSEG', patientId: 'P88', patientName: 'Seg^Test' };
      const series = newUid();
      const names = ['benign/benign (10).png', 'malignant/malignant (10).png'];
      for (const [i, name] of names.entries()) {
        fs.writeFileSync(path.join(input, `${i}.dcm`), await ultrasoundFromImage(sharedData(`ultrasound/busi/${name}`), study, { seriesInstanceUid: series, instanceNumber: i + 1, laterality: 'L', ...(i === 0 ? { regionSpacingMm: 0.1 } : {}) }));
      }
      const out = path.join(dir, 'out-us-seg');
      const c = loadConfig();
      const summary = await analyzeFiles({ paths: [input], outDir: out, config: c, registry: shipped });
      const s = summary.studies[0]!;
      expect(s).toMatchObject({ status: 'analysed', pipeline: 'ultrasound', model: { id: 'busi-classifier' } });
      expect(s.findings!.length).toBeGreaterThanOrEqual(2);
      expect(s.outputs.seg).toHaveLength(2);
      for (const rel of [...s.outputs.seg!, ...s.outputs.sr!]) expect(dciodvfy(fs.readFileSync(path.join(out, rel))).errors).toEqual([]);

      // Each SEG's segments, drawn over its image, agree with BUSI's ground-truth mask.
      for (const rel of s.outputs.seg!) {
        const bytes = fs.readFileSync(path.join(out, rel));
        const seg = readDataset(bytes);
        const source = String(list(list(seg.ReferencedSeriesSequence)[0]?.ReferencedInstanceSequence)[0]?.ReferencedSOPInstanceUID);
        const i = fs.readdirSync(input).map((f) => readNaturalizedHeader(new Uint8Array(fs.readFileSync(path.join(input, f))))).findIndex((h) => h.SOPInstanceUID === source);
        const truth = await sharp(sharedData(`ultrasound/busi-masks/${names[i]!.replace('.png', '_mask.png')}`)).greyscale().raw().toBuffer({ resolveWithObject: true });
        const parsed = parseDicom(new Uint8Array(bytes));
        const frames = parsed.frames();
        const { rows, columns } = { rows: Number(seg.Rows), columns: Number(seg.Columns) };
        expect([columns, rows]).toEqual([truth.info.width, truth.info.height]);
        const union = new Uint8Array(rows * columns);
        for (const f of frames) {
          const pixels = await decodeFrame(f, parsed.transferSyntaxUid, { ...parsed.pixelDescription(), rows, columns });
          pixels.data.forEach((v, k) => { if (v) union[k] = 1; });
        }
        let a = 0; let b = 0; let both = 0;
        union.forEach((v, k) => { const t = (truth.data[k] as number) > 127; if (v) a++; if (t) b++; if (v && t) both++; });
        const dice = (2 * both) / (a + b);
        console.log(`US SEG over ${names[i]}: Dice ${dice.toFixed(3)} against BUSI's mask`);
        expect(dice).toBeGreaterThan(0.6);
      }

      const tree = dsrdump(fs.readFileSync(path.join(out, s.outputs.sr![0]!)));
      expect(tree).toContain('(52988006,SCT,"Lesion")');
      expect(tree).toMatch(/"Long Axis"\)="[0-9.]+" \(mm,UCUM,"millimeter"\)/); // the calibrated image
      expect(tree).toMatch(/"Long Axis"\)="[0-9.]+" \(\{pixels\},UCUM,"pixels"\)/); // the other, in pixels, said so
      expect(tree).toMatch(/"Area"\)="[0-9.]+" \(\{square pixels\},UCUM,"square pixels"\)/);
      expect(tree).toMatch(/"Referenced Segment"\)=\(SG image,,1\)/);
      const oru = fs.readFileSync(path.join(out, s.outputs.oru![0]!), 'utf8');
      expect(oru).toMatch(/AIFINDING\^AI finding\^99SEN\|F1\|lesion; .*area [0-9.]+ mm2; long axis [0-9.]+ millimeter/);
    } finally {
      await shipped.close();
    }
  }, 120_000);
});

