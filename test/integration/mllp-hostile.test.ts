// The MLLP sender and the stand-in HIS against hostile and broken peers, over real localhost
// sockets (issue 7). The peers are plain net servers and clients written here rather than an
// HL7 library, because they must do what a library never would: answer without framing,
// split a frame byte by byte, send two frames at once, hold or never send their answer,
// stream without end, reset the connection halfway.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { MllpError, sendMllp, startHisListener } from '../../src/delivery/mllp';
import { SentinelError } from '../../src/errors/errors';
import { checkAck } from '../../src/reports/hl7';

const SB = Buffer.from([0x0b]);
const EB = Buffer.from([0x1c, 0x0d]);
const CONTROL_ID = 'CTRL9';
const message = `MSH|^~\\&|SENTINEL|AI|HIS|HOSP|20261122100000||ORU^R01^ORU_R01|${CONTROL_ID}|P|2.5.1\rPID|1||123^^^^MR||Doe^Jane\rOBR|1||1.2.3^SENTINEL|X^Y^99SEN|||||||||||||||||||||F`;
const ackText = (code: string, controlId = CONTROL_ID, rest = ''): string =>
  `MSH|^~\\&|HIS|HOSP|SENTINEL|AI|20261122100001||ACK^R01^ACK|ACK1|P|2.5.1\rMSA|${code}|${controlId}${rest}`;
const frame = (payload: string | Buffer): Buffer => Buffer.concat([SB, Buffer.from(payload), EB]);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Resolves when the socket can take more, or is gone: the endless writers respect backpressure. */
function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
const dest = (port: number, timeoutMs = 3000): { host: string; port: number; timeoutMs: number } => ({ host: '127.0.0.1', port, timeoutMs });

interface Peer {
  port: number;
  close(): Promise<void>;
}

/** A TCP server that hands each connection to `answer` once our whole request has arrived. */
async function peer(answer: (socket: net.Socket, request: Buffer) => void | Promise<void>): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // The sender hangs up on a peer it has given up on, so a peer's later writes may fail.
    socket.on('error', () => undefined);
    let got = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (!got.subarray(-2).equals(EB)) return;
      socket.off('data', onData);
      Promise.resolve(answer(socket, got)).catch(() => socket.destroy());
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((done) => {
      for (const s of sockets) s.destroy();
      server.close(() => done());
    }),
  };
}

async function withPeer<T>(answer: Parameters<typeof peer>[0], body: (port: number) => Promise<T>): Promise<T> {
  const p = await peer(answer);
  try {
    return await body(p.port);
  } finally {
    await p.close();
  }
}

/**
 * The send must fail, and with one of the project's errors: checked message first, so that
 * a test that fails says what the sender did instead.
 */
async function expectFailure(send: Promise<unknown>, want: { message: RegExp; code?: string; retryable: boolean }): Promise<void> {
  const err = await send.then(
    (ack) => { throw new Error(`expected the send to fail; it returned ${JSON.stringify(ack)}`); },
    (e: unknown) => e,
  );
  expect((err as Error).message).toMatch(want.message);
  if (want.code !== undefined) expect((err as { code?: string }).code).toBe(want.code);
  expect((err as { retryable?: boolean }).retryable).toBe(want.retryable);
  expect(err).toBeInstanceOf(SentinelError);
}

/** Writes `bytes` to a stand-in HIS and reads ACK frames back until `frames` have arrived or it hangs up. */
function talkToHis(port: number, bytes: Buffer, frames: number): Promise<{ acks: string[]; closedByHis: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    const acks = (): string[] => got.toString('utf8').split('\x1c\r').filter((s) => s.length > 0).map((s) => s.replace(/^\x0b/, ''));
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (acks().length >= frames) {
        socket.destroy();
        resolve({ acks: acks(), closedByHis: false });
      }
    });
    socket.on('close', () => resolve({ acks: acks(), closedByHis: true }));
    setTimeout(() => { socket.destroy(); reject(new Error('the HIS neither answered nor hung up within 5 s')); }, 5000).unref();
  });
}

