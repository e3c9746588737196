// SEG and SR writers: real bytes, read back by dcmjs and dcmtk, judged by dciodvfy.
import dcmjs from 'dcmjs';
import { mammography } from '../../../src/pipelines/mammography';
import { parseDicom } from '../../../src/dicom/read';
import { decodeFrame } from '../../../src/dicom/pixels/decode';
import { readNaturalizedHeader } from '../../../src/dicom/part10';
import type { Finding, ImageRef, StudyResult } from '../../../src/domain/findings';
import { buildImageSeg } from '../../../src/reports/seg/image';
import { rasterizePolygon } from '../../../src/reports/seg/raster';
import { OHIF_TRACKING_IDENTIFIER, buildTid1500Report } from '../../../src/reports/sr/tid1500';
import { buildSyntheticMammogram } from '../../../src/samples/mammogram';
import { dciodvfy, dcmdump, dsrdump } from '../../support/dicom-judges';

const study = { studyInstanceUid: '1.2.826.0.1.3680043.10.1', accessionNumber: 'ACC-42', patientId: 'PID-7', patientName: "O'Neil^Mary^J" };
// A name longer than LO's 64 characters, as a manifest may give: the writers must cut it to fit.
const algorithm = { name: 'Sentinel test detector whose manifest name is longer than sixty-four characters', version: '0.0.1', modelId: 'sentinel-test-blob' };

function source(columns: number): { bytes: Buffer; header: Record<string, unknown>; ref: ImageRef } {
  const bytes = buildSyntheticMammogram(study, { laterality: 'L', view: 'MLO', sopInstanceUid: `1.2.826.0.1.3680043.10.1.${columns}`, seriesInstanceUid: '1.2.826.0.1.3680043.10.2' }, { rows: 300, columns, spacingMm: 0.5 });
  const header = readNaturalizedHeader(bytes);
  return {
    bytes, header,
    ref: { studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: '1.2.826.0.1.3680043.10.2', sopInstanceUid: String(header.SOPInstanceUID), sopClassUid: String(header.SOPClassUID), rows: 300, columns },
  };
}

function finding(ref: ImageRef, id: number, type: Finding['type'], cx: number, cy: number): Finding {
  const contour = Array.from({ length: 12 }, (_, k) => ({ x: cx + 20 * Math.cos((k * Math.PI) / 6), y: cy + 20 * Math.sin((k * Math.PI) / 6) }));
  return { trackingId: `F${id}`, trackingUid: `1.2.826.0.1.3680043.10.9.${id}`, type, score: 0.5 + id / 10, image: ref, centre: { x: cx, y: cy }, contour, box: { x: cx - 20, y: cy - 20, width: 40, height: 40 }, areaMm2: 300 };
}

const series = { seriesInstanceUid: '1.2.826.0.1.3680043.10.3', seriesNumber: 9901, instanceNumber: 1, sopInstanceUid: '1.2.826.0.1.3680043.10.3.1' };

