// A study image with Sentinel's findings drawn over it, as a PNG for the study page: the real
// pixels from the PACS (decoded and windowed as the pipelines read them), the outlines from
// the database, composed by sharp, at most `maxWidth` wide.
import sharp from 'sharp';
import { parseDicom, readImageAttributes } from '../../dicom/read';
import { decodeFrame } from '../../dicom/pixels/decode';
import { toDisplayGray8, toRgb8 } from '../../dicom/pixels/display';
import type { DicomwebClient } from '../../dicomweb/client';
import { type FindingOutline, findingsSvg } from '../../reports/svg/findings';
import { SentinelError } from '../../errors/errors';

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
