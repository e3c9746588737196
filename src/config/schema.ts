// The typed shape of Sentinel's configuration. Defaults live in config/default.json, not
// here, so that an operator reads one file to know what Sentinel will do.
import { z } from 'zod';

const hostPort = z.object({ host: z.string().min(1), port: z.number().int().min(0).max(65535) });

export const routingRuleSchema = z.object({
  name: z.string().min(1),
  /** A study is routed by this rule when any of its series has one of these modalities. */
  modalities: z.array(z.string().min(1)).min(1),
  pipeline: z.enum(['mammography', 'wsi', 'ultrasound']),
  /** Model ids from models/*.json, tried in order: the first one present is used. */
  models: z.array(z.string().min(1)).min(1),
});

export const configSchema = z.object({
  server: hostPort,
  auth: z.object({
    /** Bearer tokens (or Basic passwords) accepted on every data route. Set by env, never committed. */
    apiTokens: z.array(z.string().min(16, 'an API token must be at least 16 characters')),
  }),
  database: z.object({ url: z.string().url() }),
  redis: z.object({ url: z.string().url(), prefix: z.string().min(1) }),
  orthanc: z.object({
    url: z.string().url(),
    username: z.string(),
    password: z.string(),
    dicomwebPath: z.string().startsWith('/'),
    /** How often the /changes feed is read; 0 turns the poller off. */
    pollIntervalMs: z.number().int().min(0),
    /**
     * On Sentinel's very first start (no /changes cursor yet): false starts at the end of the
     * feed, so the PACS's history is not analysed; true reads the whole feed from the start.
     */
    backfill: z.boolean(),
    /** The bundled Orthanc that `stack up` starts. */
    bundled: z.object({
      httpPort: z.number().int().positive(),
      dicomPort: z.number().int().positive(),
      aet: z.string().min(1).max(16),
      storageDir: z.string().min(1),
    }),
  }),
  hl7: z.object({
    destination: hostPort.extend({ timeoutMs: z.number().int().positive() }),
    sender: z.object({ application: z.string().min(1), facility: z.string().min(1) }),
    receiver: z.object({ application: z.string().min(1), facility: z.string().min(1) }),
    processingId: z.enum(['P', 'T', 'D']),
  }),
  routing: z.object({ rules: z.array(routingRuleSchema).min(1) }),
  models: z.object({ dir: z.string().min(1), threads: z.number().int().positive() }),
  jobs: z.object({
    analyzeAttempts: z.number().int().positive(),
    deliverAttempts: z.number().int().positive(),
    backoffMs: z.number().int().positive(),
    maxBackoffMs: z.number().int().positive(),
    /** STOW-RS intake waits this long before analysing, so the rest of the study can arrive. */
    stowSettleMs: z.number().int().min(0),
    /**
     * A slide with more tissue cells than this is scored in ranges of this many cells, each a
     * job on the "tiles" queue that any worker process may take; 0 scores every slide in the
     * analysing worker.
     */
    tileRangeCells: z.number().int().min(0).default(4096),
  }),
  output: z.object({ seriesNumber: z.number().int().positive() }),
  log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) }),
});

export type Config = z.infer<typeof configSchema>;
export type RoutingRule = z.infer<typeof routingRuleSchema>;
