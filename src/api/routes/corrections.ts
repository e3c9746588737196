// POST /studies/{uid}/corrections: a reader's correction of the study's latest mammography or
// ultrasound analysis (or of the one named by `jobId`). The body gives the findings as the
// reader leaves them, each outline as a polygon or an SVG path (analysis/correction.ts);
// the answer names the new analysis and the corrected SEG, SR and ORU queued for delivery.
// Who: the signed-in user of the web app's session; an API client with a token names the
// reader in `reader`.
import { Router } from 'express';
import { SentinelError } from '../../errors/errors';
import { type CorrectionDeps, correctAnalysis } from '../../jobs/correction';
import { cookieValue, sessionUser } from '../pages/session';

const UID = /^[0-9]+(\.[0-9]+)*$/;

export function correctionsRouter(deps: CorrectionDeps): Router {
  const router = Router();
  router.post('/studies/:uid/corrections', async (req, res) => {
    if (!UID.test(req.params.uid) || req.params.uid.length > 64) throw new SentinelError('bad_request', 'not a Study Instance UID');
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw new SentinelError('bad_request', 'the correction is a JSON object with "findings"');
    if (!Array.isArray(body.findings)) throw new SentinelError('bad_request', '"findings" must be an array of the findings as the reader leaves them (an empty one deletes every AI finding)');
    const signedIn = req.headers.authorization ? undefined : sessionUser(deps.config.auth.apiTokens, cookieValue(req.headers.cookie));
    const named = typeof body.reader === 'string' ? body.reader.trim() : '';
    const reader = signedIn || named;
    if (!reader) throw new SentinelError('bad_request', 'name the reader who corrected the findings in "reader" (a web app session names its user)');
    if (reader.length > 64) throw new SentinelError('bad_request', 'the reader\'s name is longer than 64 characters');
    const outcome = await correctAnalysis(deps, req.params.uid, {
      ...(body.jobId !== undefined ? { jobId: body.jobId as string } : {}),
      findings: body.findings,
    }, reader);
    res.status(201).json(outcome);
  });
  return router;
}
