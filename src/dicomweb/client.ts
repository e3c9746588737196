// The one way Sentinel talks DICOMweb to a PACS (the bundled Orthanc or any other):
// a typed facade over dicomweb-client, whose XMLHttpRequest is provided by xhr2 on Node.
// Transport failures become SentinelErrors that say whether a retry may succeed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { api } from 'dicomweb-client';
import XHR2 from 'xhr2';
import { type DicomJson, num, str } from '../dicom/json';
import { Tag } from '../dicom/tags';
import { SentinelError, unavailable } from '../errors/errors';
import { parseMultipartRelated } from './multipart';

// dicomweb-client creates `new XMLHttpRequest()` itself; Node 20 has none.
(globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest ??= XHR2;

/** An answer announcing more than this is read in chunks, not into a buffer allocated up front. */
const PREALLOCATE_MAX = 1 << 30;


export interface DicomwebTarget {
  /** Base URL of the DICOMweb service, e.g. http://127.0.0.1:8043/dicom-web */
  url: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
}

export interface SeriesSummary {
  seriesInstanceUid: string;
  modality: string;
  seriesDescription?: string;
  numberOfInstances?: number;
}

interface XhrLike {
  timeout: number;
}

interface RawClient {
  searchForSeries(o: object): Promise<DicomJson[]>;
  searchForInstances(o: object): Promise<DicomJson[]>;
  retrieveStudyMetadata(o: object): Promise<DicomJson[]>;
  retrieveSeriesMetadata(o: object): Promise<DicomJson[]>;
  storeInstances(o: object): Promise<unknown>;
}

function translate(err: unknown, what: string): SentinelError {
  const status = (err as { status?: number }).status ?? 0;
  if (status === 0) return unavailable(`${what}: DICOMweb server unreachable or timed out`, err);
  if (status >= 500 || status === 429) return unavailable(`${what}: DICOMweb server answered HTTP ${status}`, err);
  if (status === 404) return new SentinelError('not_found', `${what}: not found (HTTP 404)`);
  return new SentinelError('bad_request', `${what}: DICOMweb server refused it (HTTP ${status})`);
}

export class DicomwebClient {
  private readonly raw: RawClient;
  private readonly authHeader: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(readonly target: DicomwebTarget) {
    const timeoutMs = target.timeoutMs ?? 120_000;
    const auth: Record<string, string> = target.username !== undefined
      ? { Authorization: `Basic ${Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64')}` }
      : {};
    this.authHeader = auth;
    this.timeoutMs = timeoutMs;
    this.raw = new api.DICOMwebClient({
      url: target.url,
      headers: auth,
      verbose: false,
      singlepart: false,
      requestHooks: [(request: XhrLike, _metadata: unknown) => {
        request.timeout = timeoutMs;
        return request;
      }],
    }) as unknown as RawClient;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw translate(err, what);
    }
  }

  async searchSeries(studyInstanceUid: string): Promise<SeriesSummary[]> {
    const rows = await this.call(`QIDO series of ${studyInstanceUid}`, () =>
      this.raw.searchForSeries({ studyInstanceUID: studyInstanceUid, queryParams: { includefield: '0008103E,00201209' } }));
    return (rows ?? []).map((r) => ({
      seriesInstanceUid: str(r, Tag.SeriesInstanceUID) ?? '',
      modality: str(r, Tag.Modality) ?? '',
      seriesDescription: str(r, Tag.SeriesDescription),
      numberOfInstances: num(r, Tag.NumberOfSeriesRelatedInstances) || undefined,
    }));
  }

  /**
   * A study's instances in its series of one modality, with their series (QIDO-RS at study
   * level, matching the series' Modality): one request where a search of the series and then
   * of each series' instances took two or more (each costs Orthanc's DICOMweb plugin 100-160 ms).
   */
  async searchStudyInstances(studyInstanceUid: string, modality: string): Promise<Array<{ seriesInstanceUid: string; sopInstanceUid: string }>> {
    const rows = await this.call(`QIDO ${modality} instances of study ${studyInstanceUid}`, () =>
      this.raw.searchForInstances({ studyInstanceUID: studyInstanceUid, queryParams: { Modality: modality, includefield: '0020000E' } }));
    return (rows ?? []).flatMap((r) => {
      const seriesInstanceUid = str(r, Tag.SeriesInstanceUID);
      const sopInstanceUid = str(r, Tag.SOPInstanceUID);
      return seriesInstanceUid && sopInstanceUid ? [{ seriesInstanceUid, sopInstanceUid }] : [];
    });
  }

  seriesMetadata(studyInstanceUid: string, seriesInstanceUid: string): Promise<DicomJson[]> {
    return this.call(`metadata of series ${seriesInstanceUid}`, () =>
      this.raw.retrieveSeriesMetadata({ studyInstanceUID: studyInstanceUid, seriesInstanceUID: seriesInstanceUid }));
  }

  studyMetadata(studyInstanceUid: string): Promise<DicomJson[]> {
    return this.call(`metadata of study ${studyInstanceUid}`, () =>
      this.raw.retrieveStudyMetadata({ studyInstanceUID: studyInstanceUid }));
  }

  /**
   * A multipart/related WADO-RS answer, parsed with the same multipart code as STOW-RS, into
   * its parts' bodies. By node:http, as STOW-RS is sent: the body is read into one buffer of
   * the announced length, with no list of chunks joined at the end (four 27 MB mammograms in
   * 0.55-0.62 s here, where fetch's arrayBuffer took 0.79-1.0 s). It asks for the body
   * uncompressed (`Accept-Encoding: identity`): Orthanc gzips a whole answer as it sends it
   * when asked, 3 s for a 27 MB mammogram where the uncompressed answer takes 0.2 s; a server
   * that compresses it anyway is inflated.
   */
  private async retrieveParts(what: string, path: string, accept: string): Promise<Buffer[]> {
    const { body, contentType } = await this.getBody(what, path, accept);
    return parseMultipartRelated(body, contentType).map((p) => p.body);
  }

  private getBody(what: string, path: string, accept: string): Promise<{ body: Buffer; contentType?: string }> {
    const url = new URL(`${this.target.url}${path}`);
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      // The whole answer within the timeout, not only its first byte.
      let timedOut: SentinelError | undefined;
      const req = client.get(url, { headers: { ...this.authHeader, Accept: accept, 'Accept-Encoding': 'identity' } }, (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          res.resume();
          reject(translate({ status }, what));
          return;
        }
        const encoding = String(res.headers['content-encoding'] ?? 'identity').toLowerCase();
        const inflate = encoding === 'gzip' || encoding === 'x-gzip' ? zlib.createGunzip() : encoding === 'deflate' ? zlib.createInflate() : encoding === 'br' ? zlib.createBrotliDecompress() : undefined;
        const stream = inflate ? res.pipe(inflate) : res;
        const announced = inflate ? NaN : Number(res.headers['content-length']);
        let whole = Number.isSafeInteger(announced) && announced >= 0 && announced <= PREALLOCATE_MAX ? Buffer.allocUnsafe(announced) : undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (c: Buffer) => {
          if (whole && size + c.length <= whole.length) {
            c.copy(whole, size);
          } else {
            // Longer than announced (or nothing announced): the chunks are kept and joined.
            if (whole) chunks.push(whole.subarray(0, size));
            whole = undefined;
            chunks.push(c);
          }
          size += c.length;
        });
        stream.on('end', () => {
          if (whole && size < whole.length) reject(new SentinelError('unavailable', `${what}: the answer ended after ${size} of its ${whole.length} bytes`));
          else resolve({ body: whole ?? Buffer.concat(chunks), contentType: res.headers['content-type'] });
        });
        stream.on('error', (err) => reject(timedOut ?? (err instanceof SentinelError ? err : translate(err, what))));
        res.on('aborted', () => reject(timedOut ?? new SentinelError('unavailable', `${what}: the connection closed before the answer ended`)));
      });
      const timer = setTimeout(() => {
        timedOut = new SentinelError('unavailable', `${what}: the DICOMweb server did not answer within ${this.timeoutMs} ms`);
        req.destroy(timedOut);
      }, this.timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('error', (err) => reject(err instanceof SentinelError ? err : translate(err, what)));
    });
  }

  /**
   * The whole Part 10 file, in the transfer syntax it is stored in. dicomweb-client 0.11
   * rejects every explicit media type in retrieveInstance ("application/ is not supported"),
   * and without one Orthanc transcodes to Explicit VR Little Endian (a JPEG 2000 mammogram
   * becomes ten times larger), so this request asks for `transfer-syntax=*` itself.
   */
  async retrieveInstance(study: string, series: string, sop: string): Promise<Uint8Array> {
    const what = `instance ${sop}`;
    const [part] = await this.retrieveParts(what, `/studies/${study}/series/${series}/instances/${sop}`, 'multipart/related; type="application/dicom"; transfer-syntax=*');
    if (!part || part.length === 0) throw new SentinelError('bad_request', `${what}: empty response`);
    return new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
  }

  /**
   * Frames in their stored transfer syntax, several per request (PS3.18 8.3.5), in the order
   * asked. By fetch, not dicomweb-client: its XMLHttpRequest (xhr2) opened a connection per
   * request and copied each answer twice, a tenth of a whole slide's scoring time here (CPU profile).
   */
  async retrieveFrames(study: string, series: string, sop: string, frameNumbers: number[]): Promise<Uint8Array[]> {
    const what = `frames ${frameNumbers[0]}.. of ${sop}`;
    const parts = await this.retrieveParts(what, `/studies/${study}/series/${series}/instances/${sop}/frames/${frameNumbers.join(',')}`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
    if (parts.length !== frameNumbers.length) throw new SentinelError('unavailable', `${what}: asked ${frameNumbers.length} frames, received ${parts.length}`);
    return parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  }

  /**
   * STOW-RS of Part 10 files on disk, streamed (a part of any size costs no memory here);
   * returns the server's DICOM JSON response, or undefined when it sent none.
   */
  async storeFiles(files: Array<{ file: string; size: number }>): Promise<DicomJson | undefined> {
    const boundary = `sentinel-${crypto.randomBytes(12).toString('hex')}`;
    const head = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
    const tail = Buffer.from(`--${boundary}--\r\n`);
    const length = files.reduce((n, f) => n + head.length + f.size + 2, tail.length);
    const url = new URL(`${this.target.url}/studies`);
    const client = url.protocol === 'https:' ? https : http;
    const what = `STOW-RS of ${files.length} instance(s)`;
    return new Promise<DicomJson | undefined>((resolve, reject) => {
      const req = client.request(url, {
        method: 'POST',
        headers: {
          ...this.authHeader,
          'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
          'Content-Length': String(length),
          Accept: 'application/dicom+json',
        },
        timeout: this.timeoutMs,
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 16 * 1024 * 1024) chunks.push(c);
        });
        res.on('error', (err) => reject(translate(err, what)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          // Orthanc answers a partly refused request with its DICOM JSON body too.
          if (status >= 400 && !text.trim().startsWith('{')) return reject(translate({ status }, what));
          try {
            resolve(text.trim().startsWith('{') ? JSON.parse(text) as DicomJson : undefined);
          } catch {
            reject(new SentinelError('bad_request', `${what}: the PACS answered HTTP ${status} with a body that is not DICOM JSON`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new SentinelError('unavailable', 'the PACS did not answer in time')));
      req.on('error', (err) => reject(unavailable(`${what}: DICOMweb server unreachable or timed out (${err.message})`, err)));
      (async () => {
        for (const f of files) {
          req.write(head);
          // Read 1 MB at a time, not 64 KB: four full-field mammograms reach Orthanc 15% sooner here.
          await pipeline(fs.createReadStream(f.file, { highWaterMark: 1 << 20 }), req, { end: false });
          req.write('\r\n');
        }
        req.end(tail);
      })().catch((err: unknown) => req.destroy(err as Error));
    });
  }

  /** STOW-RS; returns the server's DICOM JSON response (or undefined when it sent none). */
  async store(datasets: Uint8Array[], studyInstanceUid?: string): Promise<DicomJson | undefined> {
    const buffers = datasets.map((d) => d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer);
    const res = await this.call('STOW-RS', () =>
      this.raw.storeInstances({ datasets: buffers, ...(studyInstanceUid ? { studyInstanceUID: studyInstanceUid } : {}) }));
    if (typeof res === 'string' && res.trim().startsWith('{')) return JSON.parse(res) as DicomJson;
    if (res && typeof res === 'object' && !Array.isArray(res)) return res as DicomJson;
    return undefined;
  }
}
