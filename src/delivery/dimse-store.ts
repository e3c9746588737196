// DICOM out: one object sent to a DICOM destination by C-STORE (dcmjs-dimse as SCU), for the
// outbox. The answer decides what the outbox does (PS3.4 B.2.3): success or a warning (Bxxx)
// is delivered; Refused: Out of Resources (A7xx), a rejected association, a refused
// presentation context or no answer at all may pass later and is tried again; any other
// failure (the object refused for what it is) fails for good, with its status.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dcmjsDimse from 'dcmjs-dimse';
import type { Config } from '../config/schema';
import { SentinelError } from '../errors/errors';

const { Client } = dcmjsDimse;
const { CStoreRequest } = dcmjsDimse.requests;

export type DimseDestination = Config['dimse']['destinations'][number];

const hex = (status: number): string => status.toString(16).padStart(4, '0').toUpperCase();

/** What a C-STORE status means for the outbox: delivered, try again, or failed for good. */
export function verdictOf(status: number | undefined): 'delivered' | 'retry' | 'failed' {
  if (status === undefined) return 'retry';
  if (status === 0x0000 || (status & 0xf000) === 0xb000) return 'delivered';
  if ((status & 0xff00) === 0xa700) return 'retry';
  return 'failed';
}

/** Send the Part 10 bytes; resolves with the destination's answer, throws a SentinelError saying whether to try again. */
export async function cStore(bytes: Buffer, to: DimseDestination, callingAet: string, timeoutMs: number): Promise<string> {
  const file = path.join(os.tmpdir(), `sentinel-cstore-${crypto.randomUUID()}.dcm`);
  fs.writeFileSync(file, bytes);
  const where = `${to.aet}@${to.host}:${to.port}`;
  try {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const client = new Client();
      const request = new CStoreRequest(file);
      let answer: number | undefined;
      let rejected = false;
      request.on('response', (response: { getStatus(): number }) => {
        answer = response.getStatus();
      });
      client.addRequest(request);
      client.on('associationRejected', () => {
        rejected = true;
      });
      client.on('networkError', (err: unknown) => reject(new SentinelError('unavailable', `DICOM destination ${where} unreachable: ${err instanceof Error ? err.message : String(err)}`)));
      client.on('closed', () => {
        if (rejected) reject(new SentinelError('unavailable', `DICOM destination ${where} rejected the association (calling AE title ${callingAet})`));
        else resolve(answer);
      });
      client.send(to.host, to.port, callingAet, to.aet, { connectTimeout: timeoutMs, associationTimeout: timeoutMs, pduTimeout: timeoutMs });
    });
    const verdict = verdictOf(status);
    if (verdict === 'delivered') return `stored by ${where} (status ${hex(status as number)})`;
    if (verdict === 'retry') {
      throw new SentinelError('unavailable', status === undefined
        ? `DICOM destination ${where} gave no C-STORE answer (no presentation context accepted, or the association ended)`
        : `DICOM destination ${where} refused it for now (status ${hex(status)})`);
    }
    throw new SentinelError('bad_request', `DICOM destination ${where} refused it (status ${hex(status as number)})`);
  } finally {
    fs.rmSync(file, { force: true });
  }
}