describe('mammography SEG', () => {
  it('writes one segment and one frame per finding, each frame the filled contour, clean by dciodvfy', async () => {
    const src = source(256);
    const findings = [finding(src.ref, 1, 'mass', 80, 100), finding(src.ref, 2, 'calcification', 160, 200)];
    const seg = buildImageSeg({ source: src.header, image: { image: src.ref, laterality: 'L', view: 'MLO', score: 0.7, findings }, series, algorithm }) as Buffer;
    expect(dciodvfy(seg).errors).toEqual([]);
    expect(dcmdump(seg)).toContain('SegmentationStorage');

    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(seg.buffer.slice(seg.byteOffset, seg.byteOffset + seg.length) as ArrayBuffer).dict);
    expect(ds.SegmentationType).toBe('BINARY');
    const segments = ds.SegmentSequence as Array<Record<string, unknown>>;
    expect(segments.map((s) => s.TrackingUID)).toEqual(findings.map((f) => f.trackingUid));
    expect((segments[1]?.SegmentedPropertyTypeCodeSequence as Record<string, unknown>).CodeMeaning ?? (segments[1]?.SegmentedPropertyTypeCodeSequence as Array<Record<string, unknown>>)[0]?.CodeMeaning).toBe('Calcification Cluster');
    expect(ds.ReferencedSeriesSequence).toBeDefined();
    expect(ds.PatientID).toBe('PID-7');

    // Pixel data read back by our own reader equals the rasterised contours, frame by frame.
    const parsed = parseDicom(seg);
    expect(parsed.numberOfFrames).toBe(2);
    const packed = parsed.frames();
    const all = await decodeFrame(parsed.dataSet.byteArray.subarray(parsed.dataSet.elements.x7fe00010!.dataOffset, parsed.dataSet.elements.x7fe00010!.dataOffset + parsed.dataSet.elements.x7fe00010!.length), parsed.transferSyntaxUid, { ...parsed.pixelDescription(), rows: 300 * 2, columns: 256 });
    expect(packed).toHaveLength(2);
    findings.forEach((f, i) => {
      const expected = rasterizePolygon(f.contour, 300, 256);
      const got = all.data.subarray(i * 300 * 256, (i + 1) * 300 * 256);
      expect(Array.from(got)).toEqual(Array.from(expected));
      expect(expected.reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);
    });
  });

  it('Orthanc 1.10 quirk: it cannot serve 1-bit frames whose Columns are not a multiple of 8, so such a SEG is FRACTIONAL; still clean', () => {
    const src = source(250);
    const seg = buildImageSeg({ source: src.header, image: { image: src.ref, laterality: 'L', score: 0.7, findings: [finding(src.ref, 1, 'mass', 80, 100)] }, series, algorithm }) as Buffer;
    expect(dciodvfy(seg).errors).toEqual([]);
    expect(dcmdump(seg)).toMatch(/SegmentationType.*FRACTIONAL|\(0062,0001\) CS \[FRACTIONAL\]/);
  });

  it('writes no SEG for an image without findings', () => {
    const src = source(256);
    expect(buildImageSeg({ source: src.header, image: { image: src.ref, score: 0.1, findings: [] }, series, algorithm })).toBeUndefined();
  });
});

describe('TID 1500 SR', () => {
  function result(findings: Finding[], ref: ImageRef): StudyResult {
    return { studyInstanceUid: study.studyInstanceUid, pipeline: 'mammography', model: { id: 'sentinel-test-blob', version: '0.0.1', name: 'test' }, score: 0.9, category: 'high', breasts: { L: { score: 0.9, category: 'high' } }, images: [{ image: ref, laterality: 'L', view: 'MLO', score: 0.9, findings }] };
  }

  it('OHIF 3.13 quirk: its SR reader lists a measurement only when the first measured value is INFERRED FROM the outline SCOORD; one group per finding, linked by tracking UID', () => {
    const src = source(256);
    const findings = [finding(src.ref, 1, 'mass', 80, 100), finding(src.ref, 2, 'calcification', 160, 200)];
    const sr = buildTid1500Report({ sources: [src.header], result: result(findings, src.ref), series, algorithm, reporting: mammography.reporting });
    expect(dciodvfy(sr).errors).toEqual([]);
    const text = dsrdump(sr);
    expect(text).toContain('Imaging Measurement Report');
    expect(text.match(/Measurement Group/g)).toHaveLength(2);
    for (const f of findings) expect(text).toContain(f.trackingUid);
    expect(text).toContain('Calcification Cluster');
    expect(text).toMatch(/AI suspicion score"\)="0\.6"[\s\S]*inferred from SCOORD:=\(POLYLINE/);
    expect(text).toContain('(HIGH,99SENTINEL,"High suspicion")');

    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(sr.buffer.slice(sr.byteOffset, sr.byteOffset + sr.length) as ArrayBuffer).dict);
    expect(JSON.stringify(ds.ContentSequence)).toContain(OHIF_TRACKING_IDENTIFIER);
  });

  it('a normal exam: each image gets a "No AI finding" group over the whole image with its score and a comment (OHIF 3.13 quirk: its SR viewport fails on an SR without any measurement); what was not analysed is listed', () => {
    const src = source(256);
    const sr = buildTid1500Report({
      sources: [src.header], result: { ...result([], src.ref), score: 0.05, category: 'low' }, series, algorithm, reporting: mammography.reporting,
      outlineImagesWithoutFindings: true, skipped: [{ sopInstanceUid: '1.2.3.4', reason: 'the pixel data is truncated' }],
    });
    expect(dciodvfy(sr).errors).toEqual([]);
    const text = dsrdump(sr);
    expect(text.match(/Measurement Group/g)).toHaveLength(1);
    expect(text).toContain('(NOAIFINDING,99SENTINEL,"No AI finding")');
    // The outline is the image's border: (0,0), (256,0), (256,300), (0,300), closed.
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(sr.buffer.slice(sr.byteOffset, sr.byteOffset + sr.length) as ArrayBuffer).dict);
    expect(JSON.stringify(ds.ContentSequence)).toContain('"GraphicData":[0,0,256,0,256,300,0,300,0,0]');
    // (dsrdump cuts long text; the dataset has it whole.)
    expect(JSON.stringify(ds.ContentSequence)).toContain('"TextValue":"No AI finding on this image: AI score 0.9"');
    expect(text).toContain('"Not analysed by AI")=');
    expect(JSON.stringify(ds.ContentSequence)).toContain('"TextValue":"image 1.2.3.4: the pixel data is truncated"');
    expect(ds.SeriesDescription).toBe('Sentinel AI (research use): no findings, 1 file not analysed');
    // The same report written again has the same tracking UIDs.
    const again = buildTid1500Report({
      sources: [src.header], result: { ...result([], src.ref), score: 0.05, category: 'low' }, series, algorithm, reporting: mammography.reporting, outlineImagesWithoutFindings: true,
    });
    const uids = (t: string): string[] => [...t.matchAll(/"Tracking Unique Identifier"\)="([0-9.]+)"/g)].map((m) => m[1] as string);
    expect(uids(dsrdump(again))).toEqual(uids(text));
  });

  it('is valid with no findings (study score and category only)', () => {
    const src = source(256);
    const sr = buildTid1500Report({ sources: [src.header], result: { ...result([], src.ref), score: 0.05, category: 'low' }, series, algorithm, reporting: mammography.reporting });
    expect(dciodvfy(sr).errors).toEqual([]);
    expect(dsrdump(sr)).not.toContain('Measurement Group');
  });
});

