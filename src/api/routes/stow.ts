// STOW-RS (PS3.18 10.5): POST /dicomweb/studies[/{study}] with multipart/related
// application/dicom parts from any DICOMweb sender (Orthanc's "Servers" push included).
// The body streams to disk part by part (memory stays bounded whatever its size; past
// `stow.maxBytes` it is refused with 413, an upload that stalls for `stow.idleTimeoutMs` with
// 408). The parts then go through the receive step every listener shares (intake/receive.ts:
// headers checked, the good ones streamed on into the PACS, every part audited, each study
// handed to intake after a settle delay), and the answer is the standard DICOM JSON response
// (a body is required: Orthanc treats an empty 200 as a failure).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Request, type Response, Router } from 'express';
import type { Config } from '../../config/schema';
import { projectRoot } from '../../config/load';
import type { DicomJson } from '../../dicom/json';
import { spoolMultipartRelated } from '../../dicomweb/multipart-spool';
import { SentinelError, badRequest } from '../../errors/errors';
import { type PartOutcome, type ReceiveDeps, receiveInstances } from '../../intake/receive';

function sopItem(o: PartOutcome): DicomJson {
  return {
    '00081150': { vr: 'UI', Value: [o.sopClassUid ?? ''] },
    '00081155': { vr: 'UI', Value: [o.sopInstanceUid ?? ''] },
  };
}

export function stowResponse(outcomes: PartOutcome[], retrieveBase: string): DicomJson {
  const ok = outcomes.filter((o) => o.failure === undefined);
  const failed = outcomes.filter((o) => o.failure !== undefined);
  const body: DicomJson = {};
  const studies = [...new Set(ok.map((o) => o.studyInstanceUid))];
  if (studies.length === 1) body['00081190'] = { vr: 'UR', Value: [`${retrieveBase}/studies/${studies[0]}`] };
  if (failed.length) body['00081198'] = { vr: 'SQ', Value: failed.map((o) => ({ ...sopItem(o), '00081197': { vr: 'US', Value: [o.failure] } })) };
  if (ok.length) body['00081199'] = { vr: 'SQ', Value: ok.map((o) => ({ ...sopItem(o), '00081190': { vr: 'UR', Value: [`${retrieveBase}/studies/${o.studyInstanceUid}/series/instances/${o.sopInstanceUid}`] } })) };
  return body;
}

/**
 * The request body as chunks, failing with 408 when nothing arrives for `idleMs`: a sender
 * that stalls must not hold a spool file and a socket for ever.
 */
async function* idleGuarded(req: Request, idleMs: number): AsyncGenerator<Buffer> {
  let timer: NodeJS.Timeout | undefined;
  let stalled: ((err: Error) => void) | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => stalled?.(new SentinelError('timeout', `the upload sent nothing for ${idleMs} ms (stow.idleTimeoutMs); nothing was stored`)), idleMs);
  };
  const iterator = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      arm();
      const next = await Promise.race([
        iterator.next(),
        new Promise<never>((_resolve, reject) => { stalled = reject; }),
      ]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** After refusing a request before its body was read: answer, then drop the connection. */
function refuse(res: Response, err: SentinelError): void {
  res.setHeader('Connection', 'close');
  res.status(err.status).json({ error: { kind: err.kind, message: err.message, retryable: err.retryable } });
  res.on('finish', () => res.req.socket.destroy());
}

export function stowRouter(deps: ReceiveDeps & { config: Pick<Config, 'stow' | 'jobs'> }): Router {
  const router = Router();
  const { maxBytes, idleTimeoutMs, spoolDir } = deps.config.stow;
  const handler = async (req: Request, res: Response): Promise<void> => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxBytes) {
      refuse(res, new SentinelError('too_large', `the request body (${declared} bytes) is larger than the ${maxBytes} bytes this server accepts (stow.maxBytes)`));
      return;
    }
    // Nothing is stored into the PACS unless it can be recorded: PostgreSQL down answers 503 first.
    await deps.ds.query('select 1');
    const peer = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const dir = path.join(path.resolve(projectRoot, spoolDir), crypto.randomUUID());
    fs.mkdirSync(dir, { recursive: true });
    try {
      let parts;
      try {
        parts = await spoolMultipartRelated(idleGuarded(req, idleTimeoutMs), req.headers['content-type'], dir, { maxBytes });
      } catch (err) {
        // Past the limit or stalled: the rest of the body is not read; answer and hang up.
        if (err instanceof SentinelError && (err.kind === 'too_large' || err.kind === 'timeout')) {
          deps.log.warn({ peer, error: err.message }, 'STOW-RS request refused');
          refuse(res, err);
          return;
        }
        throw err;
      }
      if (parts.length === 0) throw badRequest('the multipart body holds no part: nothing to store');
      const expectedStudy = typeof req.params.study === 'string' ? req.params.study : undefined;
      const outcomes = await receiveInstances(deps, parts, { channel: 'stow-rs', peer, expectedStudy });
      const stored = outcomes.filter((o) => o.failure === undefined);
      const status = stored.length === outcomes.length ? 200 : stored.length === 0 ? 409 : 202;
      res.status(status).type('application/dicom+json').send(JSON.stringify(stowResponse(outcomes, `${req.protocol}://${req.get('host')}/dicomweb`)));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  router.post('/dicomweb/studies', handler);
  router.post('/dicomweb/studies/:study', handler);
  return router;
}
