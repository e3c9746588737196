// The installed models: every models/*.json manifest validated at start (all problems
// listed with their file), the .onnx next to it checked against its sha256, and one
// onnxruntime-node session per model created on first use in a worker thread of its own
// (session-thread.ts, so that the main thread goes on while a model runs), checked against
// the manifest (graph-check.ts) and reused; and, for a caller that keeps several batches in
// flight, lanes: sessions of one thread each, opened on first use.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SentinelError, notFound } from '../errors/errors';
import { inferenceSeconds } from '../metrics/metrics';
import { graphMismatches } from './graph-check';
import { SessionThread } from './session-thread';
import { type ModelManifest, checkedManifestSchema } from './manifest';

export type OutputRole = ModelManifest['outputs'][number]['role'];
export type ModelOutputs = Partial<Record<OutputRole, { dims: number[]; data: Float32Array }>>;

export interface LoadedModel {
  manifest: ModelManifest;
  /** One batch on the model's session of all its threads: for a caller that runs a batch at a time. */
  run(batch: Float32Array, n: number): Promise<ModelOutputs>;
  /**
   * For a caller that keeps `count` batches in flight (a slide's cells): `count` sessions of one
   * thread each, a batch run on the least busy. The threads of one session meet at the end of
   * each parallel step, so when the OS gives a core to the main thread (fetching, decoding and
   * packing the next batches on the same cores) the session's other thread waits; a lane's
   * thread holds back only its own batch. Absent with one thread.
   */
  lanes?: { count: number; run(batch: Float32Array, n: number): Promise<ModelOutputs> };
}

