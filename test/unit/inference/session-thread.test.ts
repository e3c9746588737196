// Each model runs in a worker thread of its own (onnxruntime-node runs a session synchronously
// on its caller): the thread returns what onnxruntime computes on the main thread, batch by
// batch and several at once; the caller's arrays are left as they were; a bad input is an error
// naming the problem and the thread goes on; a thread that dies is opened again on the next run;
// with two threads, a model's lanes (a session of one thread each) share the batches sent at once.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelRegistry } from '../../../src/inference/registry';
import { SessionThread } from '../../../src/inference/session-thread';

const models = path.resolve(__dirname, '../../../models');
const ID = 'idc-tile-classifier';
let registry: ModelRegistry;
beforeAll(async () => {
  registry = await ModelRegistry.load(models, { intraOpNumThreads: 1 });
});
afterAll(() => registry.close());

const tiles = (n: number, seed: number): Float32Array => Float32Array.from({ length: n * 3 * 50 * 50 }, (_, i) => Math.sin(i * 0.37 + seed));

it('returns what the same session computes on the main thread, for batches run at once, and leaves the inputs alone', async () => {
  const manifest = registry.get(ID).manifest;
  const direct = await ort.InferenceSession.create(path.join(models, manifest.file), { intraOpNumThreads: 1 });
  const inputs = [tiles(4, 1), tiles(7, 2), tiles(1, 3)];
  const before = inputs.map((x) => x.slice());
  const outs = await Promise.all(inputs.map((x) => registry.run(ID, x, x.length / 7500)));
  for (const [k, x] of inputs.entries()) {
    const want = await direct.run({ [manifest.input.name]: new ort.Tensor('float32', x, [x.length / 7500, 3, 50, 50]) });
    const got = outs[k]!.tile_probability!;
    expect(got.dims).toEqual([x.length / 7500, 1]);
    expect(Array.from(got.data)).toEqual(Array.from(want[manifest.outputs[0]!.name]!.data as Float32Array));
    expect(x).toEqual(before[k]);
  }
  await direct.release();
});

it('a bad input is an error from onnxruntime, and the thread runs the next batch', async () => {
  const manifest = registry.get(ID).manifest;
  const thread = await SessionThread.open(path.join(models, manifest.file), { intraOpNumThreads: 1 });
  try {
    await expect(thread.run({ [manifest.input.name]: { data: new Float32Array(10), dims: [1, 3, 50, 50] } })).rejects.toThrow(/size|length|shape|dims/i);
    const ok = await thread.run({ [manifest.input.name]: { data: tiles(2, 4), dims: [2, 3, 50, 50] } });
    expect(Object.values(ok)[0]!.dims).toEqual([2, 1]);
    expect(thread.alive).toBe(true);
  } finally {
    await thread.release();
  }
  expect(thread.alive).toBe(false);
  await expect(thread.run({ [manifest.input.name]: { data: tiles(1, 5), dims: [1, 3, 50, 50] } })).rejects.toMatchObject({ kind: 'unavailable' });
});

it('a thread that dies fails its runs as retryable, and the next run opens the model again', async () => {
  await registry.run(ID, tiles(1, 6), 1);
  const sessions = (registry as unknown as { sessions: Map<string, Promise<SessionThread>> }).sessions;
  const thread = await sessions.get(ID)!;
  const running = registry.run(ID, tiles(64, 7), 64);
  await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  await expect(running).rejects.toMatchObject({ kind: 'unavailable', retryable: true });
  const again = await registry.run(ID, tiles(3, 8), 3);
  expect(again.tile_probability!.dims).toEqual([3, 1]);
  expect(await sessions.get(ID)).not.toBe(thread);
});

it("runs batches sent at once in the model's lanes, one in each, each with its own batch's answer; no lanes with one thread", async () => {
  expect(registry.model(ID).lanes).toBeUndefined();
  const two = await ModelRegistry.load(models, { intraOpNumThreads: 2 });
  try {
    const lanes = two.model(ID).lanes!;
    expect(lanes.count).toBe(2);
    await two.open(ID, { lanes: true });
    const sessions = (two as unknown as { sessions: Map<string, Promise<SessionThread>> }).sessions;
    const lane = await Promise.all([sessions.get(`${ID}#0`)!, sessions.get(`${ID}#1`)!]);
    const sent = (): number[] => lane.map((s) => (s as unknown as { next: number }).next);
    const before = sent();
    const inputs = [tiles(5, 11), tiles(3, 12), tiles(6, 13), tiles(2, 14)];
    const outs = await Promise.all(inputs.map((x) => lanes.run(x, x.length / 7500)));
    // Each batch went to the lane with fewer in flight: two each.
    expect(sent().map((n, k) => n - (before[k] as number))).toEqual([2, 2]);
    for (const [k, x] of inputs.entries()) {
      const want = await registry.run(ID, x, x.length / 7500);
      expect(Array.from(outs[k]!.tile_probability!.data)).toEqual(Array.from(want.tile_probability!.data));
    }
  } finally {
    await two.close();
  }
});
