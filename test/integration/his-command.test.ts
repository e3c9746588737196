// `sentinel his` as a user runs it, in its own process: it listens where asked, answers each
// ORU with the ACK asked for (read back by python3-hl7), prints the message and keeps it as a
// file, refuses a port that is taken with a sentence, and stops on SIGTERM.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config/load';
import { sendMllp } from '../../src/delivery/mllp';
import { buildOruR01 } from '../../src/reports/hl7';
import { mammography } from '../../src/pipelines/mammography';
import { freePort } from '../support/child';

interface Running { child: ChildProcess; out: () => string; exited: Promise<number | null> }

async function startHis(args: string[]): Promise<Running> {
  let out = '';
  const child = spawn(process.execPath, ['-r', path.join(projectRoot, 'test/support/ts-register.js'), path.join(projectRoot, 'src/cli/main.ts'), 'his', ...args], { cwd: projectRoot, env: { ...process.env, SENTINEL_CONFIG: '' } });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!out.includes('listening on') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return { child, out: () => out, exited };
}

const ref = { studyInstanceUid: '1.2.3.4', seriesInstanceUid: '1.2.3.4.5', sopInstanceUid: '1.2.3.4.5.6', sopClassUid: '1.2.840.10008.5.1.4.1.1.1.2', rows: 10, columns: 10 };
const oru = (controlId: string): string => buildOruR01({
  result: { studyInstanceUid: '1.2.3.4', pipeline: 'mammography', model: { id: 'm', version: '1', name: 'M' }, score: 0.2, category: 'low', breasts: {}, images: [{ image: ref, score: 0.2, findings: [] }] },
  study: { studyInstanceUid: '1.2.3.4', accessionNumber: 'ACC-HIS' },
  sender: { application: 'SENTINEL', facility: 'AI' }, receiver: { application: 'HIS', facility: 'HOSP' },
  messageControlId: controlId, timestamp: new Date('2026-12-02T10:00:00Z'), reporting: mammography.reporting,
});

function msa(ack: string): string {
  const res = spawnSync('/usr/bin/python3', ['-c', 'import hl7,sys; m=hl7.parse(sys.stdin.read()); print(m.segment("MSA")[1], m.segment("MSA")[2])'], { input: ack, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(res.stderr);
  return res.stdout.trim();
}

describe('sentinel his', () => {
  it('answers AA, prints the message and keeps it; stops on SIGTERM', async () => {
    const port = await freePort();
    const keep = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-his-'));
    const his = await startHis(['--port', String(port), '--keep', keep]);
    try {
      expect(his.out()).toContain(`listening on 127.0.0.1:${port}, answering AA`);
      const ack = await sendMllp(oru('HIS-CTRL-1'), { host: '127.0.0.1', port, timeoutMs: 10_000 });
      expect(msa(ack)).toBe('AA HIS-CTRL-1');
      const deadline = Date.now() + 10_000;
      while (!his.out().includes('OBX|') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(his.out()).toContain('his: ORU^R01^ORU_R01 HIS-CTRL-1 received, answered AA');
      expect(his.out()).toMatch(/\n {2}MSH\|\^~\\&\|SENTINEL\|AI\|HIS\|HOSP\|/);
      const files = fs.readdirSync(keep);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/-HIS-CTRL-1\.hl7$/);
      expect(fs.readFileSync(path.join(keep, files[0]!), 'utf8')).toBe(`${oru('HIS-CTRL-1')}\r`.replace(/\r\r$/, '\r'));
    } finally {
      his.child.kill('SIGTERM');
    }
    expect(await his.exited).toBe(0);
  });

  it('answers AE when asked, and says so', async () => {
    const port = await freePort();
    const his = await startHis(['--port', String(port), '--ack', 'ae', '--keep', fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-his-'))]);
    try {
      expect(msa(await sendMllp(oru('HIS-CTRL-2'), { host: '127.0.0.1', port, timeoutMs: 10_000 }))).toBe('AE HIS-CTRL-2');
    } finally {
      his.child.kill('SIGTERM');
    }
    await his.exited;
  });

  it('refuses a port that is taken, and a bad --ack, with a sentence and a non-zero exit', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const his = await startHis(['--port', String(port)]);
      expect(await his.exited).toBe(1);
      expect(his.out()).toContain(`his: cannot listen on 127.0.0.1:${port}`);
    } finally {
      taken.close();
    }
    const bad = await startHis(['--ack', 'OK']);
    expect(await bad.exited).toBe(2);
    expect(bad.out()).toContain('--ack OK is not one of AA, AE, AR');
  });
});
