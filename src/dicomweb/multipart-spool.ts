// A multipart/related request (RFC 2387, as STOW-RS uses it: PS3.18 8.6.1.2) read as it
// streams in, each part written to its own file, so memory stays bounded whatever the body's
// size: what is held is one chunk and the tail that may start a boundary. The same rules as
// the in-memory parser (multipart.ts): a body without its closing delimiter is a truncated
// upload and is refused whole, so a half-sent instance is never stored.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SentinelError, badRequest, unsupported } from '../errors/errors';
import { parseContentType, parseHeaders } from './multipart';

export interface SpooledPart {
  headers: Record<string, string>;
  file: string;
  size: number;
}

export interface SpoolLimits {
  /** The whole body may not exceed this many bytes. */
  maxBytes: number;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER_BLOCK = 64 * 1024;
const WRITE_BYTES = 1 << 20;

type State = 'preamble' | 'delimiter' | 'headers' | 'body' | 'done';

/**
 * Spool every part of `body` into `dir` (which must exist). Rejects with a SentinelError:
 * unsupported for another media type, bad_request for a broken or truncated body, too_large
 * past the limit. Files written before a failure are left for the caller to remove with the
 * folder.
 */
export async function spoolMultipartRelated(body: AsyncIterable<Buffer>, contentType: string | undefined, dir: string, limits: SpoolLimits): Promise<SpooledPart[]> {
  const ct = parseContentType(contentType);
  if (ct.mediaType !== 'multipart/related') throw unsupported(`expected multipart/related, got "${ct.mediaType || 'nothing'}"`);
  const boundary = ct.params.boundary;
  if (!boundary) throw badRequest('multipart/related without a boundary parameter');
  const delimiter = Buffer.from(`--${boundary}`);
  const bodyEnd = Buffer.concat([CRLF, delimiter]);

  const parts: SpooledPart[] = [];
  let state: State = 'preamble';
  let pending: Buffer = Buffer.alloc(0);
  let total = 0;
  let current: { handle: fs.FileHandle; part: SpooledPart } | undefined;

  const openPart = async (headers: Record<string, string>): Promise<void> => {
    const file = path.join(dir, `part-${String(parts.length + 1).padStart(5, '0')}.dcm`);
    const part: SpooledPart = { headers, file, size: 0 };
    current = { handle: await fs.open(file, 'w'), part };
  };
  // A part's bytes are written 1 MB at a time (one writev of the chunks received meanwhile),
  // not a write per 64 KB chunk: the body is read on while fewer writes are waited for.
  let queued: Buffer[] = [];
  let queuedBytes = 0;
  const flush = async (): Promise<void> => {
    if (!current || queuedBytes === 0) return;
    const chunks = queued;
    queued = [];
    queuedBytes = 0;
    await current.handle.writev(chunks);
  };
  const write = async (bytes: Buffer): Promise<void> => {
    if (!current || bytes.length === 0) return;
    queued.push(bytes);
    queuedBytes += bytes.length;
    current.part.size += bytes.length;
    if (queuedBytes >= WRITE_BYTES) await flush();
  };
  const closePart = async (): Promise<void> => {
    if (!current) return;
    await flush();
    await current.handle.close();
    parts.push(current.part);
    current = undefined;
  };

  try {
    for await (const chunk of body) {
      total += chunk.length;
      if (total > limits.maxBytes) throw new SentinelError('too_large', `the request body is larger than the ${limits.maxBytes} bytes this server accepts (stow.maxBytes)`);
      if (state === 'body' && pending.length > 0 && pending.length < bodyEnd.length && chunk.length >= bodyEnd.length) {
        // Only a short tail waits: unless a boundary starts in it, write it and go on with the
        // chunk itself, so a large body is never copied chunk by chunk.
        const at = Buffer.concat([pending, chunk.subarray(0, bodyEnd.length)]).indexOf(bodyEnd);
        if (at >= 0 && at < pending.length) {
          pending = Buffer.concat([pending, chunk]);
        } else {
          await write(pending);
          pending = chunk;
        }
      } else {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      }
      // Consume as much of `pending` as the state machine can.
      for (;;) {
        if (state === 'preamble') {
          const at = pending.indexOf(delimiter);
          if (at < 0) {
            pending = pending.subarray(Math.max(0, pending.length - delimiter.length + 1));
            break;
          }
          pending = pending.subarray(at + delimiter.length);
          state = 'delimiter';
        } else if (state === 'delimiter') {
          if (pending.length < 2) break;
          if (pending[0] === 0x2d && pending[1] === 0x2d) { // "--": the closing delimiter
            state = 'done';
            break;
          }
          const eol = pending.indexOf(CRLF);
          if (eol < 0) {
            if (pending.length > 256) throw badRequest('multipart boundary line does not end');
            break;
          }
          pending = pending.subarray(eol); // the header block starts with this CRLF
          state = 'headers';
        } else if (state === 'headers') {
          const end = pending.indexOf(HEADER_END);
          if (end < 0) {
            if (pending.length > MAX_HEADER_BLOCK) throw badRequest(`a multipart part's headers run past ${MAX_HEADER_BLOCK} bytes`);
            break;
          }
          await openPart(parseHeaders(pending.subarray(CRLF.length, end).toString('latin1')));
          pending = pending.subarray(end + HEADER_END.length);
          state = 'body';
        } else if (state === 'body') {
          const at = pending.indexOf(bodyEnd);
          if (at < 0) {
            // Keep only what could be the start of the next boundary.
            const keep = Math.min(pending.length, bodyEnd.length - 1);
            await write(pending.subarray(0, pending.length - keep));
            pending = Buffer.from(pending.subarray(pending.length - keep));
            break;
          }
          await write(pending.subarray(0, at));
          await closePart();
          pending = pending.subarray(at + bodyEnd.length);
          state = 'delimiter';
        } else {
          break; // done: the epilogue is ignored
        }
      }
    }
  } finally {
    if (current) await current.handle.close().catch(() => undefined);
  }
  if (state === 'preamble') throw badRequest('multipart body has no boundary delimiter: empty or truncated upload');
  if (state !== 'done') {
    throw badRequest(`truncated upload: the multipart body ends after ${parts.length} complete part(s) without its closing boundary; nothing was stored`);
  }
  return parts;
}
