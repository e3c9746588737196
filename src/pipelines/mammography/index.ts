// The mammography pipeline: each MG image (For Presentation or For Processing) through the
// lesion detector in windows (with the other breast's film of the view, for a model that
// takes a pair), findings per breast, the study scored by its most suspicious image; where a
// density model is installed, each film's breast composition, summarised per breast and exam.
import { SopClass } from '../../dicom/uid';
import { Codes } from '../../domain/codes';
import type { ImageResult } from '../../domain/findings';
import { type ParsedDicom, parseDicom, readImageAttributes } from '../../dicom/read';
import { Tag } from '../../dicom/tags';
import { decodeFrame } from '../../dicom/pixels/decode';
import { toDisplayGray8 } from '../../dicom/pixels/display';
import { SentinelError } from '../../errors/errors';
import { timed } from '../../metrics/metrics';
import type { LoadedModel } from '../../inference/registry';
import { type Companions, type FindingIds, type InstancePipeline } from '../definition';
import { imageRefOf } from '../image-ref';
import { type MammogramFilm, analyzeMammogram, filmAtModelSpacing } from './analyze';
import { classifyDensity, densityInput, summarizeDensity } from './density';
import { summarizeStudy } from './summarize';

// A film's display pixels, decoded once per study even when it is also another film's partner
// or was decoded as it arrived (prepare): found by the bytes the file was parsed from, whichever
// parse of them asks.
const films = new WeakMap<ArrayBufferLike, Map<number, Promise<MammogramFilm>>>();

function filmOf(parsed: ParsedDicom): Promise<MammogramFilm> {
  const bytes = parsed.dataSet.byteArray;
  const inBuffer = films.get(bytes.buffer) ?? new Map<number, Promise<MammogramFilm>>();
  films.set(bytes.buffer, inBuffer);
  let film = inBuffer.get(bytes.byteOffset);
  if (!film) {
    film = (async () => {
      const desc = parsed.pixelDescription();
      const attrs = readImageAttributes(parsed);
      const frame = await decodeFrame(parsed.frames()[0] as Uint8Array, parsed.transferSyntaxUid, desc);
      return { gray8: toDisplayGray8(frame, attrs), rows: desc.rows, columns: desc.columns, pixelSpacingMm: attrs.pixelSpacingMm };
    })();
    inBuffer.set(bytes.byteOffset, film);
  }
  return film;
}

/**
 * A film's work started as soon as its file arrives: decoded, then brought to the detector's
 * spacing and to the density model's input, each kept where the analysis looks for it (about
 * 80 ms a full-field film here, done while the next film is on its way). Whatever fails here is
 * reported where the film is analysed.
 */
function prepare(bytes: Uint8Array, model: LoadedModel, companions: Companions): void {
  try {
    const parsed = parseDicom(bytes);
    if (!parsed.hasPixelData || !(parsed.sopClassUid in mammography.sopClasses) || parsed.pixelDescription().samplesPerPixel !== 1) return;
    // After the caller has asked for the next file, so the PACS sends it while this one decodes.
    setImmediate(() => void filmOf(parsed).then((film) => {
      const target = model.manifest.input.pixelSpacingMm;
      if (target) filmAtModelSpacing(film, target);
      if (companions.density) densityInput({ gray8: film.gray8, width: film.columns, height: film.rows }, companions.density);
    }).catch(() => undefined));
  } catch {
    // Read again, and set aside with its reason, by the analysis.
  }
}

/**
 * The other breast's film of the same view: of the study's gray images with the opposite
 * laterality and the same view, the one of the same size if any, else the first. A film
 * without a known view is paired only when the other breast has a single film.
 */
export function contralateralFilm(parsed: ParsedDicom, study: readonly ParsedDicom[]): ParsedDicom | undefined {
  const own = readImageAttributes(parsed);
  if (!own.laterality) return undefined;
  const other = study.filter((p) => p !== parsed && p.hasPixelData && readImageAttributes(p).laterality === (own.laterality === 'L' ? 'R' : 'L'));
  const sameView = own.view ? other.filter((p) => readImageAttributes(p).view === own.view) : other.length === 1 ? other : [];
  const desc = parsed.pixelDescription();
  return sameView.find((p) => p.pixelDescription().rows === desc.rows && p.pixelDescription().columns === desc.columns) ?? sameView[0];
}

async function partnerFilm(parsed: ParsedDicom, study: readonly ParsedDicom[]): Promise<MammogramFilm | undefined> {
  const partner = contralateralFilm(parsed, study);
  if (!partner || partner.pixelDescription().samplesPerPixel !== 1) return undefined;
  // A partner that cannot be decoded leaves the film on its own (its own failure is reported when it is analysed).
  return filmOf(partner).catch(() => undefined);
}

async function analyseImage(parsed: ParsedDicom, model: LoadedModel, ids: FindingIds, companions: Companions, study: readonly ParsedDicom[]): Promise<ImageResult> {
  const desc = parsed.pixelDescription();
  if (desc.samplesPerPixel !== 1) throw new SentinelError('unsupported', `MG image with ${desc.samplesPerPixel} samples per pixel`);
  const attrs = readImageAttributes(parsed);
  // Skipped rather than analysed without a side: the per-breast scores, the SR's finding site
  // and the ORU's per-breast results all need it, and an image of no breast would raise the
  // study's score without saying where to look. Image Laterality is Type 1 in the MG IOD.
  if (!attrs.laterality) {
    const found = parsed.string(Tag.ImageLaterality) ?? parsed.string(Tag.Laterality);
    throw new SentinelError('bad_request', `the mammogram has no Image Laterality (0020,0062) L or R${found ? ` (it says "${found}")` : ''}: its findings could not be given a breast`);
  }
  const film = await timed('mammography', 'decode', () => filmOf(parsed));
  const result = await analyzeMammogram({
    ref: imageRefOf(parsed),
    gray8: film.gray8,
    pixelSpacingMm: attrs.pixelSpacingMm,
    laterality: attrs.laterality,
    view: attrs.view,
    partner: model.manifest.input.views === 'pair' ? await timed('mammography', 'decode', () => partnerFilm(parsed, study)) : undefined,
  }, model, ids);
  const densityModel = companions.density;
  if (!densityModel) return result;
  return { ...result, density: await timed('mammography', 'density', () => classifyDensity({ gray8: film.gray8, width: film.columns, height: film.rows }, densityModel)) };
}

export const mammography: InstancePipeline<'mammography'> = {
  name: 'mammography',
  label: 'mammography',
  modalities: ['MG'],
  // src/samples writes For Presentation (synthetic and mini-MIAS films); For Processing is read the same way.
  sopClasses: {
    [SopClass.DigitalMammographyForPresentation]: 'Digital Mammography X-Ray Image Storage - For Presentation',
    [SopClass.DigitalMammographyForProcessing]: 'Digital Mammography X-Ray Image Storage - For Processing',
  },
  task: 'mammography-lesion-detection',
  modality: 'MG',
  companions: { density: 'mammography-density' },
  input: 'instances',
  prepare,
  analyseImage,
  summarise: (images, manifest, companions) => {
    const study = summarizeStudy(images, manifest);
    const spec = companions.density?.manifest.outputs.find((o) => o.role === 'class_probabilities');
    const density = spec ? summarizeDensity(images, spec.classes, spec.classCodes) : undefined;
    return density ? { ...study, density } : study;
  },
  reporting: {
    procedure: Codes.mammography,
    oruService: { code: 'SEN-MG-AI', text: 'AI analysis of mammography' },
    cadReport: 'mammography',
  },
};
