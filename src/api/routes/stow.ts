// STOW-RS (PS3.18 10.5): POST /dicomweb/studies[/{study}] with multipart/related
// application/dicom parts from any DICOMweb sender (Orthanc's "Servers" push included).
// The body streams to disk part by part (memory stays bounded whatever its size; past
// `stow.maxBytes` it is refused with 413, an upload that stalls for `stow.idleTimeoutMs` with
// 408). Each part's header is checked, the good ones are streamed on into the PACS, the
// answer is the standard DICOM JSON response (a body is required: Orthanc treats an empty 200
// as a failure), and each study is handed to intake after a settle delay so the rest of it
// can arrive. Every part received is in the audit trail.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Request, type Response, Router } from 'express';
import { projectRoot } from '../../config/load';
import { recordAudit } from '../../db/audit';
import { readDicomHeader } from '../../dicom/header';
import type { DicomJson } from '../../dicomweb/client';
import { spoolMultipartRelated } from '../../dicomweb/multipart-spool';
import { SentinelError, badRequest, describeError } from '../../errors/errors';
import { intakeStudy } from '../../intake/intake';
import type { Services } from '../../service/services';

/** PS3.4 Annex B / PS3.18 failure reasons. */
export const FailureReason = {
  ProcessingFailure: 0x0110,
  SopClassNotSupported: 0x0122,
  StudyUidMismatch: 0xa900,
  CannotUnderstand: 0xc000,
} as const;

interface PartOutcome {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  failure?: number;
  reason?: string;
  file: string;
  size: number;
}

const STORAGE_SOP_PREFIX = '1.2.840.10008.5.1.4.1.1.';

export async function checkPart(part: { file: string; size: number }, expectedStudy: string | undefined): Promise<PartOutcome> {
  const read = await readDicomHeader(part.file);
  if ('reason' in read) return { ...part, failure: FailureReason.CannotUnderstand, reason: read.reason };
  const out: PartOutcome = { ...part, ...read.header };
  if (!out.sopInstanceUid || !out.studyInstanceUid) return { ...out, failure: FailureReason.CannotUnderstand, reason: 'missing SOP Instance UID or Study Instance UID' };
  if (!out.sopClassUid?.startsWith(STORAGE_SOP_PREFIX)) return { ...out, failure: FailureReason.SopClassNotSupported, reason: `SOP class ${out.sopClassUid ?? '(none)'} is not a storage SOP class` };
  if (expectedStudy && expectedStudy !== out.studyInstanceUid) return { ...out, failure: FailureReason.StudyUidMismatch, reason: 'instance belongs to another study than the request URL' };
  return out;
}

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

export function stowRouter(services: Services): Router {
  const router = Router();
  const { maxBytes, idleTimeoutMs, spoolDir } = services.config.stow;
  const handler = async (req: Request, res: Response): Promise<void> => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxBytes) {
      refuse(res, new SentinelError('too_large', `the request body (${declared} bytes) is larger than the ${maxBytes} bytes this server accepts (stow.maxBytes)`));
      return;
    }
    // Nothing is stored into the PACS unless it can be recorded: PostgreSQL down answers 503 first.
    await services.ds.query('select 1');
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
          services.log.warn({ peer, error: err.message }, 'STOW-RS request refused');
          refuse(res, err);
          return;
        }
        throw err;
      }
      if (parts.length === 0) throw badRequest('the multipart body holds no part: nothing to store');
      const expected = typeof req.params.study === 'string' ? req.params.study : undefined;
      const outcomes: PartOutcome[] = [];
      for (const p of parts) outcomes.push(await checkPart(p, expected));
      const good = outcomes.filter((o) => o.failure === undefined);
      if (good.length > 0) {
        // A PACS that is down fails the whole request with 503: the sender retries, nothing is half-done here.
        const pacs = await services.dicomweb.storeFiles(good);
        const refused = new Set(((pacs?.['00081198']?.Value ?? []) as DicomJson[]).map((i) => String(i['00081155']?.Value?.[0])));
        for (const o of good) {
          if (o.sopInstanceUid && refused.has(o.sopInstanceUid)) {
            o.failure = FailureReason.ProcessingFailure;
            o.reason = 'the PACS refused it';
          }
        }
      }
      for (const o of outcomes.filter((x) => x.failure !== undefined)) {
        services.log.warn({ sopInstanceUid: o.sopInstanceUid, failure: o.failure, reason: o.reason }, 'STOW-RS part refused');
      }
      await recordAudit(services.ds, ...outcomes.map((o) => ({
        direction: 'in' as const, channel: 'stow-rs' as const, peer,
        studyInstanceUid: o.studyInstanceUid, objectUid: o.sopInstanceUid,
        outcome: o.failure === undefined ? 'accepted' as const : 'refused' as const,
        detail: o.failure === undefined ? `${o.size} bytes` : `0x${o.failure.toString(16)}: ${o.reason ?? ''}`,
      })));
      const stored = outcomes.filter((o) => o.failure === undefined);
      const status = stored.length === outcomes.length ? 200 : stored.length === 0 ? 409 : 202;
      res.status(status).type('application/dicom+json').send(JSON.stringify(stowResponse(outcomes, `${req.protocol}://${req.get('host')}/dicomweb`)));
      for (const study of new Set(stored.map((o) => o.studyInstanceUid as string))) {
        intakeStudy(services.intake, study, 'stow-rs', { delayMs: services.config.jobs.stowSettleMs }).catch((err: unknown) =>
          services.log.warn({ studyInstanceUid: study, error: describeError(err) }, 'intake after STOW-RS failed; the /changes poller will retry'));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  router.post('/dicomweb/studies', handler);
  router.post('/dicomweb/studies/:study', handler);
  return router;
}
