// A reader's correction of an ultrasound analysis, through the real pipeline and writers
// (no server): two BUSI images analysed by the shipped classifier and segmenter, one lesion's
// outline moved, one drawn on the other image; the corrected SEGs and SR judged by dciodvfy,
// read back by dsrdump (the reader as person observer, the outlines measured again: in mm on
// the calibrated image, in pixels on the other), and the ORU by python3-hl7 (status C).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { analyze, companionModels } from '../../../src/analysis/analyze';
import { applyCorrection } from '../../../src/analysis/correction';
import { writeImageReports } from '../../../src/analysis/instances';
import { loadConfig } from '../../../src/config/load';
import { readNaturalizedHeader } from '../../../src/dicom/part10';
import { parseDicom, readStudyContext } from '../../../src/dicom/read';
import { newUid } from '../../../src/dicom/uid';
import { ModelRegistry } from '../../../src/inference/registry';
import type { InstancePipeline } from '../../../src/pipelines/definition';
import { pipelineNamed } from '../../../src/pipelines/registry';
import { ultrasoundRegionSpacingMm } from '../../../src/pipelines/ultrasound';
import { oruForStudy } from '../../../src/reports/hl7/oru-r01';
import { ultrasoundFromImage } from '../../../src/samples/ultrasound';
import { dciodvfy, dcmdump, dsrdump } from '../../support/dicom-judges';
import { sharedData } from '../../support/shared-data';

jest.setTimeout(120_000);

let registry: ModelRegistry;
beforeAll(async () => {
  registry = await ModelRegistry.load(path.resolve(__dirname, '../../../models'), { intraOpNumThreads: 2 });
});
afterAll(() => registry.close());

it('an ultrasound correction: moved and drawn outlines, measured again, in a corrected SEG, SR and ORU C', async () => {
  const study = { studyInstanceUid: newUid(), accessionNumber: 'USFIX', patientId: 'P-FIX', patientName: 'Fix^Test' };
  const series = newUid();
  const files = [
    await ultrasoundFromImage(sharedData('ultrasound/busi/benign/benign (10).png'), study, { seriesInstanceUid: series, instanceNumber: 1, laterality: 'L', regionSpacingMm: 0.1 }),
    await ultrasoundFromImage(sharedData('ultrasound/busi/malignant/malignant (10).png'), study, { seriesInstanceUid: series, instanceNumber: 2, laterality: 'L' }),
  ];
  const pipeline = pipelineNamed('ultrasound') as InstancePipeline;
  const config = loadConfig({ env: {} });
  const now = new Date('2026-12-02T12:00:00Z');
  const ai = await analyze({ source: { kind: 'files', files }, pipeline, model: registry.model('busi-classifier'), config, newUid, now, companions: companionModels(pipeline, registry) });
  const [calibrated, plain] = ai.result.images;
  const moved = calibrated!.findings[0]!;
  expect(moved).toBeDefined();

  const parsed = files.map((f) => parseDicom(f));
  const spacing = new Map(parsed.map((p) => [p.sopInstanceUid, ultrasoundRegionSpacingMm(p)]));
  expect(spacing.get(calibrated!.image.sopInstanceUid)).toEqual({ dx: 0.1, dy: 0.1 });
  const corrected = applyCorrection(ai.result, [
    { sopInstanceUid: calibrated!.image.sopInstanceUid, trackingUid: moved.trackingUid, polygon: [[100, 100], [130, 100], [130, 140], [100, 140]] },
    { sopInstanceUid: plain!.image.sopInstanceUid, path: 'M 50 60 h 30 v 40 h -30 z' },
  ], { newUid, spacing });
  const headers = new Map(files.map((f, i) => [parsed[i]!.sopInstanceUid, readNaturalizedHeader(f)]));
  const { objects, reports } = writeImageReports({
    pipeline, result: corrected, headers, newUid, now, config, operatingPoint: 0, reader: { name: 'Dr Sono' },
    algorithm: { name: corrected.model.name, version: corrected.model.version, modelId: corrected.model.id },
    predecessors: [{ studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: newUid(), sopClassUid: '1.2.840.10008.5.1.4.1.1.88.33', sopInstanceUid: '2.25.4242' }],
  });
  const segs = objects.filter((o) => o.label === 'SEG');
  expect(segs).toHaveLength(2);
  for (const o of objects) expect(dciodvfy(o.bytes).errors).toEqual([]);
  for (const seg of segs) expect(dcmdump(seg.bytes)).toMatch(/\(0070,0084\) PN \[Dr Sono\]/);

  const tree = dsrdump(objects.find((o) => o.label === 'SR')!.bytes);
  expect(tree).toContain('"Person Observer Name")="Dr Sono"');
  // The moved outline, 30 x 40 px at 0.1 mm: longest diameter 5 mm, area 12 mm².
  expect(tree).toMatch(/"Long Axis"\)="5" \(mm,UCUM,"millimeter"\)/);
  expect(tree).toMatch(/"Area"\)="12" \(mm2,UCUM,"square millimeter"\)/);
  // The drawn one on the uncalibrated image, in pixels: 50 px across, 1200 square pixels.
  expect(tree).toMatch(/"Long Axis"\)="50" \(\{pixels\},UCUM,"pixels"\)/);
  expect(tree).toMatch(/"Area"\)="1200" \(\{square pixels\},UCUM,"square pixels"\)/);
  expect(JSON.stringify(readNaturalizedHeader(objects.find((o) => o.label === 'SR')!.bytes).PredecessorDocumentsSequence)).toContain('2.25.4242');

  const oru = oruForStudy(corrected, readStudyContext(parsed[0]!), config.hl7, pipeline.reporting, now, { corrected: true, reports });
  const py = spawnSync('/usr/bin/python3', ['-c', 'import hl7,sys; m=hl7.parse(sys.stdin.read()); print(m.segment("OBR")[25]); print(" ".join(str(o[4]) for o in m.segments("OBX") if str(o[3][0][0]) == "AIFINDING"))'], { input: oru.text.replace(/\r?\n/g, '\r'), encoding: 'utf8' });
  expect(py.status).toBe(0);
  const [status, subIds] = py.stdout.trim().split('\n');
  expect(status).toBe('C');
  expect(subIds).toBe(`${moved.trackingId} R1`);
});
