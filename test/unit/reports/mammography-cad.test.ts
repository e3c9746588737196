// Mammography CAD SR (TID 4000): judged by dciodvfy and dsrdump, then read back by dcmjs and
// walked as a CAD workstation would: every finding found again, on its film, with its outline.
import dcmjs from 'dcmjs';
import { readNaturalizedHeader } from '../../../src/dicom/part10';
import type { Finding, ImageRef, StudyResult } from '../../../src/domain/findings';
import { buildMammographyCadReport } from '../../../src/reports/sr/mammography-cad';
import { buildSyntheticMammogram } from '../../../src/samples/mammogram';
import { dciodvfy, dsrdump } from '../../support/dicom-judges';

type Item = Record<string, unknown>;
const list = (v: unknown): Item[] => (v === undefined ? [] : Array.isArray(v) ? v as Item[] : [v as Item]);
const concept = (i: Item): string | undefined => list(i.ConceptNameCodeSequence)[0]?.CodeValue as string | undefined;
const value = (i: Item): string | undefined => list(i.ConceptCodeSequence)[0]?.CodeValue as string | undefined;
const child = (i: Item, code: string): Item | undefined => list(i.ContentSequence).find((c) => concept(c) === code);

const study = { studyInstanceUid: '1.2.826.0.1.3680043.10.41', accessionNumber: 'ACC-CAD', patientId: 'PID-CAD', patientName: 'Cad^Test' };
const seriesUid = '1.2.826.0.1.3680043.10.42';
const films = ([['R', 'CC'], ['L', 'CC'], ['R', 'MLO'], ['L', 'MLO']] as const).map(([laterality, view], i) => {
  const bytes = buildSyntheticMammogram(study, { laterality, view, sopInstanceUid: `${seriesUid}.${i + 1}`, seriesInstanceUid: seriesUid, instanceNumber: i + 1 }, { rows: 320, columns: 256, spacingMm: 0.1 });
  const header = readNaturalizedHeader(bytes);
  const ref: ImageRef = { studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: seriesUid, sopInstanceUid: String(header.SOPInstanceUID), sopClassUid: String(header.SOPClassUID), rows: 320, columns: 256 };
  return { laterality, view, header, ref };
});

function finding(ref: ImageRef, id: number, type: Finding['type'], cx: number, cy: number, score: number): Finding {
  const contour = Array.from({ length: 10 }, (_, k) => ({ x: cx + 15 * Math.cos((k * Math.PI) / 5), y: cy + 9 * Math.sin((k * Math.PI) / 5) }));
  return { trackingId: `F${id}`, trackingUid: `1.2.826.0.1.3680043.10.43.${id}`, type, score, image: ref, centre: { x: cx, y: cy }, contour, box: { x: cx - 15, y: cy - 9, width: 30, height: 18 } };
}

function result(findings: Finding[]): StudyResult {
  return {
    studyInstanceUid: study.studyInstanceUid, pipeline: 'mammography', model: { id: 'test-detector', version: '2.0.0', name: 'Test detector' },
    score: 0.8, category: 'high', breasts: {},
    images: films.map((f) => ({ image: f.ref, laterality: f.laterality, view: f.view, score: 0.5, findings: findings.filter((x) => x.image.sopInstanceUid === f.ref.sopInstanceUid) })),
  };
}

const build = (findings: Finding[]): Buffer => buildMammographyCadReport({
  sources: films.map((f) => f.header), result: result(findings),
  series: { seriesInstanceUid: '1.2.826.0.1.3680043.10.44', seriesNumber: 9903, instanceNumber: 1, sopInstanceUid: '1.2.826.0.1.3680043.10.44.1' },
  algorithm: { name: 'Test detector', version: '2.0.0', modelId: 'test-detector' }, operatingPoint: 0.3,
});

const read = (bytes: Buffer): Item => dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer).dict) as Item;

/** The content item a ReferencedContentItemIdentifier names: 1 is the root, then 1-based child positions. */
function resolve(root: Item, path: number[]): Item | undefined {
  expect(path[0]).toBe(1);
  let at: Item | undefined = root;
  for (const k of path.slice(1)) at = list(at?.ContentSequence)[k - 1];
  return at;
}

