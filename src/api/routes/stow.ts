// STOW-RS (PS3.18 10.5): POST /dicomweb/studies[/{study}] with multipart/related
// application/dicom parts from any DICOMweb sender (Orthanc's "Servers" push included).
// Each part is checked, the good ones are stored into the PACS, the answer is the standard
// DICOM JSON response (a body is required: Orthanc treats an empty 200 as a failure), and
// each study is handed to intake after a settle delay so the rest of it can arrive.
import express, { Router } from 'express';
import { parseDicom } from '../../dicom/read';
import type { DicomJson } from '../../dicomweb/client';
import { parseMultipartRelated } from '../../dicomweb/multipart';
import { describeError } from '../../errors/errors';
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
  bytes: Buffer;
}

const STORAGE_SOP_PREFIX = '1.2.840.10008.5.1.4.1.1.';

export function checkPart(bytes: Buffer, expectedStudy: string | undefined): PartOutcome {
  let parsed;
  try {
    parsed = parseDicom(bytes);
  } catch (err) {
    return { bytes, failure: FailureReason.CannotUnderstand, reason: describeError(err) };
  }
  const out: PartOutcome = {
    bytes,
    sopClassUid: parsed.sopClassUid,
    sopInstanceUid: parsed.sopInstanceUid,
    studyInstanceUid: parsed.studyInstanceUid,
  };
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

export function stowRouter(services: Services): Router {
  const router = Router();
  const raw = express.raw({ type: () => true, limit: '4gb' });
  const handler: express.RequestHandler = async (req, res) => {
    const parts = parseMultipartRelated(req.body as Buffer, req.headers['content-type']);
    const expected = typeof req.params.study === 'string' ? req.params.study : undefined;
    const outcomes = parts.map((p) => checkPart(p.body, expected));
    const good = outcomes.filter((o) => o.failure === undefined);
    if (good.length > 0) {
      // A PACS that is down fails the whole request with 503: the sender retries, nothing is half-done here.
      const pacs = await services.dicomweb.store(good.map((o) => o.bytes));
      const refused = new Set(((pacs?.['00081198']?.Value ?? []) as DicomJson[]).map((i) => String(i['00081155']?.Value?.[0])));
      for (const o of good) if (o.sopInstanceUid && refused.has(o.sopInstanceUid)) o.failure = FailureReason.ProcessingFailure;
    }
    for (const o of outcomes.filter((x) => x.failure !== undefined)) {
      services.log.warn({ sopInstanceUid: o.sopInstanceUid, failure: o.failure, reason: o.reason }, 'STOW-RS part refused');
    }
    const stored = outcomes.filter((o) => o.failure === undefined);
    const status = stored.length === outcomes.length ? 200 : stored.length === 0 ? 409 : 202;
    res.status(status).type('application/dicom+json').send(JSON.stringify(stowResponse(outcomes, `${req.protocol}://${req.get('host')}/dicomweb`)));
    for (const study of new Set(stored.map((o) => o.studyInstanceUid as string))) {
      intakeStudy(services.intake, study, 'stow-rs', { delayMs: services.config.jobs.stowSettleMs }).catch((err: unknown) =>
        services.log.warn({ studyInstanceUid: study, error: describeError(err) }, 'intake after STOW-RS failed; the /changes poller will retry'));
    }
  };
  router.post('/dicomweb/studies', raw, handler);
  router.post('/dicomweb/studies/:study', raw, handler);
  return router;
}
