// The viewer's same-origin DICOMweb: GET and HEAD under /dicom-web are passed to the PACS's
// DICOMweb root with the PACS credentials from the configuration, so the browser never
// holds them and needs no CORS. Read-only by design: nothing from a browser is stored.
//
// Orthanc writes absolute BulkDataURIs naming its own host (DicomWeb.Host, e.g.
// http://127.0.0.1/dicom-web/...), which a browser cannot reach; in DICOM JSON answers they
// are rewritten onto the viewer's origin. Everything else is streamed through untouched.
import http from 'node:http';
import https from 'node:https';
import type { NextFunction, Request, Response } from 'express';

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
 * Point every absolute BulkDataURI that names a `/studies/` resource at `base` (the viewer's
 * DICOMweb root), whatever host and root the PACS wrote.
 */
export function rewriteBulkDataUris(json: string, base: string): string {
  return json.replace(/("BulkDataURI"\s*:\s*")https?:\/\/[^"]*?\/(studies\/[^"]*")/g, (_m, head: string, tail: string) => `${head}${base}/${tail}`);
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
    // req.url is relative to the mount point: "/studies?..." or "/studies/1.2/series".
    const target = new URL(req.url.replace(/^\/+/, ''), root);
    if (!target.href.startsWith(root.href)) {
      res.status(400).type('text/plain').send('bad DICOMweb path\n');
      return;
    }
    const headers: http.OutgoingHttpHeaders = { authorization };
    for (const h of PASSED_REQUEST_HEADERS) if (req.headers[h] !== undefined) headers[h] = req.headers[h];
    const upstream = client.request(target, { method: req.method, headers }, (answer) => {
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
