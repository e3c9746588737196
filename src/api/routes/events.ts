// POST /events/orthanc: the fast way in, called by the bundled Orthanc's Lua OnStableStudy.
import { Router } from 'express';
import { z } from 'zod';
import { badRequest } from '../../errors/errors';
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
    const uid = event.studyInstanceUid || (await orthanc.studyInstanceUid(event.resourceId));
    res.status(202).json(await intakeStudy(intake, uid, 'orthanc-event'));
  });
  return router;
}
