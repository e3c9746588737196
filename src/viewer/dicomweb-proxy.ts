// The viewer's same-origin DICOMweb: GET and HEAD of DICOMweb resources under /dicom-web are
// passed to the PACS's DICOMweb root with the PACS credentials from the configuration, so the
// browser never holds them and needs no CORS. Read-only by design: nothing from a browser is
// stored.
//
// Only QIDO-RS/WADO-RS resource paths are forwarded, and the upstream path is rebuilt from the
// validated segments, never copied from the browser's URL. The PACS account can read all of
// Orthanc's REST API (/system, /patients, /changes, /tools/...), and Orthanc decodes %2f and
// %5c and collapses `..` itself, so a proxy that merely keeps the URL "under" the DICOMweb root as
// written hands that whole API to anyone holding a viewer token.
//
// Orthanc writes absolute BulkDataURIs naming its own host (DicomWeb.Host, e.g.
// http://127.0.0.1/dicom-web/...), which a browser cannot reach; in DICOM JSON answers they
// are rewritten onto the viewer's origin. Everything else is streamed through untouched.
import http from 'node:http';
import https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import type { NextFunction, Request, Response } from 'express';
import { SentinelError, badRequest, notFound } from '../errors/errors';

export interface PacsDicomweb {
  /** The PACS's DICOMweb root, e.g. http://127.0.0.1:8043/dicom-web */
  root: string;
  username: string;
  password: string;
}

/** Request headers a WADO/QIDO answer depends on; nothing else (cookies, our auth) is passed on. */
const PASSED_REQUEST_HEADERS = ['accept', 'range', 'if-none-match', 'if-modified-since'];
const PASSED_RESPONSE_HEADERS = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'etag', 'last-modified', 'cache-control'];

/**
 * PS3.5 9.1 as far as a path needs it: digit components joined by dots, at most 64 characters.
 * Leading zeros in a component are let through: the standard forbids them, but archives hold
 * such UIDs, and digits cannot change a path.
 */
const UID = /^\d+(\.\d+)*$/;
const UID_MAX = 64;
/** PS3.18 frame list: frame numbers separated by commas. */
const FRAME_LIST = /^\d{1,9}(,\d{1,9})*$/;
/** Orthanc's BulkDataURI tail: (tag/item)* tag, tags as 8 hex digits, items numbered. */
const TAG = /^[0-9a-fA-F]{8}$/;
const ITEM = /^\d{1,9}$/;
const VIEWS = new Set(['metadata', 'rendered', 'thumbnail']);
const LEVELS = ['studies', 'series', 'instances'];
/** What a browser sends in a query: visible ASCII (it percent-encodes the rest), no fragment. */
const QUERY = /^[\x21-\x22\x24-\x7e]*$/;

const notDicomweb = (): SentinelError => notFound('not a DICOMweb resource: the viewer proxies QIDO-RS and WADO-RS under /studies, /series and /instances only');

/** Percent-decoding until nothing changes, so %252e%252e is judged as the `..` it ends up as. */
function decodeSegment(raw: string): string {
  let s = raw;
  // Terminates: every round that changes the string makes it shorter.
  for (;;) {
    let next: string;
    try {
      next = decodeURIComponent(s);
    } catch {
      throw badRequest('a path segment is not valid percent-encoding (or not UTF-8)');
    }
    if (next === s) return s;
    s = next;
  }
}

function checkUid(segment: string | undefined): void {
  if (segment === undefined || segment.length > UID_MAX || !UID.test(segment)) {
    throw badRequest('a path segment where a DICOM UID belongs is not one (digits and dots, at most 64 characters)');
  }
}

/** After /studies/{uid}/series/{uid}/instances/{uid}: frames and Orthanc's bulkdata paths. */
function checkInstanceTail(tail: readonly string[]): void {
  const [kind, ...rest] = tail;
  if (kind === 'frames') {
    if (rest[0] === undefined || !FRAME_LIST.test(rest[0])) throw badRequest('a frame list is frame numbers separated by commas');
    if (rest.length === 1 || (rest.length === 2 && (rest[1] === 'rendered' || rest[1] === 'thumbnail'))) return;
  }
  if (kind === 'bulk' && rest.length % 2 === 1) {
    if (rest.every((s, i) => (i % 2 === 0 ? TAG : ITEM).test(s))) return;
    throw badRequest('a bulkdata path is tags (8 hex digits) and item numbers');
  }
  throw notDicomweb();
}

/** Throws unless `segments` (decoded) name a QIDO-RS search or a WADO-RS resource. */
function checkResource(segments: readonly string[]): void {
  // Top-level QIDO-RS (PS3.18 10.6): no more than /studies exposes, and dicomweb-client uses it.
  if (segments.length === 1 && (segments[0] === 'series' || segments[0] === 'instances')) return;
  let i = 0;
  for (const level of LEVELS) {
    if (segments[i] !== level) break;
    if (i + 1 === segments.length) return; // QIDO-RS search at this level
    checkUid(segments[i + 1]);
    i += 2;
    const next = segments[i];
    if (next === undefined) return; // WADO-RS retrieve of the resource
    const last = i + 1 === segments.length;
    if (last && VIEWS.has(next)) return;
    if (last && level === 'studies' && next === 'instances') return; // a study's instances (QIDO-RS)
    if (level === 'instances') return checkInstanceTail(segments.slice(i));
  }
  throw notDicomweb();
}