/** A model that can never run as installed: a job using it fails for good (not retried). */
export class ManifestError extends SentinelError {
  constructor(readonly problems: string[]) {
    super('bad_request', `invalid model manifest(s):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ManifestError';
  }
}

export interface RegistryOptions {
  intraOpNumThreads?: number;
}

/** Validate one manifest file; returns the manifest or the problems found. */
export function readManifest(file: string): { manifest?: ModelManifest; problems: string[] } {
  const name = path.basename(file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    return { problems: [`${name}: ${(err as Error).message}`] };
  }
  const parsed = checkedManifestSchema.safeParse(raw);
  if (!parsed.success) {
    return { problems: parsed.error.issues.map((i) => `${name}: ${i.path.join('.') || '(root)'}: ${i.message}`) };
  }
  const m = parsed.data;
  const problems: string[] = [];
  if (`${m.id}.json` !== name) problems.push(`${name}: id "${m.id}" does not match the file name`);
  const onnx = path.join(path.dirname(file), m.file);
  if (!fs.existsSync(onnx)) problems.push(`${name}: model file ${m.file} not found`);
  else if (m.sha256) {
    const sha = crypto.createHash('sha256').update(fs.readFileSync(onnx)).digest('hex');
    if (sha !== m.sha256) problems.push(`${name}: ${m.file} sha256 is ${sha}, manifest says ${m.sha256}`);
  }
  // A pair of gray films shares one mean and std.
  const c = m.input.views === 'pair' ? 1 : m.input.channels;
  if (m.input.normalization.mean.length !== c || m.input.normalization.std.length !== c) {
    problems.push(`${name}: normalization needs ${c} mean and std values${m.input.views === 'pair' ? ' (one for both films of a pair)' : ''}`);
  }
  return problems.length ? { problems } : { manifest: m, problems };
}

export class ModelRegistry {
  /** Keyed by model id, and by model id and lane (`id#k`) for the lanes. */
  private readonly sessions = new Map<string, Promise<SessionThread>>();

  private constructor(readonly dir: string, private readonly manifests: Map<string, ModelManifest>, private readonly options: RegistryOptions) {}

  /** Every manifest in `dir` (files named *.json that are not split/metrics side files). */
  static async load(dir: string, options: RegistryOptions = {}): Promise<ModelRegistry> {
    const files = fs.existsSync(dir)
      ? fs.readdirSync(dir).filter((f) => f.endsWith('.json') && !/\.(split|metrics)\.json$/.test(f)).sort()
      : [];
    const manifests = new Map<string, ModelManifest>();
    const problems: string[] = [];
    for (const f of files) {
      const r = readManifest(path.join(dir, f));
      if (r.manifest) manifests.set(r.manifest.id, r.manifest);
      problems.push(...r.problems);
    }
    if (problems.length) throw new ManifestError(problems);
    return new ModelRegistry(dir, manifests, options);
  }

  list(): ModelManifest[] {
    return [...this.manifests.values()];
  }

  get(id: string): { manifest: ModelManifest } {
    const manifest = this.manifests.get(id);
    if (!manifest) throw notFound(`model ${id} is not installed (models in ${this.dir}: ${[...this.manifests.keys()].join(', ') || 'none'})`);
    return { manifest };
  }

  forTask(task: ModelManifest['task']): ModelManifest[] {
    return this.list().filter((m) => m.task === task);
  }

  private get threads(): number {
    return this.options.intraOpNumThreads ?? 2;
  }

  /** The session under `key` (opened if absent, or again if its thread has died). */
  private async session(id: string, key = id, threads = this.threads): Promise<SessionThread> {
    const open = this.sessions.get(key);
    if (open) {
      const s = await open;
      if (s.alive) return s;
      if (this.sessions.get(key) === open) this.sessions.delete(key);
      return this.session(id, key, threads);
    }
    const s = this.openSession(id, threads);
    this.sessions.set(key, s);
    s.catch(() => this.sessions.delete(key));
    return s;
  }

  /** The model's lanes (LoadedModel.lanes), each opened. */
  private lanes(id: string): Promise<SessionThread[]> {
    return Promise.all(Array.from({ length: this.threads }, (_, k) => this.session(id, `${id}#${k}`, 1)));
  }

  private async openSession(id: string, threads: number): Promise<SessionThread> {
    const { manifest } = this.get(id);
    const session = await SessionThread.open(path.join(this.dir, manifest.file), { intraOpNumThreads: threads });
    const problems = graphMismatches(manifest, session.signature);
    if (problems.length > 0) {
      await session.release();
      throw new ManifestError(problems.map((p) => `${manifest.id}.json: ${p}`));
    }
    return session;
  }

  /**
   * Loads the model's graph now (else on first run) and refuses it if it does not match its
   * manifest; with `lanes`, its lanes too (for a model that will be given batches in a stream).
   */
  async open(id: string, opts: { lanes?: boolean } = {}): Promise<void> {
    await this.session(id);
    if (opts.lanes && this.threads > 1) await this.lanes(id);
  }

  /** Run a packed NCHW float32 batch of `n` inputs; outputs keyed by their manifest role. */
  run(id: string, batch: Float32Array, n: number): Promise<ModelOutputs> {
    return this.runOn(id, batch, n, async () => [await this.session(id)]);
  }

  /** Run a batch as `run` does, on the least busy of the model's lanes (LoadedModel.lanes). */
  runInLane(id: string, batch: Float32Array, n: number): Promise<ModelOutputs> {
    return this.runOn(id, batch, n, () => this.lanes(id));
  }

  private async runOn(id: string, batch: Float32Array, n: number, sessions: () => Promise<SessionThread[]>): Promise<ModelOutputs> {
    const { manifest } = this.get(id);
    const { channels, height, width, name } = manifest.input;
    if (batch.length < n * channels * height * width) throw new SentinelError('internal', `batch of ${n} needs ${n * channels * height * width} values, got ${batch.length}`);
    const open = await sessions();
    // Chosen and sent in one step (run counts the batch as in flight before it returns), so
    // that batches sent together go to different lanes.
    const session = open.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    const end = inferenceSeconds.startTimer({ model: id });
    const result = await session.run({ [name]: { data: batch.subarray(0, n * channels * height * width), dims: [n, channels, height, width] } }).finally(end);
    const out: ModelOutputs = {};
    for (const o of manifest.outputs) {
      const t = result[o.name];
      if (!t) throw new SentinelError('internal', `model ${id} has no output named ${o.name}`);
      out[o.role] = { dims: t.dims, data: t.data };
    }
    return out;
  }

  model(id: string): LoadedModel {
    return {
      manifest: this.get(id).manifest,
      run: (batch, n) => this.run(id, batch, n),
      ...(this.threads > 1 ? { lanes: { count: this.threads, run: (batch: Float32Array, n: number) => this.runInLane(id, batch, n) } } : {}),
    };
  }

  async close(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map(async (s) => (await s.catch(() => undefined))?.release()));
  }
}
