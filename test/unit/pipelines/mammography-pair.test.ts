// The two-breast path and breast density, through the real pipeline and writers:
// - a pair model (manifest input.views 'pair') gets, beside each film, the other breast's film
//   of the same view, mirrored; a film without one is its own partner. The test model looks
//   at the partner channel only, so where its findings land says what it was given.
// - with the shipped density model as a companion, every film is assessed, each breast and
//   the exam get a composition, and the SR (dciodvfy, dsrdump), the ORU (python3-hl7) and the
//   FHIR Bundle (the fhir package's R4 validator) say so.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Fhir } from 'fhir';
import type { Bundle, Observation } from 'fhir/r4';
import { analyze } from '../../../src/analysis/analyze';
import { loadConfig } from '../../../src/config/load';
import { newUid } from '../../../src/dicom/uid';
import { readNaturalizedHeader } from '../../../src/dicom/part10';
import type { DensityAssessment, StudyResult } from '../../../src/domain/findings';
import { ModelRegistry } from '../../../src/inference/registry';
import { summarizeDensity } from '../../../src/pipelines/mammography/density';
import { pipelineNamed } from '../../../src/pipelines/registry';
import { buildSyntheticMammogram } from '../../../src/samples/mammogram';
import { dciodvfy, dsrdump } from '../../support/dicom-judges';
import { PAIR_TEST_MODEL_ID, TEST_MODEL_ID, buildTestModel } from '../../support/models/test-model';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-pair-'));
const repoModels = path.join(__dirname, '../../../models');
let registry: ModelRegistry;

beforeAll(async () => {
  buildTestModel(dir, { pair: true });
  buildTestModel(dir);
  for (const f of ['mini-mias-density.json', 'mini-mias-density.onnx']) fs.copyFileSync(path.join(repoModels, f), path.join(dir, f));
  registry = await ModelRegistry.load(dir, { intraOpNumThreads: 1 });
});
afterAll(() => registry.close());

const study = { studyInstanceUid: newUid(), accessionNumber: 'ACC-PAIR', patientId: 'P-PAIR', patientName: 'Pair^Test' };
const rows = 600;
const columns = 480;
const config = loadConfig({ env: {} });

function film(laterality: 'L' | 'R', view: 'CC' | 'MLO', lesions: Array<{ x: number; y: number; radius: number }>, seed: number): { bytes: Buffer; sop: string } {
  const sop = newUid();
  return { bytes: buildSyntheticMammogram(study, { laterality, view, sopInstanceUid: sop, seriesInstanceUid: `${study.studyInstanceUid}.1` }, { rows, columns, spacingMm: 0.2, lesions, seed }), sop };
}

async function run(modelId: string, files: Buffer[], companions = {}): Promise<Awaited<ReturnType<typeof analyze>>> {
  return analyze({
    source: { kind: 'files', files }, pipeline: pipelineNamed('mammography'), model: registry.model(modelId),
    config, newUid, now: new Date('2026-12-02T10:00:00Z'), companions, fhir: true,
  });
}

