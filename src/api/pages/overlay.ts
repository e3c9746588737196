// A study image with Sentinel's findings drawn over it, as a PNG for the study page: the real
// pixels from the PACS (decoded and windowed as the pipelines read them), the outlines from
// the database, composed by sharp, at most `maxWidth` wide; and a slide, as a thumbnail with
// its probability map and regions over it.
import sharp, { type Sharp } from 'sharp';
import { parseDicom, readImageAttributes } from '../../dicom/read';
import { decodeFrame } from '../../dicom/pixels/decode';
import { toDisplayGray8, toRgb8 } from '../../dicom/pixels/display';
import type { DicomwebClient } from '../../dicomweb/client';
import { type FindingOutline, findingsSvg } from '../../reports/svg/findings';
import { SentinelError } from '../../errors/errors';
import type { MapPreview } from '../../domain/findings';
import type { SlideSource } from '../../pipelines/wsi/analyze-slide';

export async function overlayPng(dicomweb: DicomwebClient, study: string, series: string, sop: string, findings: readonly FindingOutline[], maxWidth = 1024): Promise<Buffer> {
  const parsed = parseDicom(await dicomweb.retrieveInstance(study, series, sop));
  if (!parsed.hasPixelData) throw new SentinelError('bad_request', `image ${sop} has no pixel data`);
  const desc = parsed.pixelDescription();
  const frame = await decodeFrame(parsed.frames()[0] as Uint8Array, parsed.transferSyntaxUid, desc);
  const { columns, rows } = desc;
  const base = desc.samplesPerPixel === 3
    ? sharp(Buffer.from(toRgb8(frame)), { raw: { width: columns, height: rows, channels: 3 } })
    : sharp(Buffer.from(toDisplayGray8(frame, readImageAttributes(parsed))), { raw: { width: columns, height: rows, channels: 1 } });
  // Strokes scale with the image: about 3 pixels once shrunk to maxWidth.
  const stroke = Math.max(2, Math.round((3 * columns) / Math.min(columns, maxWidth)));
  const svg = findingsSvg(findings, columns, rows).replace('stroke-width="2" vector-effect="non-scaling-stroke"', `stroke-width="${stroke}"`);
  const composed = await base.png().composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).toBuffer();
  return columns > maxWidth ? sharp(composed).resize({ width: maxWidth }).png().toBuffer() : composed;
}

/** The most tiles read for a slide's thumbnail (its coarsest level); a slide whose coarsest level has more is drawn on white. */
const MAX_THUMBNAIL_TILES = 256;

/**
 * A slide for the study page: its coarsest level from the PACS, at most `maxWidth` wide, with
 * the analysis's probability map laid over it (red, more opaque where more probable; nothing
 * where no tissue was analysed or the probability is below `from`) and its regions outlined.
 * `analysed` is the size of the level the map and outlines were made at. Without a preview
 * (or findings), the slide alone.
 */
export async function slidePng(source: SlideSource, analysed: { columns: number; rows: number }, preview: MapPreview | undefined, findings: readonly FindingOutline[], maxWidth = 1024, from = 0.2): Promise<Buffer> {
  const index = source.levels.length - 1;
  const level = source.levels[index];
  if (!level) throw new SentinelError('bad_request', 'the slide has no image level');
  const scale = Math.min(1, maxWidth / analysed.columns);
  const width = Math.max(1, Math.round(analysed.columns * scale));
  const height = Math.max(1, Math.round(analysed.rows * scale));
  const gridColumns = Math.ceil(level.totalPixelMatrixColumns / level.tileColumns);
  const gridRows = Math.ceil(level.totalPixelMatrixRows / level.tileRows);
  let base: Sharp;
  if (gridColumns * gridRows <= MAX_THUMBNAIL_TILES) {
    const positions = Array.from({ length: gridColumns * gridRows }, (_, k) => ({ row: Math.floor(k / gridColumns), column: k % gridColumns }));
    const tiles = await source.readTiles(index, positions);
    const rgb = Buffer.alloc(level.totalPixelMatrixColumns * level.totalPixelMatrixRows * 3, 255);
    tiles.forEach((tile, k) => {
      if (!tile) return;
      const { row, column } = positions[k] as { row: number; column: number };
      for (let y = 0; y < level.tileRows; y++) {
        const py = row * level.tileRows + y;
        if (py >= level.totalPixelMatrixRows) break;
        const cols = Math.min(level.tileColumns, level.totalPixelMatrixColumns - column * level.tileColumns);
        rgb.set(tile.subarray(y * level.tileColumns * 3, (y * level.tileColumns + cols) * 3), (py * level.totalPixelMatrixColumns + column * level.tileColumns) * 3);
      }
    });
    base = sharp(rgb, { raw: { width: level.totalPixelMatrixColumns, height: level.totalPixelMatrixRows, channels: 3 } }).resize(width, height, { fit: 'fill' });
  } else {
    base = sharp({ create: { width, height, channels: 3, background: '#ffffff' } });
  }
  if (!preview) return base.png().toBuffer();
  // The map as RGBA, one pixel per cell, then stretched over the cells' extent on the slide.
  const p = Buffer.from(preview.probability, 'base64');
  const rgba = Buffer.alloc(preview.columns * preview.rows * 4);
  for (let k = 0; k < p.length; k++) {
    const v = (p[k] as number) / 254;
    if (p[k] === 255 || v < from) continue;
    rgba[k * 4] = 230; rgba[k * 4 + 1] = 20; rgba[k * 4 + 2] = 20;
    rgba[k * 4 + 3] = Math.round(60 + 160 * ((v - from) / (1 - from)));
  }
  const mapWidth = Math.max(1, Math.round(preview.columns * preview.cellPx * scale));
  const mapHeight = Math.max(1, Math.round(preview.rows * preview.cellPx * scale));
  const map = await sharp(rgba, { raw: { width: preview.columns, height: preview.rows, channels: 4 } })
    .resize(mapWidth, mapHeight, { kernel: 'nearest', fit: 'fill' })
    .extract({ left: 0, top: 0, width: Math.min(width, mapWidth), height: Math.min(height, mapHeight) })
    .png().toBuffer();
  const outlines = findingsSvg(findings, analysed.columns, analysed.rows)
    .replace(`width="${analysed.columns}" height="${analysed.rows}"`, `width="${width}" height="${height}"`)
    .replace('stroke="#ffd400" stroke-width="2"', 'stroke="#1f3a5f" stroke-width="2"');
  return base.composite([{ input: map, top: 0, left: 0 }, { input: Buffer.from(outlines), top: 0, left: 0 }]).png().toBuffer();
}
