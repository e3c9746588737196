// Send one HL7 message over MLLP and return the receiver's answer (the data of its first
// frame, unchanged). The socket is our own so that one message has one bounded attempt
// (connect, send, wait for the ACK, close) and retries stay with the outbox, which survives
// restarts. Whatever the peer does, the promise settles once, by timeoutMs at the latest,
// with the answer or an MllpError that says what went wrong; reading the ACK is checkAck's.
import net from 'node:net';
import { MLLPCodec } from 'node-hl7-client';
import { SentinelError } from '../../errors/errors';
import { MllpError } from './errors';
import { DEFAULT_MAX_FRAME_BYTES, MllpFrameReader, describeByte, framingByteOffset } from './framing';

export { MllpError } from './errors';

export interface MllpDestination {
  host: string;
  port: number;
  /** The whole attempt, connect to ACK: a peer that trickles its answer cannot hold us longer. */
  timeoutMs: number;
  /** Cap on the answer; DEFAULT_MAX_FRAME_BYTES (1 MiB) if unset. */
  maxAckBytes?: number;
}

export function sendMllp(message: string, dest: MllpDestination): Promise<string> {
  const peer = `${dest.host}:${dest.port}`;
  const payload = Buffer.from(message, 'utf8');
  const framing = framingByteOffset(payload);
  if (framing !== -1) {
    // The receiver would end the frame there and could acknowledge the truncated copy with
    // our control id; no retry makes such a message sendable.
    return Promise.reject(new SentinelError('bad_request', `HL7 message holds MLLP framing byte ${describeByte(payload[framing] as number)} at offset ${framing}; not sent`, false));
  }
  return new Promise((resolve, reject) => {
    const reader = new MllpFrameReader(dest.maxAckBytes ?? DEFAULT_MAX_FRAME_BYTES);
    const socket = net.connect({ host: dest.host, port: dest.port });
    let connected = false;
    let settled = false;
    const finish = (err: MllpError | undefined, ack?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(ack as string);
    };
    const received = (): string => `${reader.bytesReceived} byte${reader.bytesReceived === 1 ? '' : 's'}`;
    const timer = setTimeout(() => {
      if (!connected) finish(new MllpError(`no connection to ${peer} within ${dest.timeoutMs} ms`, 'ETIMEDOUT'));
      else if (reader.bytesReceived === 0) finish(new MllpError(`no ACK from ${peer} within ${dest.timeoutMs} ms`, 'ETIMEDOUT'));
      else finish(new MllpError(`no ACK from ${peer} within ${dest.timeoutMs} ms: ${received()} of an unfinished answer`, 'ETIMEDOUT'));
    }, dest.timeoutMs);
    socket.on('connect', () => {
      connected = true;
      new MLLPCodec('utf8').sendMessage(socket, message, 'utf8');
    });
    socket.on('data', (data: Buffer) => {
      const { frames: [first], error } = reader.push(data);
      // One message, one answer: whatever follows the first frame is not looked at.
      if (first) finish(undefined, first.toString('utf8'));
      else if (error) finish(new MllpError(`${peer}: ${error.message}`, error.code));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const when = reader.midFrame ? `in the middle of its answer (${received()})` : 'before answering';
      if (err.code === 'ECONNRESET') finish(new MllpError(`${peer} reset the connection ${when}`, err.code, { cause: err }));
      else if (err.code === 'ECONNREFUSED') finish(new MllpError(`${peer} refused the connection: nothing listening there`, err.code, { cause: err }));
      else finish(new MllpError(`MLLP to ${peer} failed ${connected ? when : 'to connect'}: ${err.message}`, err.code, { cause: err }));
    });
    socket.on('close', () => {
      finish(new MllpError(`${peer} closed the connection ${reader.midFrame ? `in the middle of its answer (${received()})` : 'before answering'}`, 'MLLP_CLOSED'));
    });
  });
}
