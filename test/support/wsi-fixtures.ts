// DICOM JSON of whole-slide instances built by hand, for geometry cases the real files do not
// cover (several optical paths and focal planes, concatenations, sparse tiles, labels), and a
// local stand-in for DICOMweb frame retrieval reading Part 10 files.
import fs from 'node:fs';
import type { DicomJson } from '../../src/dicom/json';
import { parseDicom } from '../../src/dicom/read';
import { SopClass } from '../../src/dicom/uid';
import { part10ToDicomJson } from '../../src/dicom/part10';
import type { FrameSource } from '../../src/wsi/tiles';

const el = (vr: string, ...value: unknown[]): DicomJson[string] => ({ vr, Value: value });
const seq = (...items: DicomJson[]): DicomJson[string] => ({ vr: 'SQ', Value: items });

export interface InstanceSpec {
  sop: string;
  series?: string;
  frameOfReference?: string;
  imageType?: string[];
  totalColumns: number;
  totalRows: number;
  tileSize: number;
  frames: number;
  spacingMm: number;
  organization?: 'TILED_FULL' | 'TILED_SPARSE';
  opticalPaths?: string[];
  focalPlanes?: number;
  instanceNumber?: number;
  concatenation?: { uid: string; number: number; offset: number };
  /** TILED_SPARSE: 1-based column/row position of each frame's top left pixel. */
  positions?: Array<{ column: number; row: number; opticalPath?: string; z?: number }>;
  origin?: { x: number; y: number };
}

export function wsiInstance(s: InstanceSpec): DicomJson {
  const ds: DicomJson = {
    '00080008': el('CS', ...(s.imageType ?? ['ORIGINAL', 'PRIMARY', 'VOLUME', 'NONE'])),
    '00080016': el('UI', SopClass.VLWholeSlideMicroscopyImage),
    '00080018': el('UI', s.sop),
    '0020000D': el('UI', '2.25.1'),
    '0020000E': el('UI', s.series ?? '2.25.2'),
    '00200013': el('IS', s.instanceNumber ?? 1),
    '00200052': el('UI', s.frameOfReference ?? '2.25.3'),
    '00280002': el('US', 3),
    '00280004': el('CS', 'RGB'),
    '00280008': el('IS', s.frames),
    '00280010': el('US', s.tileSize),
    '00280011': el('US', s.tileSize),
    '00280100': el('US', 8),
    '00280101': el('US', 8),
    '00400512': el('LO', 'SLIDE-1'),
    '00400560': seq({ '00400551': el('LO', 'SPECIMEN-1'), '00400554': el('UI', '2.25.4') }),
    '00480006': el('UL', s.totalColumns),
    '00480007': el('UL', s.totalRows),
    '00480008': seq({ '0040072A': el('DS', s.origin?.x ?? 20), '0040073A': el('DS', s.origin?.y ?? 40) }),
    '00480102': el('DS', 0, -1, 0, -1, 0, 0),
    '00480105': seq(...(s.opticalPaths ?? ['1']).map((id) => ({ '00480106': el('SH', id) }))),
    '00480302': el('UL', (s.opticalPaths ?? ['1']).length),
    '00480303': el('UL', s.focalPlanes ?? 1),
    '52009229': seq({ '00289110': seq({ '00280030': el('DS', s.spacingMm, s.spacingMm) }) }),
  };
  if (s.organization) ds['00209311'] = el('CS', s.organization);
  if (s.concatenation) {
    ds['00209161'] = el('UI', s.concatenation.uid);
    ds['00209162'] = el('US', s.concatenation.number);
    ds['00209228'] = el('UL', s.concatenation.offset);
  }
  if (s.positions) {
    ds['52009230'] = seq(...s.positions.map((p) => ({
      '0048021A': seq({ '0048021E': el('SL', p.column), '0048021F': el('SL', p.row), '0040074A': el('DS', p.z ?? 0) }),
      ...(p.opticalPath ? { '00480207': seq({ '00480106': el('SH', p.opticalPath) }) } : {}),
    })));
  }
  return ds;
}

/** Header of each Part 10 file as DICOM JSON, and a FrameSource serving their frames as a DICOMweb server would. */
export function localSlide(files: string[], opts: { dropTransferSyntax?: boolean } = {}): { metadata: DicomJson[]; source: FrameSource & { requests: number[][] } } {
  const frames = new Map<string, Uint8Array[]>();
  const metadata = files.map((f) => {
    const bytes = fs.readFileSync(f);
    const json = part10ToDicomJson(bytes);
    if (opts.dropTransferSyntax) delete json['00020010'];
    const parsed = parseDicom(bytes);
    frames.set(parsed.sopInstanceUid, parsed.frames());
    return json;
  });
  const requests: number[][] = [];
  const source = {
    requests,
    retrieveFrames(_study: string, _series: string, sop: string, frameNumbers: number[]): Promise<Uint8Array[]> {
      requests.push(frameNumbers);
      const all = frames.get(sop);
      if (!all) return Promise.reject(new Error(`no instance ${sop}`));
      return Promise.resolve(frameNumbers.map((n) => {
        const f = all[n - 1];
        if (!f) throw new Error(`no frame ${n} in ${sop}`);
        return f;
      }));
    },
  };
  return { metadata, source };
}
