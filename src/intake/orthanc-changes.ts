// Reads Orthanc's /changes feed from a cursor kept in PostgreSQL, so every StableStudy that
// happened while Sentinel was down is still taken in. The cursor only moves past a change
// once its study has been handed to intake; a PACS that is down stops the batch, and the
// next poll starts again from the same place.
import type { Logger } from '../log/logger';
import { CursorRow } from '../db/entities/cursor';
import { describeError, isRetryable } from '../errors/errors';
import type { OrthancRest } from '../orthanc/rest';
import { type IntakeDeps, intakeStudy } from './intake';

export const CHANGES_CURSOR = 'orthanc-changes';

export interface PollResult {
  studies: number;
  cursor: number;
}

export class OrthancChangesPoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(private readonly deps: IntakeDeps, private readonly orthanc: OrthancRest, private readonly log: Logger) {}

  /**
   * The stored cursor; on the very first start there is none, and it is set to the end of the
   * feed (the PACS's history is not analysed) unless `orthanc.backfill` asks for all of it.
   */
  private async readCursor(): Promise<number> {
    const row = await this.deps.ds.getRepository(CursorRow).findOneBy({ name: CHANGES_CURSOR });
    if (row) return row.value;
    const start = this.deps.config.orthanc.backfill ? 0 : await this.orthanc.lastChange();
    await this.saveCursor(start);
    this.log.info({ cursor: start, backfill: this.deps.config.orthanc.backfill }, this.deps.config.orthanc.backfill
      ? 'first start: reading the whole /changes feed (orthanc.backfill)'
      : 'first start: /changes cursor set to the end of the feed; studies already in the PACS are not analysed (orthanc.backfill to change)');
    return start;
  }

  private async saveCursor(value: number): Promise<void> {
    await this.deps.ds.getRepository(CursorRow).save({ name: CHANGES_CURSOR, value });
  }

  /** One pass to the end of the feed. */
  async pollOnce(): Promise<PollResult> {
    let cursor = await this.readCursor();
    let studies = 0;
    for (;;) {
      const page = await this.orthanc.changes(cursor);
      for (const change of page.Changes) {
        if (change.ChangeType === 'StableStudy') {
          try {
            const uid = await this.orthanc.studyInstanceUid(change.ID);
            await intakeStudy(this.deps, uid, 'orthanc-changes');
            studies++;
          } catch (err) {
            if (isRetryable(err)) throw err; // keep the cursor: this change is read again
            this.log.warn({ orthancStudyId: change.ID, seq: change.Seq, error: describeError(err) }, 'change skipped');
          }
        }
        cursor = change.Seq;
        await this.saveCursor(cursor);
      }
      if (page.Last > cursor) {
        cursor = page.Last;
        await this.saveCursor(cursor);
      }
      if (page.Done || page.Changes.length === 0) return { studies, cursor };
    }
  }

  start(intervalMs: number): void {
    this.stopped = false;
    const tick = async (): Promise<void> => {
      try {
        await this.pollOnce();
      } catch (err) {
        this.log.warn({ error: describeError(err) }, 'Orthanc /changes poll failed; will retry');
      }
      if (!this.stopped) this.timer = setTimeout(() => void (this.running = tick()), intervalMs);
    };
    this.running = tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** The poller as a component of the process (service/lifecycle.ts). */
  component(intervalMs: number): { name: string; start(): Promise<void>; stop(): Promise<void> } {
    return { name: 'orthanc-changes', start: async () => this.start(intervalMs), stop: () => this.stop() };
  }
}
