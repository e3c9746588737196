// One bad promise must not stop the service; an uncaught exception exits for a restart.
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/log/logger';
import { guardProcess } from '../../../src/service/server';

it('logs an unhandled rejection and goes on; logs an uncaught exception and exits 1', () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const exits: number[] = [];
  const guard = guardProcess(createLogger('info', sink), (code) => exits.push(code));
  try {
    expect(process.listeners('unhandledRejection')).toContain(guard.onRejection);
    expect(process.listeners('uncaughtException')).toContain(guard.onException);

    guard.onRejection(new Error('PACS answered nonsense'));
    expect(exits).toEqual([]);
    guard.onException(new TypeError('x is undefined'));
    expect(exits).toEqual([1]);

    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; error: string });
    expect(logged[0]).toMatchObject({ level: 50, error: 'Error: PACS answered nonsense' });
    expect(logged[0]?.msg).toMatch(/goes on/);
    expect(logged[1]).toMatchObject({ level: 60, error: 'TypeError: x is undefined' });
  } finally {
    process.off('unhandledRejection', guard.onRejection);
    process.off('uncaughtException', guard.onException);
  }
});
