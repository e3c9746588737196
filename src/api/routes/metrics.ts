// GET /metrics: Prometheus text, behind the API token like every data route. This process's
// own counters and histograms (metrics/metrics.ts), and, read when scraped, what all
// processes share: queue depths in Redis, jobs and outgoing messages by state in PostgreSQL,
// and whether each answered. A dependency that does not answer makes its gauge 0, never the
// scrape fail.
import { Router } from 'express';
import { Gauge } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { Queues } from '../../jobs/queues';
import { registry } from '../../metrics/metrics';

const queueJobs = new Gauge({
  name: 'sentinel_queue_jobs',
  help: 'Entries in each bull queue (analyze, deliver, tiles) by state, read from Redis at scrape',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});
const jobs = new Gauge({
  name: 'sentinel_jobs',
  help: 'Analysis jobs in PostgreSQL by pipeline and state (queued, running, succeeded, failed), read at scrape',
  labelNames: ['pipeline', 'state'] as const,
  registers: [registry],
});
const outbox = new Gauge({
  name: 'sentinel_outbox_messages',
  help: 'Outgoing objects and messages in PostgreSQL by kind (dicom, hl7, fhir) and state (pending, delivered, failed), read at scrape',
  labelNames: ['kind', 'state'] as const,
  registers: [registry],
});
const up = new Gauge({
  name: 'sentinel_dependency_up',
  help: '1 when the dependency answered this scrape, else 0',
  labelNames: ['dependency'] as const,
  registers: [registry],
});

const withinMs = <T>(p: Promise<T>, ms: number): Promise<T> => Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);

async function readShared(ds: DataSource, queues: Queues): Promise<void> {
  queueJobs.reset();
  jobs.reset();
  outbox.reset();
  try {
    for (const [name, queue] of [['analyze', queues.analyze], ['deliver', queues.deliver], ['tiles', queues.tiles]] as const) {
      const counts = await withinMs(queue.getJobCounts(), 2000);
      for (const [state, n] of Object.entries(counts)) queueJobs.set({ queue: name, state }, n);
    }
    up.set({ dependency: 'redis' }, 1);
  } catch {
    up.set({ dependency: 'redis' }, 0);
  }
  try {
    const byJob = await withinMs(ds.query('select pipeline, state, count(*)::int as n from jobs group by pipeline, state') as Promise<Array<{ pipeline: string; state: string; n: number }>>, 2000);
    for (const r of byJob) jobs.set({ pipeline: r.pipeline, state: r.state }, r.n);
    const byOutput = await withinMs(ds.query('select kind, state, count(*)::int as n from outbox group by kind, state') as Promise<Array<{ kind: string; state: string; n: number }>>, 2000);
    for (const r of byOutput) outbox.set({ kind: r.kind, state: r.state }, r.n);
    up.set({ dependency: 'postgresql' }, 1);
  } catch {
    up.set({ dependency: 'postgresql' }, 0);
  }
}

/** This process's metrics only (a worker's), or with the shared figures when given the database and queues (the API). */
export function metricsRouter(shared?: { ds: DataSource; queues: Queues }): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    if (shared) await readShared(shared.ds, shared.queues);
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
