// The typed shape of Sentinel's configuration. Defaults live in config/default.json, not
// here, so that an operator reads one file to know what Sentinel will do.
import { z } from 'zod';

const hostPort = z.object({ host: z.string().min(1), port: z.number().int().min(0).max(65535) });

/**
 * A DICOM AE title (PS3.5 VR AE): 1 to 16 characters of the default repertoire without
 * backslash or control characters. Leading and trailing spaces are not significant in DICOM,
 * so they are refused here rather than silently never matching what a peer sends.
 */
const aeTitle = z.string().min(1).max(16)
  .regex(/^[\x20-\x5B\x5D-\x7E]+$/, 'an AE title holds printable ASCII characters other than backslash')
  .refine((s) => s.trim() === s, 'an AE title has no leading or trailing spaces');

export const routingRuleSchema = z.object({
  name: z.string().min(1),
  /** A study is routed by this rule when any of its series has one of these modalities. */
  modalities: z.array(z.string().min(1)).min(1),
  /** A pipeline of src/pipelines/registry.ts (checked against it when a service or `analyze` starts). */
  pipeline: z.string().min(1),
  /** Model ids from models/*.json, tried in order: the first one present is used. */
  models: z.array(z.string().min(1)).min(1),
});

export const configSchema = z.object({
  server: hostPort,
  auth: z.object({
    /** Bearer tokens (or Basic passwords) accepted on every data route. Set by env, never committed. */
    apiTokens: z.array(z.string().min(16, 'an API token must be at least 16 characters')),
    /** Failed authentications allowed from one address per minute before it is answered 429. */
    maxFailuresPerMinute: z.number().int().positive().default(20),
    /**
     * People who sign in to the web app by name and password: the password as
     * `scrypt$<salt>$<key>` (base64url; `sentinel password-hash` makes it), never in clear.
     */
    users: z.array(z.object({
      name: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'a user name is letters, digits and . _ @ -'),
      password: z.string().regex(/^scrypt\$[A-Za-z0-9_-]{16,}\$[A-Za-z0-9_-]{43,}$/, 'a password is stored as scrypt$<salt>$<key> (sentinel password-hash)'),
    })).default([]),
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
      aet: aeTitle,
      storageDir: z.string().min(1),
      /**
       * The only calling AE titles the bundled Orthanc accepts a C-STORE (or C-ECHO) from, each
       * only from its host; every other association is refused. Orthanc 1.10 compares the host
       * with the peer's IP address as text, so it must be an IPv4 address ("localhost" would
       * never match).
       */
      allowedModalities: z.array(z.object({ aet: aeTitle, host: z.ipv4('host must be an IPv4 address, as Orthanc compares it with the peer\'s address as text') })),
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
    /**
     * A worker holds a lease on the job or message it works on, renewed every third of this;
     * a lease not renewed for this long (a worker killed, a host gone) is handed to another.
     */
    leaseMs: z.number().int().min(1000).default(30_000),
    /** How often each worker compares PostgreSQL with the queues and queues again what is missing. */
    sweepIntervalMs: z.number().int().min(100).default(5000),
    /** On SIGTERM, how long in-flight work may take to finish before it is handed back. */
    shutdownGraceMs: z.number().int().min(0).default(20_000),
  }),
  stow: z.object({
    /** A STOW-RS request larger than this is refused with 413 (bytes). */
    maxBytes: z.number().int().positive().default(4 * 1024 ** 3),
    /** An upload that sends nothing for this long is cut off (408). */
    idleTimeoutMs: z.number().int().positive().default(30_000),
    /** Where parts wait on disk while a request streams in (relative to the project root). */
    spoolDir: z.string().min(1).default('var/stow-spool'),
  }).default({ maxBytes: 4 * 1024 ** 3, idleTimeoutMs: 30_000, spoolDir: 'var/stow-spool' }),
  /**
   * The DICOM (DIMSE) way in: a C-STORE SCP with C-ECHO. What it receives goes through the
   * same receive step as STOW-RS (stored into the PACS, then intake). Only associations from
   * the listed calling AE titles, each from its host, are accepted.
   */
  dimse: z.object({
    /** 0 turns the listener off. */
    port: z.number().int().min(0).max(65535),
    /** Loopback by default; another address exposes it (deployment checks apply). */
    host: z.string().min(1),
    /** The called AE title senders must use. */
    aet: aeTitle,
    allowedCallers: z.array(z.object({ aet: aeTitle, host: z.ipv4('host must be an IPv4 address') })),
    /**
     * DICOM destinations for the SEG and SR objects (C-STORE SCU), besides the PACS they are
     * stored into by STOW-RS; each object is delivered to each from the outbox, retried alike.
     */
    destinations: z.array(z.object({
      /** How the outbox and the audit trail name it. */
      name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a destination name is lower-case letters, digits and dashes'),
      aet: aeTitle,
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535),
      /** The calling AE title Sentinel uses (default: dimse.aet). */
      callingAet: aeTitle.optional(),
    })).default([]),
  }).default({ port: 11112, host: '127.0.0.1', aet: 'SENTINEL', allowedCallers: [{ aet: 'SENTINEL_SCU', host: '127.0.0.1' }], destinations: [] }),
  /**
   * A study that gains images after it was analysed (a re-take, a late series): analysed again,
   * its SR naming the one it replaces and its ORU a correction (on-new-images), or left as it
   * was (never). The same images arriving again are never analysed twice.
   */
  reanalyse: z.enum(['on-new-images', 'never']).default('on-new-images'),
  /**
   * FHIR R4: per analysed study a transaction Bundle (DiagnosticReport, Observations, Device)
   * POSTed to this base URL from the outbox, retried like the ORU; empty: no FHIR output.
   */
  fhir: z.object({
    baseUrl: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]),
    /** A bearer token for the FHIR server (FHIR_TOKEN), if it wants one. */
    token: z.string().optional(),
    timeoutMs: z.number().int().positive(),
  }).default({ baseUrl: '', timeoutMs: 10_000 }),
  output: z.object({ seriesNumber: z.number().int().positive() }),
  /** Where readers open a study in OHIF (`sentinel viewer`); the web app links each study there. */
  viewer: z.object({ url: z.url({ protocol: /^https?$/ }) }).default({ url: 'http://127.0.0.1:8091' }),
  log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) }),
});

export type Config = z.infer<typeof configSchema>;
export type RoutingRule = z.infer<typeof routingRuleSchema>;