describe('a mammography model that sees both breasts', () => {
  it("gives each film the other breast's film of its view, mirrored; a film without one is its own partner", async () => {
    const lesion = { x: 360, y: 260, radius: 30 };
    const rcc = film('R', 'CC', [], 1);
    const lcc = film('L', 'CC', [lesion], 2);
    const rmlo = film('R', 'MLO', [{ x: 120, y: 400, radius: 30 }], 3);
    const { result } = await run(PAIR_TEST_MODEL_ID, [rcc.bytes, lcc.bytes, rmlo.bytes]);
    const bySop = (sop: string): StudyResult['images'][number] => result.images.find((i) => i.image.sopInstanceUid === sop)!;
    // R CC sees the left film's lesion, mirrored: x -> columns - x.
    const seen = bySop(rcc.sop).findings;
    expect(seen).toHaveLength(1);
    expect(Math.abs(seen[0]!.centre.x - (columns - lesion.x))).toBeLessThan(12);
    expect(Math.abs(seen[0]!.centre.y - lesion.y)).toBeLessThan(12);
    // L CC's partner (R CC) has no lesion: nothing, although the film itself has one.
    expect(bySop(lcc.sop).findings).toEqual([]);
    // R MLO has no left MLO: it is its own partner, unmirrored, so its own lesion is found where it is.
    const own = bySop(rmlo.sop).findings;
    expect(own).toHaveLength(1);
    expect(Math.abs(own[0]!.centre.x - 120)).toBeLessThan(12);
  });

  it('a single-image model is given the film alone, as before', async () => {
    const lesion = { x: 360, y: 260, radius: 30 };
    const { result } = await run(TEST_MODEL_ID, [film('R', 'CC', [], 1).bytes, film('L', 'CC', [lesion], 2).bytes]);
    const left = result.images.find((i) => i.laterality === 'L')!;
    expect(left.findings).toHaveLength(1);
    expect(Math.abs(left.findings[0]!.centre.x - lesion.x)).toBeLessThan(12);
    expect(result.images.find((i) => i.laterality === 'R')!.findings).toEqual([]);
  });

  it('refuses a manifest whose pair input does not have two gray channels', async () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-pair-bad-'));
    buildTestModel(bad, { pair: true });
    const file = path.join(bad, `${PAIR_TEST_MODEL_ID}.json`);
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    m.input.channels = 1;
    fs.writeFileSync(file, JSON.stringify(m));
    await expect(ModelRegistry.load(bad)).rejects.toThrow(/views 'pair' goes with input.channels 2/);
  });
});

