// multipart/related bodies (RFC 2387) as STOW-RS uses them (PS3.18 8.6.1.2): pure parsing of
// a complete request body into its parts. A body without its closing delimiter is a
// truncated upload and is refused whole, so a half-sent instance is never stored.
import { badRequest, unsupported } from '../errors/errors';

export interface MultipartPart {
  headers: Record<string, string>;
  body: Buffer;
}

export interface ContentType {
  mediaType: string;
  params: Record<string, string>;
}

export function parseContentType(header: string | undefined): ContentType {
  if (!header) return { mediaType: '', params: {} };
  const [media = '', ...rest] = header.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const key = p.slice(0, eq).trim().toLowerCase();
    let value = p.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    params[key] = value;
  }
  return { mediaType: media.trim().toLowerCase(), params };
}

/** A part's header block (CRLF-separated lines) as lower-case names to values. */
export function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

export function parseMultipartRelated(body: Buffer, contentType: string | undefined): MultipartPart[] {
  const ct = parseContentType(contentType);
  if (ct.mediaType !== 'multipart/related') throw unsupported(`expected multipart/related, got "${ct.mediaType || 'nothing'}"`);
  const boundary = ct.params.boundary;
  if (!boundary) throw badRequest('multipart/related without a boundary parameter');
  const delimiter = Buffer.from(`--${boundary}`);
  const ending = Buffer.concat([Buffer.from('\r\n'), delimiter]);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw badRequest('multipart body has no boundary delimiter: empty or truncated upload');
  for (;;) {
    const afterDelimiter = pos + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') return parts; // closing delimiter
    const headerStart = body.indexOf('\r\n', afterDelimiter);
    if (headerStart < 0) break;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    if (headerEnd < 0) break;
    const headers = parseHeaders(body.subarray(headerStart + 2, headerEnd).toString('latin1'));
    const start = headerEnd + 4;
    // A part that gives its length (Orthanc's do) ends there when its delimiter is there: a
    // 27 MB mammogram is not searched byte by byte for it (11 ms). Otherwise, or when the length
    // is wrong, the delimiter is searched for.
    const declared = Number(headers['content-length'] ?? NaN);
    const atDeclared = Number.isSafeInteger(declared) && declared >= 0 && body.subarray(start + declared, start + declared + ending.length).equals(ending);
    const next = atDeclared ? start + declared : body.indexOf(ending, start);
    if (next < 0) break;
    parts.push({ headers, body: body.subarray(start, next) });
    pos = next + 2;
  }
  throw badRequest(`truncated upload: the multipart body ends after ${parts.length} complete part(s) without its closing boundary; nothing was stored`);
}

/** Build a multipart/related body (tests and clients). */
export function buildMultipartRelated(parts: Array<{ contentType: string; body: Uint8Array }>, boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${part.contentType}\r\n\r\n`), Buffer.from(part.body), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}
