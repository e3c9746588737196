// A few requests at a time: never more than asked running at once, every task run once, the
// results in the tasks' order whatever order they finish in, and a failure rejects.
import { pool } from '../../../src/dicomweb/pool';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('pool', () => {
  it('runs at most `concurrency` tasks at once and keeps their order', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const tasks = [30, 5, 20, 1, 15, 2, 8].map((ms, i) => async (): Promise<string> => {
      started.push(i);
      most = Math.max(most, ++running);
      await sleep(ms);
      running--;
      return `t${i}`;
    });
    expect(await pool(tasks, 2)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6']);
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('with one task, or a concurrency of 0, runs them one by one', async () => {
    expect(await pool([async () => 1], 4)).toEqual([1]);
    expect(await pool([], 4)).toEqual([]);
    let running = 0;
    let most = 0;
    const tasks = [3, 1, 2].map((ms) => async (): Promise<number> => { most = Math.max(most, ++running); await sleep(ms); running--; return ms; });
    expect(await pool(tasks, 0)).toEqual([3, 1, 2]);
    expect(most).toBe(1);
  });

  it('rejects with the first failure', async () => {
    const tasks = [async () => { await sleep(5); return 1; }, async () => { throw new Error('the PACS is down'); }, async () => 3];
    await expect(pool(tasks, 2)).rejects.toThrow('the PACS is down');
  });
});
