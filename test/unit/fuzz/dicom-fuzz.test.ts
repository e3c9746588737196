// Fuzzing the DICOM reader, the pixel decoders (wasm codecs included), the display transforms
// and the whole-slide readers with corrupted copies of valid files. Files come from PACS and
// STOW-RS senders Sentinel does not control; one malformed file must be refused with a
// SentinelError (so the job fails for good with its reason, and the API answers 4xx), never
// crash a worker with a TypeError, a string thrown by a library, a wasm abort, a hang or an
// allocation of gigabytes. FUZZ_SEED and FUZZ_RUNS replay or extend a run; fast-check prints
// the seed and the shrunk case of any failure.
import fc from 'fast-check';
import { SentinelError } from '../../../src/errors/errors';
import { type Outcome, exercise, firstFrameSamples, stageRecorder } from './exercise';
import { applyMutations, layoutOf, mutations } from './mutations';
import { SEEDS } from './seeds';

const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20240607);
const RUNS_PER_SEED = Number(process.env.FUZZ_RUNS ?? 200);
// A hang guard, not a speed figure: a case takes a few hundred ms, a decoder caught in a loop
// never ends; 30 s tells them apart on a machine 3x slower and busy (1 s did not, under load).
const CASE_BUDGET_MS = 30_000;
const MEMORY_BUDGET_BYTES = 200 * 1024 * 1024;
// Hundreds of cases per seed: ample time on a slow, busy machine (the cases' own guard is above).
jest.setTimeout(600_000);

const describeBugs = (o: Outcome): string =>
  o.bugs.map(({ stage, error }) => `${stage} threw ${error instanceof Error ? `${error.name}: ${error.message}\n${error.stack?.split('\n').slice(1, 4).join('\n')}` : `${typeof error} ${String(error)}`}`).join('\n');

let baseline = process.memoryUsage();
let peak = { rss: baseline.rss, heapUsed: baseline.heapUsed };
// Measured from after every codec has loaded and decoded once: what grows after that is the
// fuzzing's doing (a leak per corrupt frame, a heap grown for a claimed size).
beforeAll(async () => {
  for (const seed of SEEDS) await firstFrameSamples(await seed.build());
  baseline = process.memoryUsage();
  peak = { rss: baseline.rss, heapUsed: baseline.heapUsed };
});
const trackMemory = (): void => {
  const m = process.memoryUsage();
  peak = { rss: Math.max(peak.rss, m.rss), heapUsed: Math.max(peak.heapUsed, m.heapUsed) };
};

describe('the oracle', () => {
  it('counts a SentinelError as a refusal and anything else thrown or rejected as a bug', async () => {
    const outcome: Outcome = { passed: [], refused: [], bugs: [] };
    const stage = stageRecorder(outcome);
    await stage('ok', () => 1);
    await stage('refuses', () => { throw new SentinelError('bad_request', 'corrupt'); });
    await stage('throws a string', () => { throw 'dicomParser.readPart10Header: DICM prefix not found'; });
    await stage('rejects', () => Promise.reject(new RangeError('Invalid typed array length')));
    expect(outcome.passed).toEqual(['ok']);
    expect(outcome.refused).toEqual(['refuses']);
    expect(outcome.bugs.map((b) => b.stage)).toEqual(['throws a string', 'rejects']);
  });
});

describe.each(SEEDS)('fuzzing $name', (seed) => {
  it(`only ever refuses with a SentinelError, and no case hangs (${CASE_BUDGET_MS / 1000} s)`, async () => {
    const bytes = await seed.build();
    // The seed itself must pass every stage, or the fuzzing below proves nothing about decoding.
    const clean = await exercise(bytes, seed.slide ?? false);
    expect(describeBugs(clean)).toBe('');
    expect(clean.refused).toEqual([]);
    expect(clean.passed).toContain('decodeFrame');
    const before = await firstFrameSamples(bytes);

    const layout = layoutOf(bytes);
    expect(layout.fields.length).toBeGreaterThan(10);
    const reached = { decoded: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(mutations, async (ms) => {
        const input = applyMutations(bytes, ms, layout);
        const start = performance.now();
        const outcome = await exercise(input, seed.slide ?? false);
        const elapsed = performance.now() - start;
        trackMemory();
        if (outcome.passed.includes('decodeFrame')) reached.decoded++;
        if (outcome.refused.length > 0) reached.refused++;
        if (outcome.bugs.length > 0) throw new Error(describeBugs(outcome));
        if (elapsed > CASE_BUDGET_MS) throw new Error(`took ${Math.round(elapsed)} ms`);
      }),
      { seed: FUZZ_SEED, numRuns: RUNS_PER_SEED },
    );
    // Both outcomes must occur, or the mutations are too weak (all decode) or too blunt (all
    // refused by the parser). A SEG is mostly nested header, so few of its cases get as far as a decoder.
    expect(reached.decoded).toBeGreaterThan(RUNS_PER_SEED * 0.02);
    expect(reached.refused).toBeGreaterThan(RUNS_PER_SEED * 0.2);
    // The codecs live on in the worker: hundreds of corrupt frames must not have broken them.
    expect(await firstFrameSamples(bytes)).toEqual(before);
  });
});

describe('memory', () => {
  it(`grew by less than ${MEMORY_BUDGET_BYTES >> 20} MB over all the cases`, () => {
    trackMemory();
    expect(peak.rss - baseline.rss).toBeLessThan(MEMORY_BUDGET_BYTES);
    expect(peak.heapUsed - baseline.heapUsed).toBeLessThan(MEMORY_BUDGET_BYTES);
  });
});
