// What the input is: a JPEG/PNG image (sharp) or an OpenSlide slide (TIFF probing), its size,
// its pixel size if it says one, and how many levels it already has.
import path from 'node:path';
import sharp, { type Metadata as ImageMetadata } from 'sharp';
import { readTiffInfo } from '../tiff';
import { type DicomizeResult, dicomizeError } from './options';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);

export interface SourceInfo {
  kind: 'image' | 'openslide';
  width: number;
  height: number;
  spacing?: { value: number; source: DicomizeResult['source']['pixelSpacingSource'] };
  /** Levels the source already has (openslide). */
  sourceLevels: number;
}

export async function inspectSource(input: string): Promise<SourceInfo> {
  const ext = path.extname(input).toLowerCase();
  if (IMAGE_EXTENSIONS.has(ext)) {
    let meta: ImageMetadata;
    try {
      meta = await sharp(input).metadata();
    } catch (err) {
      throw dicomizeError(`${input} is not a readable ${ext} image`, err);
    }
    if (!meta.width || !meta.height) throw dicomizeError(`${input}: image size unknown`);
    // A density is only believable as a microscope's when it is finer than 0.1 mm (254 dpi and more).
    const mm = meta.density ? 25.4 / meta.density : undefined;
    return {
      kind: 'image',
      width: meta.width,
      height: meta.height,
      spacing: mm !== undefined && mm < 0.01 ? { value: mm, source: 'image-density' } : undefined,
      sourceLevels: 1,
    };
  }
  const tiff = readTiffInfo(input);
  const first = tiff?.directories[0];
  return {
    kind: 'openslide',
    width: first?.width ?? 0,
    height: first?.height ?? 0,
    spacing: tiff?.pixelSpacingMm,
    sourceLevels: tiff ? tiff.levels.length : 0,
  };
}