describe('sample mammograms', () => {
  it('are valid MG For Presentation images without VOI LUT Function', () => {
    const src = source(256);
    expect(dciodvfy(src.bytes).errors).toEqual([]);
    expect(dcmdump(src.bytes)).not.toContain('VOILUTFunction');
  });
});

describe('IHE AI Results: the equipment block of every SEG and SR', () => {
  const equipmentOf = (bytes: Buffer): Record<string, unknown> => {
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer).dict);
    const seq = ds.ContributingEquipmentSequence as Record<string, unknown> | Array<Record<string, unknown>>;
    return Array.isArray(seq) ? seq[0] as Record<string, unknown> : seq;
  };
  const purposeOf = (item: Record<string, unknown>): Record<string, unknown> => {
    const p = item.PurposeOfReferenceCodeSequence as Record<string, unknown> | Array<Record<string, unknown>>;
    return (Array.isArray(p) ? p[0] : p) as Record<string, unknown>;
  };

  it('names the processing algorithm (99IHE 1630) with manufacturer, model, version and a device UID that changes with the model version; clean by dciodvfy', () => {
    const src = source(256);
    const findings = [finding(src.ref, 1, 'mass', 80, 100)];
    const result = (version: string): { seg: Buffer; sr: Buffer } => {
      const algo = { ...algorithm, version };
      const seg = buildImageSeg({ source: src.header, image: { image: src.ref, laterality: 'L', view: 'MLO', score: 0.7, findings }, series, algorithm: algo }) as Buffer;
      const sr = buildTid1500Report({ sources: [src.header], result: { studyInstanceUid: study.studyInstanceUid, pipeline: 'mammography', model: { id: algo.modelId, version, name: algo.name }, score: 0.7, category: 'high', breasts: {}, images: [{ image: src.ref, laterality: 'L', score: 0.7, findings }] }, series, algorithm: algo, reporting: mammography.reporting });
      return { seg, sr };
    };
    const v1 = result('1.0.0');
    const v2 = result('1.1.0');
    for (const bytes of [v1.seg, v1.sr]) {
      expect(dciodvfy(bytes).errors).toEqual([]);
      const item = equipmentOf(bytes);
      expect(purposeOf(item)).toMatchObject({ CodeValue: '1630', CodingSchemeDesignator: '99IHE', CodeMeaning: 'Processing Algorithm' });
      expect(item).toMatchObject({ Manufacturer: 'Sentinel', ManufacturerModelName: 'sentinel-test-blob', SoftwareVersions: 'sentinel-test-blob 1.0.0' });
      expect(String(item.DeviceUID)).toMatch(/^2\.25\.\d+$/);
      expect(dcmdump(bytes)).toContain('ContributingEquipmentSequence');
    }
    // One model version, one device UID in both objects; another version, another UID.
    expect(equipmentOf(v1.seg).DeviceUID).toBe(equipmentOf(v1.sr).DeviceUID);
    expect(equipmentOf(v2.seg).DeviceUID).not.toBe(equipmentOf(v1.seg).DeviceUID);
  });
});