describe('MLLP sender against hostile peers', () => {
  it('(1) bytes without MLLP framing, then a close, fail as a framing error', async () => {
    await withPeer((s) => { s.end('HTTP/1.1 400 Bad Request\r\n\r\n'); }, (port) =>
      expectFailure(sendMllp(message, dest(port)), { message: /not MLLP-framed.*0x48/, code: 'MLLP_FRAMING', retryable: true }));
    // The library codec took any buffer holding 0x1C and 0x0D for a whole frame, start block or not.
    await withPeer((s) => { s.end(Buffer.from([0x00, 0xff, 0x1c, 0x0d, 0x41])); }, (port) =>
      expectFailure(sendMllp(message, dest(port)), { message: /not MLLP-framed.*0x00/, code: 'MLLP_FRAMING', retryable: true }));
  });

  it('(2) a well-framed answer that is not HL7 is refused as not an acknowledgment', async () => {
    const garbage = Buffer.from([0x54, 0x68, 0x69, 0x73, 0x00, 0x7f, 0xc3, 0x28, 0x20, 0x7c]);
    const ack = await withPeer((s) => { s.write(frame(garbage)); }, (port) => sendMllp(message, dest(port)));
    expect(checkAck(ack, CONTROL_ID)).toEqual({ ok: false, retryable: true, reason: expect.stringMatching(/not an HL7 message: it does not begin with an MSH segment/) });
    expect(checkAck('', CONTROL_ID)).toMatchObject({ ok: false, retryable: true, reason: expect.stringMatching(/empty/) });
  });

  it('(2) an end block without its carriage return is a framing error, not the end of the answer', async () => {
    await withPeer((s) => { s.write(Buffer.concat([SB, Buffer.from(ackText('AA')), Buffer.from([0x1c, 0x41])])); }, (port) =>
      expectFailure(sendMllp(message, dest(port)), { message: /end block 0x1C followed by 0x41 \('A'\), not 0x0D, at byte 85/, code: 'MLLP_FRAMING', retryable: true }));
  });

  it('(3) an ACK for another control id does not acknowledge ours', async () => {
    const ack = await withPeer((s) => { s.write(frame(ackText('AA', 'CTRL8'))); }, (port) => sendMllp(message, dest(port)));
    expect(checkAck(ack, CONTROL_ID)).toEqual({ ok: false, retryable: true, reason: 'ACK for control id "CTRL8", expected "CTRL9"' });
  });

  it('(4) an ACK split across many TCP packets, one byte at a time, is assembled and accepted', async () => {
    const bytes = frame(ackText('AA'));
    const ack = await withPeer(async (s) => {
      s.setNoDelay(true);
      for (let i = 0; i < bytes.length; i++) {
        s.write(bytes.subarray(i, i + 1));
        // The longest pause sits between the end block and its carriage return.
        await sleep(i === bytes.length - 2 ? 100 : 2);
      }
    }, (port) => sendMllp(message, dest(port, 5000)));
    expect(ack).toBe(ackText('AA'));
    expect(checkAck(ack, CONTROL_ID)).toEqual({ ok: true });
  });

  it('(5) two frames in one packet: the first is the answer, exactly as sent', async () => {
    const ack = await withPeer((s) => { s.write(Buffer.concat([frame(ackText('AA')), frame(ackText('AR', 'CTRL8'))])); }, (port) => sendMllp(message, dest(port)));
    expect(ack).toBe(ackText('AA'));
    expect(checkAck(ack, CONTROL_ID)).toEqual({ ok: true });
  });

  it('(5) a whole ACK followed by garbage in the same packet is still the answer', async () => {
    const ack = await withPeer((s) => { s.write(Buffer.concat([frame(ackText('AA')), Buffer.from('trailing junk')])); }, (port) => sendMllp(message, dest(port)));
    expect(ack).toBe(ackText('AA'));
  });

  it('(6) a peer that accepts and never answers times out after timeoutMs, retryably', async () => {
    await withPeer(() => undefined, async (port) => {
      const started = Date.now();
      await expectFailure(sendMllp(message, dest(port, 300)), { message: /no ACK from 127\.0\.0\.1:\d+ within 300 ms/, code: 'ETIMEDOUT', retryable: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(Date.now() - started).toBeLessThan(1500);
    });
  });

  it('(7) a slow answer within the timeout is accepted', async () => {
    await withPeer(async (s) => { await sleep(700); s.write(frame(ackText('AA'))); }, async (port) => {
      const started = Date.now();
      const ack = await sendMllp(message, dest(port, 2500));
      expect(Date.now() - started).toBeGreaterThanOrEqual(690);
      expect(checkAck(ack, CONTROL_ID)).toEqual({ ok: true });
    });
  });

  it('(8) an answer after the timeout is refused, retryably, at the timeout and not when it comes', async () => {
    let lateWrite = 0;
    await withPeer(async (s) => { await sleep(1500); lateWrite = Date.now(); s.write(frame(ackText('AA'))); }, async (port) => {
      const started = Date.now();
      await expectFailure(sendMllp(message, dest(port, 300)), { message: /no ACK from .* within 300 ms/, code: 'ETIMEDOUT', retryable: true });
      expect(Date.now() - started).toBeLessThan(1200);
      await sleep(1400);
      expect(lateWrite).toBeGreaterThan(0);
    });
  });

  it.each([
    ['AA', { ok: true }],
    ['CA', { ok: true }],
    ['AE', { ok: false, retryable: true, reason: 'application error (AE): because' }],
    ['CE', { ok: false, retryable: true, reason: 'commit error (CE): because' }],
    ['AR', { ok: false, retryable: false, reason: 'rejected (AR): because' }],
    ['CR', { ok: false, retryable: false, reason: 'commit reject (CR): because' }],
    ['XX', { ok: false, retryable: true, reason: 'MSA-1 "XX" is not an acknowledgment code (table 0008)' }],
    ['', { ok: false, retryable: true, reason: 'MSA-1 "" is not an acknowledgment code (table 0008)' }],
  ])('(9) MSA-1 %s', async (code, verdict) => {
    const ack = await withPeer((s) => { s.write(frame(ackText(code, CONTROL_ID, code.startsWith('A') || code.startsWith('C') ? '|because' : ''))); }, (port) => sendMllp(message, dest(port)));
    expect(checkAck(ack, CONTROL_ID)).toEqual(verdict);
  });

  it('(9) the stand-in HIS answering AR is refused for good', async () => {
    const his = await startHisListener({ port: 0, ackCode: 'AR' });
    try {
      expect(checkAck(await sendMllp(message, dest(his.port)), CONTROL_ID)).toEqual({ ok: false, retryable: false, reason: 'rejected (AR): rejected (test listener)' });
    } finally {
      await his.close();
    }
  });

  it('(10) an answer without an MSA segment is not an acknowledgment', async () => {
    const noMsa = 'MSH|^~\\&|HIS|HOSP|SENTINEL|AI|20261122100001||ACK^R01^ACK|ACK1|P|2.5.1';
    for (const answer of [noMsa, `${noMsa}\rMSAX|AA|${CONTROL_ID}`, message]) {
      const ack = await withPeer((s) => { s.write(frame(answer)); }, (port) => sendMllp(message, dest(port)));
      expect(checkAck(ack, CONTROL_ID)).toEqual({ ok: false, retryable: true, reason: 'no MSA segment: the answer is not an acknowledgment' });
    }
    const twice = `${ackText('AA')}\rMSA|AR|${CONTROL_ID}`;
    expect(checkAck(twice, CONTROL_ID)).toEqual({ ok: false, retryable: true, reason: '2 MSA segments: the acknowledgment is ambiguous' });
  });

  it('(11) an endless answer without an end block is cut off at 1 MiB with a clear error', async () => {
    let written = 0;
    await withPeer(async (s) => {
      s.write(SB);
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      // Stops at 64 MiB so that a sender without a cap fails this test instead of the machine.
      while (!s.destroyed && written < 64 * 1024 * 1024) {
        written += chunk.length;
        if (!s.write(chunk)) await drained(s);
      }
    }, async (port) => {
      const started = Date.now();
      await expectFailure(sendMllp(message, dest(port, 20000)), { message: /more than 1048576 bytes without an end block/, code: 'MLLP_TOO_LARGE', retryable: true });
      expect(Date.now() - started).toBeLessThan(5000);
    });
    expect(written).toBeGreaterThan(1024 * 1024);
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('(12) a peer that resets the connection mid-answer fails with a reset, retryably', async () => {
    const half = Buffer.from(ackText('AA')).subarray(0, 40);
    await withPeer(async (s) => { s.write(Buffer.concat([SB, half])); await sleep(50); s.resetAndDestroy(); }, (port) =>
      expectFailure(sendMllp(message, dest(port)), { message: /reset the connection in the middle of its answer \(41 bytes\)/, code: 'ECONNRESET', retryable: true }));
    await withPeer(async (s) => { s.write(Buffer.concat([SB, half])); await sleep(50); s.end(); }, (port) =>
      expectFailure(sendMllp(message, dest(port)), { message: /closed the connection in the middle of its answer \(41 bytes\)/, code: 'MLLP_CLOSED', retryable: true }));
    await withPeer((s) => { s.resetAndDestroy(); }, (port) =>
      expectFailure(sendMllp(message, dest(port)), { message: /reset the connection before answering/, code: 'ECONNRESET', retryable: true }));
  });

  it('a message holding MLLP framing bytes is refused before it is sent: the HIS would acknowledge a truncated copy', async () => {
    const his = await startHisListener({ port: 0 });
    try {
      const smuggled = `${message}\x1c\rMSH|^~\\&|X`;
      await expectFailure(sendMllp(smuggled, dest(his.port)), { message: /byte 0x1C at offset \d+/, retryable: false });
      await sleep(100);
      expect(his.messages).toEqual([]);
    } finally {
      await his.close();
    }
  });

  it('MllpError is one of the project errors: unavailable and retryable', () => {
    const err = new MllpError('x', 'ETIMEDOUT');
    expect(err).toBeInstanceOf(SentinelError);
    expect([err.kind, err.status, err.retryable, err.code, err.name]).toEqual(['unavailable', 503, true, 'ETIMEDOUT', 'MllpError']);
  });
});

describe('stand-in HIS against hostile senders', () => {
  const oru = (id: string): string => message.replace(`|${CONTROL_ID}|`, `|${id}|`);

  it('two messages in one packet are two messages with two ACKs, in order', async () => {
    const his = await startHisListener({ port: 0 });
    try {
      const { acks } = await talkToHis(his.port, Buffer.concat([frame(oru('ONE')), frame(oru('TWO'))]), 2);
      expect(his.messages).toEqual([oru('ONE'), oru('TWO')]);
      expect(acks.map((a) => checkAck(a, a.includes('|ONE') ? 'ONE' : 'TWO'))).toEqual([{ ok: true }, { ok: true }]);
      expect(acks[0]).toContain('MSA|AA|ONE');
      expect(acks[1]).toContain('MSA|AA|TWO');
    } finally {
      await his.close();
    }
  });

  it('a message split byte by byte is one message', async () => {
    const his = await startHisListener({ port: 0 });
    try {
      const ack = await new Promise<string>((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port: his.port });
        socket.setNoDelay(true);
        socket.on('error', () => undefined);
        socket.on('data', (d: Buffer) => { resolve(d.toString('utf8')); socket.destroy(); });
        socket.on('connect', () => {
          const bytes = frame(oru('SPLIT'));
          void (async () => { for (let i = 0; i < bytes.length; i++) { if (socket.destroyed) return; socket.write(bytes.subarray(i, i + 1)); await sleep(1); } })();
        });
      });
      expect(his.messages).toEqual([oru('SPLIT')]);
      expect(ack).toContain('MSA|AA|SPLIT');
    } finally {
      await his.close();
    }
  });

  it('an endless message is cut off: the HIS hangs up and keeps nothing', async () => {
    const his = await startHisListener({ port: 0, maxMessageBytes: 1024 * 1024 });
    try {
      const socket = net.connect({ host: '127.0.0.1', port: his.port });
      socket.on('error', () => undefined);
      const closed = new Promise<void>((r) => socket.on('close', () => r()));
      await new Promise<void>((r) => socket.on('connect', () => r()));
      socket.write(SB);
      let written = 0;
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      while (!socket.destroyed && written < 64 * 1024 * 1024) {
        written += chunk.length;
        if (!socket.write(chunk)) await drained(socket);
      }
      await closed;
      expect(written).toBeLessThan(64 * 1024 * 1024);
      expect(his.messages).toEqual([]);
    } finally {
      await his.close();
    }
  });

  it('bytes outside a frame make the HIS hang up without answering', async () => {
    const his = await startHisListener({ port: 0 });
    try {
      const { acks, closedByHis } = await talkToHis(his.port, Buffer.from('GET / HTTP/1.1\r\n\r\n'), 1);
      expect([acks, closedByHis, his.messages]).toEqual([[], true, []]);
    } finally {
      await his.close();
    }
  });

  it('a frame that is not HL7 is kept and answered with a reject, and the HIS goes on', async () => {
    const his = await startHisListener({ port: 0 });
    try {
      const { acks } = await talkToHis(his.port, Buffer.concat([frame('not HL7 at all'), frame(oru('AFTER'))]), 2);
      expect(his.messages).toEqual(['not HL7 at all', oru('AFTER')]);
      expect(checkAck(acks[0] ?? '', '')).toEqual({ ok: false, retryable: false, reason: 'rejected (AR): unreadable message (test listener)' });
      expect(checkAck(acks[1] ?? '', 'AFTER')).toEqual({ ok: true });
    } finally {
      await his.close();
    }
  });

  it('ackDelayMs holds the ACK; each message is recorded with when it came and when it was acknowledged', async () => {
    const his = await startHisListener({ port: 0, ackDelayMs: 400 });
    try {
      const before = Date.now();
      const ack = await sendMllp(message, dest(his.port, 3000));
      const after = Date.now();
      expect(checkAck(ack, CONTROL_ID)).toEqual({ ok: true });
      expect(after - before).toBeGreaterThanOrEqual(390);
      expect(his.messages).toEqual([message]);
      expect(his.received).toHaveLength(1);
      const [got] = his.received;
      expect(got?.text).toBe(message);
      expect(got?.receivedAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(got?.receivedAt.getTime()).toBeLessThan(before + 300);
      expect((got?.ackedAt?.getTime() ?? 0) - (got?.receivedAt.getTime() ?? 0)).toBeGreaterThanOrEqual(390);
    } finally {
      await his.close();
    }
  });

  it('a sender that goes away while the HIS holds its ACK leaves the message received and unacknowledged', async () => {
    const his = await startHisListener({ port: 0, ackDelayMs: 600 });
    try {
      await expectFailure(sendMllp(message, dest(his.port, 200)), { message: /no ACK/, code: 'ETIMEDOUT', retryable: true });
      await sleep(800);
      expect(his.received).toEqual([{ text: message, receivedAt: expect.any(Date) }]);
      expect(his.messages).toEqual([message]);
    } finally {
      await his.close();
    }
  });

  it('closing the HIS while it holds an ACK neither hangs nor answers afterwards', async () => {
    const his = await startHisListener({ port: 0, ackDelayMs: 5000 });
    const send = sendMllp(message, dest(his.port, 3000));
    while (his.messages.length === 0) await sleep(10);
    const started = Date.now();
    await his.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expectFailure(send, { message: /closed the connection before answering/, code: 'MLLP_CLOSED', retryable: true });
    expect(his.received[0]?.ackedAt).toBeUndefined();
  });
});
