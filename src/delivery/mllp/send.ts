// Send one HL7 message over MLLP (HL7 v2 Transport: 0x0B message 0x1C 0x0D) and return the
// receiver's ACK. Framing is node-hl7-client's MLLPCodec; the socket is our own so that one
// message has one bounded attempt (connect, send, wait for the ACK, close) and retries stay
// with the outbox, which survives restarts.
import net from 'node:net';
import { MLLPCodec } from 'node-hl7-client';

export class MllpError extends Error {
  readonly retryable = true;
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'MllpError';
  }
}

export interface MllpDestination {
  host: string;
  port: number;
  timeoutMs: number;
}

export function sendMllp(message: string, dest: MllpDestination): Promise<string> {
  return new Promise((resolve, reject) => {
    const codec = new MLLPCodec('utf8');
    const socket = net.connect({ host: dest.host, port: dest.port });
    let settled = false;
    const finish = (err: Error | undefined, ack?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(ack as string);
    };
    const timer = setTimeout(() => finish(new MllpError(`no ACK from ${dest.host}:${dest.port} within ${dest.timeoutMs} ms`, 'ETIMEDOUT')), dest.timeoutMs);
    socket.on('connect', () => codec.sendMessage(socket, message, 'utf8'));
    socket.on('data', (data: Buffer) => {
      if (codec.receiveData(data)) finish(undefined, codec.getLastMessage() ?? '');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => finish(new MllpError(`MLLP to ${dest.host}:${dest.port}: ${err.message}`, err.code)));
    socket.on('close', () => finish(new MllpError(`${dest.host}:${dest.port} closed the connection before acknowledging`, 'ECONNRESET')));
  });
}
