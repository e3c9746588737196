// The bundled Orthanc, started by the project's own stack code (the tests' instance, in
// var/test-orthanc), stores a study over DICOM only from an allowed calling AE title, calling
// it by its own AE title, from that title's host; and answers HTTP only on loopback. Debian's
// Orthanc 1.10 listens on every interface (it has no option to choose an address), so these
// refusals are all that keep another host from storing a study under any patient ID and
// having Sentinel send an ORU for it. Real dcmtk storescu, real Orthanc.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/schema';
import { newUid } from '../../src/dicom/uid';
import { buildSyntheticMammogram } from '../../src/samples/mammogram';
import { bundledStorescuArgs } from '../../src/stack/bundled-orthanc';
import { ensureStack } from '../support/stack';

let config: Config;
let dir: string;

beforeAll(async () => {
  config = await ensureStack();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-lockdown-'));
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const auth = (): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${config.orthanc.username}:${config.orthanc.password}`).toString('base64')}` });

/** A one-image study of its own, so that whether it is in Orthanc says what happened to this store. */
function oneImageStudy(label: string): { file: string; sopInstanceUid: string } {
  const sopInstanceUid = newUid();
  const stamp = Date.now().toString(36).toUpperCase();
  const study = { studyInstanceUid: newUid(), accessionNumber: `LOCK${stamp}`, patientId: `LOCKDOWN-${label}`, patientName: 'Lockdown^Test', studyDescription: 'lockdown test' };
  const file = path.join(dir, `${label}.dcm`);
  fs.writeFileSync(file, buildSyntheticMammogram(study, { laterality: 'L', view: 'CC', seriesInstanceUid: newUid(), instanceNumber: 1, sopInstanceUid }, { rows: 64, columns: 48, seed: 1 }));
  return { file, sopInstanceUid };
}

async function inOrthanc(sopInstanceUid: string): Promise<boolean> {
  const res = await fetch(new URL('/tools/lookup', config.orthanc.url), { method: 'POST', body: sopInstanceUid, headers: auth() });
  expect(res.status).toBe(200);
  return ((await res.json()) as unknown[]).length > 0;
}

/** storescu with these arguments up to the files: its exit status and what it printed. */
function storescu(args: string[], file: string): { status: number; output: string } {
  try {
    execFileSync('storescu', [...args, file], { stdio: 'pipe' });
    return { status: 0, output: '' };
  } catch (err) {
    const e = err as { status: number | null; stderr?: Buffer; stdout?: Buffer };
    return { status: e.status ?? -1, output: `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}` };
  }
}

/** An address of this machine that is not loopback: a peer connecting from it is "another host" to Orthanc. */
function otherAddress(): string | undefined {
  return Object.values(os.networkInterfaces()).flat().find((a) => a?.family === 'IPv4' && !a.internal)?.address;
}

const port = (): string => String(config.orthanc.bundled.dicomPort);
const other = otherAddress();

describe('the bundled Orthanc accepts DICOM stores only from allowed senders', () => {
  it('is the tests\' own Orthanc, with the allowed sender from the configuration', async () => {
    const res = await fetch(new URL('/system', config.orthanc.url), { headers: auth() });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { DicomAet: string }).DicomAet).toBe(config.orthanc.bundled.aet);
    expect(config.orthanc.bundled.allowedModalities).toEqual([{ aet: 'SENTINEL_SCU', host: '127.0.0.1' }]);
  });

  it.each([
    ['an unknown calling AE title', (): string[] => ['-aet', 'INTRUDER', '-aec', config.orthanc.bundled.aet, '127.0.0.1', port()], /Calling AE Title Not Recognized/],
    ['the allowed calling AE title in other letter case', (): string[] => ['-aet', 'sentinel_scu', '-aec', config.orthanc.bundled.aet, '127.0.0.1', port()], /Calling AE Title Not Recognized/],
    ['storescu\'s default calling AE title (no -aet)', (): string[] => ['-aec', config.orthanc.bundled.aet, '127.0.0.1', port()], /Calling AE Title Not Recognized/],
    ['the wrong called AE title', (): string[] => ['-aet', 'SENTINEL_SCU', '-aec', 'NOT_OUR_PACS', '127.0.0.1', port()], /Called AE Title Not Recognized/],
  ])('refuses a store with %s; the same file with the allowed titles is stored', async (_what, args, reason) => {
    const { file, sopInstanceUid } = oneImageStudy(`refused-${Math.random().toString(36).slice(2, 8)}`);
    const refused = storescu(args(), file);
    expect(refused.status).not.toBe(0);
    expect(refused.output).toMatch(reason);
    expect(await inOrthanc(sopInstanceUid)).toBe(false);

    // The refusal was for the titles, not the file: with the configured ones it is stored.
    expect(storescu(bundledStorescuArgs(config), file)).toEqual({ status: 0, output: '' });
    expect(await inOrthanc(sopInstanceUid)).toBe(true);
  });

  (other ? it : it.skip)(`refuses the allowed calling AE title from another host address (${other ?? 'none on this machine'})`, async () => {
    const { file, sopInstanceUid } = oneImageStudy('other-host');
    // Connecting to this machine's non-loopback address, the peer is that address, not 127.0.0.1.
    const refused = storescu(['-aet', 'SENTINEL_SCU', '-aec', config.orthanc.bundled.aet, other as string, port()], file);
    expect(refused.status).not.toBe(0);
    expect(refused.output).toMatch(/Calling AE Title Not Recognized/);
    expect(await inOrthanc(sopInstanceUid)).toBe(false);
  });

  (other ? it : it.skip)(`answers HTTP with valid credentials on loopback only (refused from ${other ?? 'none on this machine'})`, async () => {
    const url = new URL(config.orthanc.url);
    expect((await fetch(`http://127.0.0.1:${url.port}/system`, { headers: auth() })).status).toBe(200);
    // RemoteAccessAllowed false: Orthanc 1.10 answers 401 to any non-loopback peer, credentials or not.
    expect((await fetch(`http://${other as string}:${url.port}/system`, { headers: auth() })).status).toBe(401);
  });
});