describe('Mammography CAD SR (TID 4000)', () => {
  const findings = [
    finding(films[1]!.ref, 1, 'mass', 120, 150, 0.82),
    finding(films[3]!.ref, 2, 'calcification', 60, 200, 0.55),
    finding(films[0]!.ref, 3, 'mass', 200, 90, 0.21), // below the operating point (0.3)
  ];
  const bytes = build(findings);
  const root = read(bytes);

  it('is a Mammography CAD SR that dciodvfy finds no error in and dsrdump reads', () => {
    expect(root.SOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.88.50');
    expect(dciodvfy(bytes).errors).toEqual([]);
    const text = dsrdump(bytes);
    expect(text).toContain('Mammography CAD SR Document');
    expect(text).toContain('"Mammography CAD Report"');
    expect(text.match(/"Single Image Finding"/g)).toHaveLength(3);
    expect(list(root.ContentTemplateSequence)[0]).toMatchObject({ MappingResource: 'DCMR', TemplateIdentifier: '4000' });
  });

  it('lists every film in the Image Library with its laterality (CID 6022) and view (CID 4014)', () => {
    const library = list(root.ContentSequence).find((i) => concept(i) === '111028')!;
    const entries = list(library.ContentSequence);
    expect(entries.map((e) => list(e.ReferencedSOPSequence)[0]?.ReferencedSOPInstanceUID)).toEqual(films.map((f) => f.ref.sopInstanceUid));
    expect(entries.map((e) => value(child(e, '111027')!))).toEqual(['73056007', '80248007', '73056007', '80248007']);
    expect(entries.map((e) => value(child(e, '111031')!))).toEqual(['399162004', '399162004', '399368009', '399368009']);
    expect(entries.every((e) => child(e, '111026') && child(e, '111066'))).toBe(true);
  });

  it('reads every finding back: its kind, rendering intent by the operating point, certainty, centre and outline on its own film', () => {
    const summary = list(root.ContentSequence).find((i) => concept(i) === '111017')!;
    expect(value(summary)).toBe('111242'); // all algorithms succeeded; with findings
    const back = list(summary.ContentSequence).map((impression) => {
      expect(concept(impression)).toBe('111034');
      const f = child(impression, '111059')!;
      const center = child(f, '111010')!;
      const outline = child(f, '111041')!;
      const film = resolve(root, list(center.ContentSequence)[0]!.ReferencedContentItemIdentifier as number[])!;
      expect(resolve(root, list(outline.ContentSequence)[0]!.ReferencedContentItemIdentifier as number[])).toBe(film);
      const g = outline.GraphicData as number[];
      return {
        kind: value(f),
        intent: value(child(f, '111056')!),
        certainty: (list(child(f, '111012')!.MeasuredValueSequence)[0]!.NumericValue as number),
        centre: center.GraphicData,
        outlinePoints: g.length / 2,
        closed: g[0] === g[g.length - 2] && g[1] === g[g.length - 1],
        film: list(film.ReferencedSOPSequence)[0]?.ReferencedSOPInstanceUID,
        algorithm: [child(f, '111001')?.TextValue, child(f, '111003')?.TextValue],
      };
    });
    expect(back).toEqual([
      // In the order of the films.
      { kind: '129793001', intent: '111151', certainty: 21, centre: [200, 90], outlinePoints: 11, closed: true, film: films[0]!.ref.sopInstanceUid, algorithm: ['Test detector', '2.0.0'] },
      { kind: '129793001', intent: '111150', certainty: 82, centre: [120, 150], outlinePoints: 11, closed: true, film: films[1]!.ref.sopInstanceUid, algorithm: ['Test detector', '2.0.0'] },
      { kind: '129769006', intent: '111150', certainty: 55, centre: [60, 200], outlinePoints: 11, closed: true, film: films[3]!.ref.sopInstanceUid, algorithm: ['Test detector', '2.0.0'] },
    ]);
  });

  it('says which detections ran, on which films, and that no analysis was attempted', () => {
    const detections = list(root.ContentSequence).find((i) => concept(i) === '111064')!;
    expect(value(detections)).toBe('111222');
    const performed = list(child(detections, '111063')!.ContentSequence);
    expect(performed.map(value)).toEqual(['129793001', '129769006']);
    for (const d of performed) {
      const films_ = list(d.ContentSequence).filter((c) => c.ReferencedContentItemIdentifier).map((c) => resolve(root, c.ReferencedContentItemIdentifier as number[]));
      expect(films_.map((f) => list(f?.ReferencedSOPSequence)[0]?.ReferencedSOPInstanceUID)).toEqual(films.map((f) => f.ref.sopInstanceUid));
    }
    const analyses = list(root.ContentSequence).find((i) => concept(i) === '111065')!;
    expect(value(analyses)).toBe('111225');
    expect(analyses.ContentSequence).toBeUndefined();
  });

  it('carries each assessed film\'s breast composition (TID 4006/4007), inferred from its breast geometry (TID 4008) on that film', () => {
    const density = (predicted: string, code: string, meaning: string, p: number) => ({
      predicted, rank: 0, probabilities: { [predicted]: p }, code: { CodeValue: code, CodingSchemeDesignator: 'SCT', CodeMeaning: meaning },
      model: { id: 'test-density', version: '1.0.0', name: 'Test density' },
    });
    const outline = [{ x: 0, y: 10 }, { x: 180, y: 40 }, { x: 200, y: 160 }, { x: 170, y: 290 }, { x: 0, y: 310 }];
    const base = result([findings[0]!]);
    const withDensity: StudyResult = {
      ...base,
      images: base.images.map((image, k) => k === 0 ? { ...image, density: density('F', '129716005', 'Almost entirely fat breast composition', 0.91), breastOutline: outline }
        : k === 1 ? { ...image, density: density('D', '129718006', 'Heterogeneously dense breast composition', 0.64) } : image),
    };
    const cad = buildMammographyCadReport({
      sources: films.map((f) => f.header), result: withDensity,
      series: { seriesInstanceUid: '1.2.826.0.1.3680043.10.44', seriesNumber: 9903, instanceNumber: 1, sopInstanceUid: '1.2.826.0.1.3680043.10.44.2' },
      algorithm: { name: 'Test detector', version: '2.0.0', modelId: 'test-detector' }, operatingPoint: 0.3,
    });
    expect(dciodvfy(cad).errors).toEqual([]);
    const text = dsrdump(cad);
    expect(text).toContain('"Breast composition"');
    expect(text).toContain('"Almost entirely fat breast composition"');
    expect(text).toContain('"Breast Outline Including Pectoral Muscle Tissue"');
    const doc = read(cad);
    const summary = list(doc.ContentSequence).find((i) => concept(i) === '111017')!;
    const impressions = list(summary.ContentSequence);
    expect(impressions).toHaveLength(3); // one mark, two assessed films
    const compositions = impressions.slice(1).map((impression) => {
      const sif = list(impression.ContentSequence).filter((c) => concept(c) === '111059');
      const composition = sif.find((c) => value(c) === '129715009')!;
      const source = list(composition.ContentSequence).find((c) => c.RelationshipType === 'INFERRED FROM' && c.ReferencedContentItemIdentifier);
      const geometry = source ? resolve(doc, source.ReferencedContentItemIdentifier as number[])! : undefined;
      const breastOutline = geometry ? child(geometry, '111007') : undefined;
      const film = breastOutline ? resolve(doc, list(breastOutline.ContentSequence)[0]!.ReferencedContentItemIdentifier as number[]) : undefined;
      return {
        findings: sif.map(value),
        composition: value(child(composition, '129715009')!),
        certainty: list(child(composition, '111012')!.MeasuredValueSequence)[0]!.NumericValue,
        algorithm: child(composition, '111001')?.TextValue,
        geometry: geometry ? value(geometry) : undefined,
        outlinePoints: breastOutline ? (breastOutline.GraphicData as number[]).length / 2 : 0,
        film: film ? list(film.ReferencedSOPSequence)[0]?.ReferencedSOPInstanceUID : undefined,
      };
    });
    expect(compositions).toEqual([
      { findings: ['111100', '129715009'], composition: '129716005', certainty: 91, algorithm: 'Test density', geometry: '111100', outlinePoints: 6, film: films[0]!.ref.sopInstanceUid },
      // No outline: the composition alone, naming no geometry.
      { findings: ['129715009'], composition: '129718006', certainty: 64, algorithm: 'Test density', geometry: undefined, outlinePoints: 0, film: undefined },
    ]);
    const detections = list(child(list(doc.ContentSequence).find((i) => concept(i) === '111064')!, '111063')!.ContentSequence);
    expect(detections.map(value)).toEqual(['129793001', '129769006', '111100', '129715009']);
    const filmsOf = (d: Item): unknown[] => list(d.ContentSequence).filter((c) => c.ReferencedContentItemIdentifier).map((c) => list(resolve(doc, c.ReferencedContentItemIdentifier as number[])?.ReferencedSOPSequence)[0]?.ReferencedSOPInstanceUID);
    expect(filmsOf(detections[2]!)).toEqual([films[0]!.ref.sopInstanceUid]);
    expect(filmsOf(detections[3]!)).toEqual([films[0]!.ref.sopInstanceUid, films[1]!.ref.sopInstanceUid]);
    expect(child(detections[3]!, '111001')?.TextValue).toBe('Test density');
  });

  it('a normal exam: all algorithms succeeded without findings, no impression; still clean', () => {
    const normal = build([]);
    expect(dciodvfy(normal).errors).toEqual([]);
    const summary = list(read(normal).ContentSequence).find((i) => concept(i) === '111017')!;
    expect(value(summary)).toBe('111241');
    expect(summary.ContentSequence).toBeUndefined();
    expect(dsrdump(normal)).not.toContain('Single Image Finding');
  });
});
