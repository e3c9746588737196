// A small HL7 listener that stands in for the hospital information system in the demo and
// the tests: it receives MLLP-framed messages, keeps them, and answers each with an ACK
// (MSA-1 as configured, MSA-2 = the message's MSH-10), framed by node-hl7-client's codec.
// Not node-hl7-server: the tests need an ephemeral port (listen on 0 and read it back), a
// silent HIS that never answers, one that holds its ACK, and AE/AR verdicts on demand, and
// the demo needs it at run time; on a plain socket this is a page. Frames are read by our
// MllpFrameReader, not the codec, for the reasons in framing.ts: two messages in one packet
// are two messages, and an endless one is cut off instead of filling memory.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { MLLPCodec } from 'node-hl7-client';
import { buildAck } from '../../reports/hl7/ack';
import { hl7Timestamp } from '../../reports/hl7/oru-r01';
import { MllpFrameReader } from './framing';

export interface ReceivedMessage {
  text: string;
  /** When the frame's last byte arrived. */
  receivedAt: Date;
  /** When the ACK was written; unset while held (ackDelayMs), if silent, or if the sender left first. */
  ackedAt?: Date;
}

export interface HisListener {
  port: number;
  /** Each message's text, in arrival order. */
  messages: string[];
  /** The same messages with their times, for tests that kill or stall a sender around an ACK. */
  received: ReceivedMessage[];
  close(): Promise<void>;
}

export interface HisListenerOptions {
  host?: string;
  port: number;
  ackCode?: 'AA' | 'AE' | 'AR';
  /** Receive and keep messages but never answer. */
  silent?: boolean;
  /** Hold each ACK this long after its message arrived, so a test can stop the sender meanwhile. */
  ackDelayMs?: number;
  /** A longer frame makes the listener hang up; an ORU is a few kilobytes. */
  maxMessageBytes?: number;
  onMessage?: (text: string) => void;
}

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * What the listener answers to a frame it cannot read as HL7: a reject naming no control id.
 * Written out by hand, as the Message builder refuses a header without a trigger event.
 */
function rejectUnreadable(now: Date): string {
  return `MSH|^~\\&|||||${hl7Timestamp(now)}||ACK|ACK${now.getTime()}|P|2.5.1\rMSA|AR||unreadable message (test listener)`;
}

export function startHisListener(opts: HisListenerOptions): Promise<HisListener> {
  const messages: string[] = [];
  const received: ReceivedMessage[] = [];
  const sockets = new Set<net.Socket>();
  const codec = new MLLPCodec('utf8');
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const held = new Set<NodeJS.Timeout>();
    socket.on('close', () => {
      sockets.delete(socket);
      for (const t of held) clearTimeout(t);
    });
    socket.on('error', () => socket.destroy());
    const reader = new MllpFrameReader(opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    const answer = (entry: ReceivedMessage): void => {
      if (socket.destroyed || !socket.writable) return;
      let ack: string;
      try {
        ack = buildAck(entry.text, opts.ackCode ?? 'AA');
      } catch {
        ack = rejectUnreadable(new Date());
      }
      codec.sendMessage(socket, ack, 'utf8');
      entry.ackedAt = new Date();
    };
    socket.on('data', (data: Buffer) => {
      const { frames, error } = reader.push(data);
      // After bad bytes the stream has lost its frame boundaries (or would not end), so hang
      // up as a HIS engine does. Whole frames before them are kept but not acknowledged: the
      // sender sees no ACK and sends them again, as it would after any broken connection.
      if (error) socket.destroy();
      for (const f of frames) {
        const entry: ReceivedMessage = { text: f.toString('utf8'), receivedAt: new Date() };
        messages.push(entry.text);
        received.push(entry);
        opts.onMessage?.(entry.text);
        if (opts.silent) continue;
        if (!opts.ackDelayMs) {
          answer(entry);
          continue;
        }
        const t = setTimeout(() => {
          held.delete(t);
          answer(entry);
        }, opts.ackDelayMs);
        held.add(t);
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        messages,
        received,
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}