/**
 * The request's URL relative to the mount point ("/studies/1.2/series?Modality=MG") as the
 * path segments of a DICOMweb resource and the untouched query, or a 400/404 SentinelError.
 */
export function parseDicomwebUrl(url: string): { segments: string[]; query: string } {
  const mark = url.indexOf('?');
  const path = mark < 0 ? url : url.slice(0, mark);
  const query = mark < 0 ? '' : url.slice(mark + 1);
  // An absolute-form request target ("http://host/...") arrives here without a leading slash.
  if (!path.startsWith('/')) throw badRequest('a DICOMweb path starts with /');
  // Orthanc 1.10 reads a backslash as a separator (/dicom-web/..%5csystem answers /system);
  // no DICOMweb path has one.
  if (path.includes('\\')) throw badRequest('a backslash is not part of any DICOMweb path');
  const segments = path.slice(1).split('/').map(decodeSegment);
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') throw badRequest('empty and dot segments are not part of any DICOMweb path');
    if (/[/\\%\0]/.test(s)) throw badRequest('a path segment hides a separator, a percent sign or NUL in its encoding');
  }
  checkResource(segments);
  if (!QUERY.test(query)) throw badRequest('the query holds characters a browser would have percent-encoded');
  return { segments, query };
}

/**
 * Point every absolute BulkDataURI that names a `/studies/` resource at `base` (the viewer's
 * DICOMweb root), whatever host and root the PACS wrote.
 */
export function rewriteBulkDataUris(json: string, base: string): string {
  return json.replace(/("BulkDataURI"\s*:\s*")https?:\/\/[^"]*?\/(studies\/[^"]*")/g, (_m, head: string, tail: string) => `${head}${base}/${tail}`);
}

/**
 * PS3.18 lets one includefield list several attributes separated by commas, and OHIF asks
 * its study list that way (includefield=00081030,00080060); Orthanc 1.10's DICOMweb plugin
 * reads a lone value only and drops such a list, so every study showed "No Description".
 * Each listed attribute becomes its own includefield parameter, which Orthanc reads; every
 * other parameter goes on as written.
 */
export function splitIncludeFields(query: string): string {
  if (query === '') return query;
  return query.split('&').flatMap((param) => {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).toLowerCase() !== 'includefield') return [param];
    const values = param.slice(eq + 1).split(/,|%2C/i).filter((v) => v !== '');
    return values.length ? values.map((v) => `${param.slice(0, eq)}=${v}`) : [param];
  }).join('&');
}

export function dicomwebProxy(pacs: PacsDicomweb, mountPath: string) {
  const root = new URL(pacs.root.endsWith('/') ? pacs.root : `${pacs.root}/`);
  const authorization = `Basic ${Buffer.from(`${pacs.username}:${pacs.password}`).toString('base64')}`;
  const client = root.protocol === 'https:' ? https : http;

  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      res.status(405).type('text/plain').send('the viewer reads the PACS; it does not write into it\n');
      return;
    }
    let resource: { segments: string[]; query: string };
    try {
      resource = parseDicomwebUrl(req.url);
    } catch (err) {
      if (!(err instanceof SentinelError)) return next(err);
      res.status(err.status).type('text/plain').send(`${err.message}\n`);
      return;
    }
    // The segments passed the grammar above (digits, dots, commas, hex, fixed words), so they
    // need no encoding; the query goes on as the browser wrote it, includefield lists split.
    const query = splitIncludeFields(resource.query);
    const path = `${root.pathname}${resource.segments.join('/')}${query === '' ? '' : `?${query}`}`;
    const headers: http.OutgoingHttpHeaders = { authorization };
    for (const h of PASSED_REQUEST_HEADERS) if (req.headers[h] !== undefined) headers[h] = req.headers[h];
    const upstream = client.request({ ...urlToHttpOptions(root), path, method: req.method, headers }, (answer) => {
      res.status(answer.statusCode ?? 502);
      const type = String(answer.headers['content-type'] ?? '');
      if (/^application\/(dicom\+)?json/i.test(type)) {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const base = `${req.protocol}://${req.get('host') ?? 'localhost'}${mountPath}`;
          res.type(type).send(rewriteBulkDataUris(Buffer.concat(chunks).toString('utf8'), base));
        });
        answer.on('error', next);
        return;
      }
      for (const h of PASSED_RESPONSE_HEADERS) if (answer.headers[h] !== undefined) res.setHeader(h, answer.headers[h] as string);
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      if (res.headersSent) res.destroy(err);
      else res.status(502).type('text/plain').send(`the PACS did not answer: ${err.message}\n`);
    });
    // The browser gave up (a scrolled-away thumbnail, a closed tab): stop reading the PACS too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end();
  };
}
