// Studies and jobs: the ranked worklist (most suspicious first), one study's results with
// every output and message, one job's state and progress, and sending again by hand what
// failed for good (a job or an output whose retries ran out, once the cause is fixed).
import { Router } from 'express';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config/schema';
import { FindingRow } from '../../db/entities/finding';
import { JobRow } from '../../db/entities/job';
import { OutboxRow } from '../../db/entities/outbox';
import { StudyRow } from '../../db/entities/study';
import { OUTPUT_KINDS, outputFileName } from '../../domain/outputs';
import { SentinelError, badRequest, notFound } from '../../errors/errors';
import { type Queues, enqueueAnalyze, enqueueDeliver, enqueueOrLeave } from '../../jobs/queues';

const UID = /^[0-9]+(\.[0-9]+)*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function outboxView(row: OutboxRow): Record<string, unknown> {
  return {
    id: row.id, kind: row.kind, destination: row.destination, label: row.label, objectUid: row.objectUid, state: row.state,
    attempts: row.attempts, lastError: row.lastError, response: row.response,
    createdAt: row.createdAt, deliveredAt: row.deliveredAt, bytes: row.payload?.length,
  };
}

export interface StudiesDeps {
  ds: DataSource;
  queues: Queues;
  config: Config;
}

/**
 * A failed job runs again, or a failed output (SEG, SR, ORU, FHIR) is sent again, with a fresh
 * set of attempts: one conditional UPDATE sets the row back to waiting (so two clicks cannot
 * queue it twice) with a new epoch (so whatever queue entry the failed run left cannot run it
 * again), or says why not. A job's last error stays until it is replaced. Returns the new state.
 */
export async function retryFailed({ ds, queues, config }: StudiesDeps, what: 'job' | 'output', id: string): Promise<'queued' | 'pending'> {
  if (!UUID.test(id)) throw badRequest(`not ${what === 'job' ? 'a job' : 'an output'} id`);
  const entity = what === 'job' ? JobRow : OutboxRow;
  const reset = what === 'job' ? { state: 'queued', attempts: 0, finishedAt: null, durationMs: null } : { state: 'pending', attempts: 0 };
  const updated = await ds.createQueryBuilder().update(entity).set({ ...reset, epoch: () => 'epoch + 1', leaseOwner: null, leaseUntil: null } as Record<string, unknown>)
    .where('id = :id and state = :failed', { id, failed: 'failed' }).returning(['epoch']).execute();
  const epoch = (updated.raw as Array<{ epoch: number }>)[0]?.epoch;
  if (updated.affected !== 1 || epoch === undefined) {
    const row = await ds.getRepository(entity).findOneBy({ id });
    if (!row) throw notFound(`${what} ${id} not found`);
    throw new SentinelError('conflict', `${what} ${id} is ${row.state}; only a failed ${what} can be ${what === 'job' ? 'retried' : 'sent again'}`);
  }
  if (what === 'job') await enqueueOrLeave(enqueueAnalyze(queues, config, id, epoch));
  else await enqueueOrLeave(enqueueDeliver(queues, config, id, epoch));
  return what === 'job' ? 'queued' : 'pending';
}

export function studiesRouter({ ds, queues, config }: StudiesDeps): Router {
  const router = Router();

  router.get('/studies', async (req, res) => {
    const limit = Math.min(500, Math.max(1, Number(req.query.limit ?? 100) || 100));
    // Most suspicious first: the exam score (1-10) where the model is calibrated, then the raw score.
    const rows = await ds.getRepository(StudyRow).createQueryBuilder('s')
      .orderBy('s.exam_score', 'DESC', 'NULLS LAST')
      .addOrderBy('s.score', 'DESC', 'NULLS LAST')
      .addOrderBy('s.first_seen_at', 'ASC')
      .limit(limit)
      .getMany();
    const jobs = rows.length === 0 ? [] : await ds.getRepository(JobRow).createQueryBuilder('j')
      .where('j.study_instance_uid in (:...uids)', { uids: rows.map((r) => r.studyInstanceUid) })
      .orderBy('j.created_at', 'DESC')
      .getMany();
    res.json({
      studies: rows.map((s, i) => {
        const job = jobs.find((j) => j.studyInstanceUid === s.studyInstanceUid);
        return { rank: i + 1, ...s, job: job ? { id: job.id, state: job.state, error: job.error } : null };
      }),
    });
  });

  router.get('/studies/:uid', async (req, res) => {
    const uid = req.params.uid;
    if (!UID.test(uid)) throw badRequest('not a DICOM UID');
    const study = await ds.getRepository(StudyRow).findOneBy({ studyInstanceUid: uid });
    if (!study) throw notFound(`study ${uid} is unknown to Sentinel`);
    const jobs = await ds.getRepository(JobRow).find({ where: { studyInstanceUid: uid }, order: { createdAt: 'DESC' } });
    const ids = jobs.map((j) => j.id);
    const [findings, outbox] = ids.length === 0 ? [[], []] : await Promise.all([
      ds.getRepository(FindingRow).createQueryBuilder('f').where('f.job_id in (:...ids)', { ids }).orderBy('f.score', 'DESC').getMany(),
      ds.getRepository(OutboxRow).createQueryBuilder('o').where('o.job_id in (:...ids)', { ids }).orderBy('o.created_at', 'ASC').getMany(),
    ]);
    res.json({
      study,
      jobs: jobs.map((job) => ({
        ...job,
        findings: findings.filter((f) => f.jobId === job.id),
        outputs: outbox.filter((o) => o.jobId === job.id).map(outboxView),
      })),
    });
  });

  router.get('/jobs/:id', async (req, res) => {
    if (!UUID.test(req.params.id)) throw badRequest('not a job id');
    const job = await ds.getRepository(JobRow).findOneBy({ id: req.params.id });
    if (!job) throw notFound(`job ${req.params.id} not found`);
    const outbox = await ds.getRepository(OutboxRow).findBy({ jobId: job.id });
    res.json({ ...job, outputs: outbox.map(outboxView) });
  });

  router.post('/jobs/:id/retry', async (req, res) => {
    res.status(202).json({ id: req.params.id, state: await retryFailed({ ds, queues, config }, 'job', req.params.id) });
  });

  router.post('/outputs/:id/retry', async (req, res) => {
    res.status(202).json({ id: req.params.id, state: await retryFailed({ ds, queues, config }, 'output', req.params.id) });
  });

  /** One outgoing message or object, as sent, by its kind's content type: HL7 as text (a segment per line), DICOM as a download. */
  router.get('/outputs/:id', async (req, res) => {
    if (!UUID.test(req.params.id)) throw badRequest('not an output id');
    const row = await ds.getRepository(OutboxRow).findOneBy({ id: req.params.id });
    if (!row) throw notFound(`output ${req.params.id} not found`);
    const kind = OUTPUT_KINDS[row.kind];
    if (kind.text) {
      // HL7 segments end with CR on the wire; shown one per line for reading.
      res.type(kind.contentType).send(row.payload.toString('utf8').replace(/\r/g, '\r\n'));
    } else {
      res.type(kind.contentType).setHeader('Content-Disposition', `attachment; filename="${outputFileName(row)}"`);
      res.send(row.payload);
    }
  });

  return router;
}
