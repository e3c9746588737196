// The tile ranges this process waits for (a large slide's cells spread over the tiles queue):
// their queue entries live only in Redis, so a Redis that lost its data would leave the
// analysing job waiting for ever. The sweeper, the one place that recovers lost work, puts
// each such entry back under the same id (and its completion still reaches the waiting job).
import type { Config } from '../config/schema';
import { type Queues, type TileJobData, enqueueTiles } from './queues';

const awaited = new Map<string, TileJobData>();

export function awaitRange(id: string, data: TileJobData): void {
  awaited.set(id, data);
}

export function rangeSettled(id: string): void {
  awaited.delete(id);
}

/** Each awaited range whose queue entry is gone, queued again; how many. */
export async function requeueLostRanges(queues: Queues, config: Config): Promise<number> {
  let n = 0;
  for (const [id, data] of awaited) {
    if (await queues.tiles.getJob(id)) continue;
    await enqueueTiles(queues, config, data, id);
    n++;
  }
  return n;
}