describe('breast density beside the detector', () => {
  const model = { id: 'd', version: '1', name: 'density' };
  const classes = ['fatty', 'fatty-glandular', 'dense-glandular'];
  const d = (p: number[]): DensityAssessment => ({ predicted: '', rank: 0, probabilities: Object.fromEntries(classes.map((c, i) => [c, p[i]!])), model });

  it('a breast is the mean of its films; the exam is the denser breast', () => {
    const s = summarizeDensity([
      { laterality: 'R', density: d([0.6, 0.3, 0.1]) },
      { laterality: 'R', density: d([0.2, 0.5, 0.3]) },
      { laterality: 'L', density: d([0.1, 0.2, 0.7]) },
      { laterality: 'L' },
    ], classes)!;
    expect(s.breasts.R!.predicted).toBe('fatty'); // mean 0.4, 0.4, 0.2: the first of equals
    expect(s.breasts.R!.probabilities.fatty).toBeCloseTo(0.4, 10);
    expect(s.breasts.L).toMatchObject({ predicted: 'dense-glandular', rank: 2 });
    expect(s.exam).toBe(s.breasts.L);
    expect(summarizeDensity([{ laterality: 'R' }], classes)).toBeUndefined();
  });

  it('is reported per breast and for the exam in the SR and the ORU', async () => {
    const density = registry.model('mini-mias-density');
    const out = await run(TEST_MODEL_ID, [film('R', 'CC', [], 1).bytes, film('L', 'CC', [], 2).bytes, film('L', 'MLO', [], 4).bytes], { density });
    const { result } = out;
    expect(result.images.every((i) => i.density && i.density.model.id === 'mini-mias-density')).toBe(true);
    expect(Object.keys(result.density!.breasts).sort()).toEqual(['L', 'R']);
    const ranks = Object.values(result.density!.breasts).map((b) => b.rank);
    expect(result.density!.exam.rank).toBe(Math.max(...ranks));
    // Every class has a CID 6000 code in the shipped manifest.
    expect(result.density!.exam.code?.CodingSchemeDesignator).toBe('SCT');

    const sr = out.outputs.find((o) => o.label === 'SR')!;
    expect(dciodvfy(sr.bytes).errors).toEqual([]);
    const dump = dsrdump(sr.bytes);
    expect(dump).not.toMatch(/constraint|violat/i);
    // dsrdump: one composition per breast, with the breast as its site, then the exam's, without.
    const lines = dump.split('\n');
    const at = lines.flatMap((l, i) => (l.includes('"Breast composition")=') ? [i] : []));
    expect(at).toHaveLength(3);
    const [r, l, exam] = [result.density!.breasts.R!, result.density!.breasts.L!, result.density!.exam];
    expect(lines[at[0]!]).toContain(`=(${r.code!.CodeValue},SCT,`);
    expect(lines[at[0]! + 2]).toContain('(24028007,SCT,"Right")');
    expect(lines[at[1]!]).toContain(`=(${l.code!.CodeValue},SCT,`);
    expect(lines[at[1]! + 2]).toContain('(7771000,SCT,"Left")');
    expect(lines[at[2]!]).toContain(`=(${exam.code!.CodeValue},SCT,`);
    expect(lines[at[2]! + 1]).toContain(`"AI probability of the class")="${Number(exam.probabilities[exam.predicted]!.toPrecision(6))}"`);
    // The concept is coded SCT 129715009 (read through dcmjs; dsrdump prints meanings only).
    expect(JSON.stringify(readNaturalizedHeader(sr.bytes))).toContain('"CodeValue":"129715009","CodingSchemeDesignator":"SCT","CodeMeaning":"Breast composition"');

    // The Mammography CAD SR: each film's composition as a TID 4006 finding, from the film's breast geometry.
    const cad = out.outputs.find((o) => o.label === 'CAD SR')!;
    expect(dciodvfy(cad.bytes).errors).toEqual([]);
    const cadDump = dsrdump(cad.bytes);
    expect(cadDump).not.toMatch(/constraint|violat/i);
    const filmCodes = result.images.map((i) => i.density!.code!.CodeValue);
    const cadText = JSON.stringify(readNaturalizedHeader(cad.bytes));
    for (const code of filmCodes) expect(cadText).toContain(`"CodeValue":"${code}","CodingSchemeDesignator":"SCT"`);
    expect(cadDump.match(/"Breast Outline Including Pectoral Muscle Tissue"/g)).toHaveLength(result.images.length);
    const compositionLines = cadDump.split('\n').filter((l) => l.includes('<has properties CODE:(,,"Breast composition")='));
    expect(compositionLines.map((l) => /=\((\d+),SCT,/.exec(l)?.[1])).toEqual(filmCodes);
    expect(cadDump.match(/"Single Image Finding"\)=\(129715009,SCT,"Breast composition"\)/g)).toHaveLength(result.images.length);

    const oru = out.outputs.find((o) => o.kind === 'hl7')!.bytes.toString('utf8');
    const py = spawnSync('/usr/bin/python3', ['-c', 'import hl7,sys; m=hl7.parse(sys.stdin.read()); print("\\n".join(str(o[3][0][0]) + " " + str(o[5][0][0]) + " " + str(o[5][0][2]) for o in m.segments("OBX") if str(o[3][0][0]).startswith("AIDENS")))'], { input: oru.replace(/\r?\n/g, '\r'), encoding: 'utf8' });
    expect(py.status).toBe(0);
    // FHIR: an Observation per breast (with its body site) and one for the exam, valid R4.
    const bundle = JSON.parse(out.outputs.find((o) => o.kind === 'fhir')!.bytes.toString('utf8')) as Bundle;
    const compositions = bundle.entry!.map((e) => e.resource as Observation).filter((o) => o.code?.coding?.[0]?.code === '129715009');
    expect(compositions.map((o) => [o.bodySite?.coding?.[0]?.code, o.valueCodeableConcept?.coding?.[0]?.code])).toEqual([
      ['73056007', r.code!.CodeValue], ['80248007', l.code!.CodeValue], [undefined, exam.code!.CodeValue],
    ]);
    for (const o of compositions) expect(new Fhir().validate(o, { errorOnUnexpected: true })).toMatchObject({ valid: true });

    expect(py.stdout.trim().split('\n')).toEqual([
      `AIDENS ${result.density!.exam.code!.CodeValue} SCT`,
      `AIDENS-R ${result.density!.breasts.R!.code!.CodeValue} SCT`,
      `AIDENS-L ${result.density!.breasts.L!.code!.CodeValue} SCT`,
    ]);
  });
});
