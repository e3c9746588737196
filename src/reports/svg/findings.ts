// Findings as SVG, in the pixels of the image they lie on: a path per outline, for any app or
// page that lays them over the image (the inference API, GET /studies/{uid}/findings.svg,
// the web app's study page).
import type { Point } from '../../domain/findings';

/** An SVG path (M, L..., Z) of a closed polygon, coordinates to 0.01 pixel. */
export function svgPath(points: readonly Point[]): string {
  if (points.length === 0) return '';
  const r = (v: number): string => String(Math.round(v * 100) / 100);
  return `M${points.map((p) => `${r(p.x)},${r(p.y)}`).join(' L')} Z`;
}

const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);

/** What an outline needs of a finding. */
export interface FindingOutline {
  trackingId: string;
  type: string;
  score: number;
  examScore: number | null;
  contour: Point[];
}

/** The SVG of findings on one image of columns x rows pixels. */
export function findingsSvg(findings: ReadonlyArray<FindingOutline>, columns: number, rows: number): string {
  const paths = findings.map((f) => {
    const title = `${f.trackingId}: ${f.type}, AI score ${f.score.toFixed(3)}${f.examScore !== null ? `, exam score ${f.examScore}/10` : ''}`;
    return `  <path class="finding ${escapeXml(f.type)}" data-finding="${escapeXml(f.trackingId)}" data-type="${escapeXml(f.type)}" data-score="${f.score}"${f.examScore !== null ? ` data-exam-score="${f.examScore}"` : ''} d="${svgPath(f.contour)}"><title>${escapeXml(title)}</title></path>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${columns}" height="${rows}" viewBox="0 0 ${columns} ${rows}">`,
    '  <desc>Sentinel AI findings (research use only). Coordinates are image pixels.</desc>',
    '  <g fill="none" stroke="#ffd400" stroke-width="2" vector-effect="non-scaling-stroke">',
    ...paths.map((p) => `  ${p}`),
    '  </g>',
    '</svg>',
    '',
  ].join('\n');
}
