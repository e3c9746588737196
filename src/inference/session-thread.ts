// One onnxruntime-node session in a worker thread of its own. onnxruntime-node 1.30 runs a
// session synchronously on the calling thread (its `run` is a setImmediate around a blocking
// call), so a session on the main thread stops everything else while it runs: a slide's next
// frames wait unfetched and undecoded for every batch (CPU profile, `npm run bench`). In a
// worker thread the model runs while the main thread fetches, decodes and packs the next batch.
// The worker's code is the few lines below, run as given (no build step, no TypeScript loader).
import { Worker } from 'node:worker_threads';
import { SentinelError } from '../errors/errors';
import type { GraphSignature } from './graph-check';

export interface SessionOptions {
  intraOpNumThreads: number;
}

export type Feeds = Record<string, { data: Float32Array; dims: number[] }>;
export type Results = Record<string, { data: Float32Array; dims: number[] }>;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
let session;
const message = (err) => (err instanceof Error ? err.message : String(err));
parentPort.on('message', async (m) => {
  if (m.op === 'open') {
    try {
      session = await ort.InferenceSession.create(m.file, m.options);
      const { inputNames, outputNames, inputMetadata, outputMetadata } = session;
      parentPort.postMessage({ id: m.id, signature: JSON.parse(JSON.stringify({ inputNames, outputNames, inputMetadata, outputMetadata })) });
    } catch (err) {
      parentPort.postMessage({ id: m.id, error: message(err) });
    }
    return;
  }
  try {
    const feeds = {};
    for (const [name, t] of Object.entries(m.feeds)) feeds[name] = new ort.Tensor('float32', t.data, t.dims);
    const out = await session.run(feeds);
    const results = {};
    // The inputs' buffers go back to be filled again: no batch allocates.
    const transfer = Object.values(m.feeds).map((t) => t.data.buffer);
    for (const [name, t] of Object.entries(out)) {
      results[name] = { data: t.data, dims: t.dims.map(Number) };
      transfer.push(t.data.buffer);
    }
    parentPort.postMessage({ id: m.id, results, inputs: Object.values(m.feeds).map((t) => t.data) }, transfer);
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: message(err) });
  }
});
`;

type Reply = { id: number; error?: string; signature?: GraphSignature; results?: Results; inputs?: Float32Array[] };

export class SessionThread {
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private next = 0;
  private dead?: Error;
  /** Input buffers back from the thread, to copy the next batches into. */
  private spare: ArrayBuffer[] = [];

  private constructor(private readonly worker: Worker, readonly signature: GraphSignature) {}

  /** The model file's session, opened in a new worker thread; its graph's names and shapes for graph-check. */
  static async open(file: string, options: SessionOptions): Promise<SessionThread> {
    const worker = new Worker(WORKER, { eval: true, workerData: { ort: require.resolve('onnxruntime-node') } });
    const opening = new SessionThread(worker, { inputNames: [], outputNames: [], inputMetadata: [], outputMetadata: [] });
    worker.on('message', (m: Reply) => opening.settle(m));
    worker.on('error', (err) => opening.fail(err));
    worker.on('exit', (code) => opening.fail(new Error(`the inference thread exited (code ${code})`)));
    const reply = await opening.call({
      op: 'open',
      file,
      // Threads that wait for work sleep rather than spin: the service fetches, decodes and packs
      // beside the model on the same cores (measured: the tile model alone runs as fast or faster so).
      options: { intraOpNumThreads: options.intraOpNumThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } },
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    Object.assign(opening.signature, reply.signature);
    return opening;
  }

  /** Runs the graph on float32 inputs (copied to the thread; the caller may reuse its arrays). */
  async run(feeds: Feeds): Promise<Results> {
    const copies: Feeds = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      const at = this.spare.findIndex((b) => b.byteLength >= t.data.byteLength);
      const buffer = at >= 0 ? (this.spare.splice(at, 1)[0] as ArrayBuffer) : new ArrayBuffer(t.data.byteLength);
      const data = new Float32Array(buffer, 0, t.data.length);
      data.set(t.data);
      copies[name] = { data, dims: t.dims };
      transfer.push(buffer);
    }
    const reply = await this.call({ op: 'run', feeds: copies }, transfer);
    // A few are enough: one per input of the batches in flight.
    for (const input of reply.inputs ?? []) if (this.spare.length < 4) this.spare.push(input.buffer as ArrayBuffer);
    return reply.results ?? {};
  }

  /** Runs sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** False once the thread has died or been released: the registry opens the model again. */
  get alive(): boolean {
    return this.dead === undefined;
  }

  async release(): Promise<void> {
    this.dead ??= new Error('the session was released');
    await this.worker.terminate();
  }

  private call(message: object, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.dead) return Promise.reject(new SentinelError('unavailable', `inference thread: ${this.dead.message}`));
    const id = this.next++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // The thread keeps the process alive only while it has work (a CLI run waits on it; an idle service does not).
      this.worker.ref();
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  private settle(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m);
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const p of this.pending.values()) p.reject(new SentinelError('unavailable', `inference thread: ${err.message}`));
    this.pending.clear();
  }
}
