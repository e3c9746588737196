// What this process counts and times, in Prometheus form (prom-client), one registry per
// process: studies taken in by path, analyses by outcome, the time of each stage of an
// analysis, model inference time, deliveries by channel and outcome, and Node's own process
// figures. Shared state (queue depths, jobs and messages by state) is read from PostgreSQL
// and Redis when /metrics is scraped (api/routes/metrics.ts), so it is the same whichever
// process answers. Labels are closed sets (paths, pipelines, stages, channels, outcomes,
// model ids): never a UID or a patient field.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'sentinel_' });

/** Seconds, from 5 ms to 10 minutes: an inference batch to a whole slide. */
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export const studiesReceived = new Counter({
  name: 'sentinel_studies_received_total',
  help: 'Studies taken in, by the path they came by and what intake did (queued, duplicate, ignored)',
  labelNames: ['path', 'outcome'] as const,
  registers: [registry],
});

export const analysesFinished = new Counter({
  name: 'sentinel_analyses_total',
  help: 'Analysis runs by pipeline and outcome: succeeded, retry (failed, will be tried again), failed (for good)',
  labelNames: ['pipeline', 'outcome'] as const,
  registers: [registry],
});

export const stageSeconds = new Histogram({
  name: 'sentinel_stage_duration_seconds',
  help: 'Time of each stage of an analysis: fetch (study from the PACS), analyse (decode, models, writers), within it for images decode, preprocess, postprocess, density and writers (SEG/SR objects), reports (ORU, FHIR), persist (results and outbox, one transaction), total',
  labelNames: ['pipeline', 'stage'] as const,
  buckets: SECONDS,
  registers: [registry],
});

export const inferenceSeconds = new Histogram({
  name: 'sentinel_model_inference_duration_seconds',
  help: 'Time of one model call (one batch) through onnxruntime-node, by model',
  labelNames: ['model'] as const,
  buckets: SECONDS,
  registers: [registry],
});

export const deliveries = new Counter({
  name: 'sentinel_deliveries_total',
  help: 'Delivery attempts by channel (dicomweb: STOW-RS into the PACS; mllp; fhir; dimse) and outcome: delivered, retry, failed (for good)',
  labelNames: ['channel', 'outcome'] as const,
  registers: [registry],
});

/** A clock for `stage` of `pipeline`: call the function it returns when the stage ends. */
export function stageTimer(pipeline: string, stage: string): () => void {
  const end = stageSeconds.startTimer({ pipeline, stage });
  return () => { end(); };
}

/** Time `fn` and record it as `stage` of `pipeline`. */
export async function timed<T>(pipeline: string, stage: string, fn: () => Promise<T>): Promise<T> {
  const end = stageSeconds.startTimer({ pipeline, stage });
  try {
    return await fn();
  } finally {
    end();
  }
}
