// Everything Sentinel runs in a process (the API, the intake listeners, the workers) is a
// component with one start and one stop. They start in the order given and stop once, in the
// reverse order: work is taken in last and stopped first, and the workers finish (or hand
// back) what they hold before the services underneath them close.
import { describeError } from '../errors/errors';
import type { Logger } from '../log/logger';

export interface Component {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface Started {
  stop(): Promise<void>;
}

export async function startInOrder(components: Component[], log: Logger): Promise<Started> {
  const started: Component[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> => (stopping ??= (async () => {
    for (const c of [...started].reverse()) {
      try {
        await c.stop();
      } catch (err) {
        log.warn({ component: c.name, error: describeError(err) }, 'component did not stop cleanly');
      }
    }
  })());
  try {
    for (const c of components) {
      await c.start();
      started.push(c);
    }
  } catch (err) {
    // One that cannot start stops the others already running, in reverse order.
    await stopAll();
    throw err;
  }
  return { stop: stopAll };
}
