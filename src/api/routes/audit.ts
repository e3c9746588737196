// GET /audit: the audit trail, newest first: every DICOM object received or sent and every
// HL7 message, with time, peer, UIDs and outcome. ?study=<uid>, ?since=<ISO time>, ?limit=.
import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { listAudit } from '../../db/audit';
import { badRequest } from '../../errors/errors';

const UID = /^[0-9]+(\.[0-9]+)*$/;

export function auditRouter(ds: DataSource): Router {
  const router = Router();
  router.get('/audit', async (req, res) => {
    const study = typeof req.query.study === 'string' ? req.query.study : undefined;
    if (study !== undefined && !UID.test(study)) throw badRequest('study: not a DICOM UID');
    const sinceText = typeof req.query.since === 'string' ? req.query.since : undefined;
    const since = sinceText ? new Date(sinceText) : undefined;
    if (since && Number.isNaN(since.getTime())) throw badRequest('since: not a date and time (ISO 8601)');
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 200) || 200));
    res.json({ entries: await listAudit(ds, { study, since, limit }) });
  });
  return router;
}
