// POST /events/orthanc: the fast way in, called by the bundled Orthanc's Lua OnStableStudy.
//
// The answer comes before any work: Orthanc runs Lua callbacks under one lock and its HTTP
// server takes the same lock for every request, so a handler that queried Orthanc (QIDO,
// /studies/{id}) before answering would wait on Orthanc while Orthanc waits on it, until
// libcurl's timeout. Intake therefore runs after the 202; if it fails, the /changes poller
// still has the study.
import { Router } from 'express';
import { z } from 'zod';
import { badRequest, describeError } from '../../errors/errors';
import { type IntakeDeps, intakeStudy } from '../../intake/intake';
import type { OrthancRest } from '../../orthanc/rest';

const eventSchema = z.object({
  changeType: z.string(),
  resourceId: z.string().min(1),
  studyInstanceUid: z.string().regex(/^[0-9.]*$/).optional(),
});

export function eventsRouter(intake: IntakeDeps, orthanc: OrthancRest): Router {
  const router = Router();
  router.post('/events/orthanc', async (req, res) => {
    const parsed = eventSchema.safeParse(req.body);
    if (!parsed.success) throw badRequest(`bad event: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const event = parsed.data;
    if (event.changeType !== 'StableStudy') {
      res.status(202).json({ outcome: 'ignored', reason: `change type ${event.changeType} is not handled` });
      return;
    }
    // Accept only what can be recorded: with PostgreSQL down the answer is 503 (Orthanc's
    // event is lost, and the /changes poller takes the study in once the database is back).
    await intake.ds.query('select 1');
    res.status(202).json({ outcome: 'accepted' });
    const work = async (): Promise<void> => {
      const uid = event.studyInstanceUid || (await orthanc.studyInstanceUid(event.resourceId));
      await intakeStudy(intake, uid, 'orthanc-event');
    };
    work().catch((err: unknown) => {
      intake.log.warn({ orthancStudyId: event.resourceId, error: describeError(err) }, 'Orthanc event not taken in; the /changes poller will retry');
    });
  });
  return router;
}
