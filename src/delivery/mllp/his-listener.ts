// A small HL7 listener that stands in for the hospital information system in the demo and
// the tests: it receives MLLP-framed messages, keeps them, and answers each with an ACK
// (MSA-1 as configured, MSA-2 = the message's MSH-10), framed by node-hl7-client's codec.
// Not node-hl7-server: the tests need an ephemeral port (listen on 0 and read it back), a
// silent HIS that never answers, and AE/AR verdicts on demand, and the demo needs it at run
// time; on a plain socket with the client library's codec and Message this is a page.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { MLLPCodec, Message } from 'node-hl7-client';
import { hl7Timestamp } from '../../reports/hl7/oru-r01';

export interface HisListener {
  port: number;
  messages: string[];
  close(): Promise<void>;
}

export function buildAck(received: string, code: 'AA' | 'AE' | 'AR', now = new Date()): string {
  const msg = new Message({ text: received });
  const ack = new Message({
    messageHeader: { msh_9_1: 'ACK', msh_9_2: msg.get('MSH.9.2').toString(), msh_9_3: 'ACK', msh_10: `ACK${now.getTime()}`, msh_11_1: (msg.get('MSH.11.1').toString() || 'P') as 'P' | 'T' | 'D' },
  });
  ack.set('MSH.3', msg.get('MSH.5').toString());
  ack.set('MSH.4', msg.get('MSH.6').toString());
  ack.set('MSH.5', msg.get('MSH.3').toString());
  ack.set('MSH.6', msg.get('MSH.4').toString());
  ack.set('MSH.7', hl7Timestamp(now));
  ack.set('MSH.12', msg.get('MSH.12').toString() || '2.5.1');
  const msa = ack.addSegment('MSA');
  msa.set('1', code);
  msa.set('2', msg.get('MSH.10').toString());
  if (code !== 'AA') msa.set('3', code === 'AE' ? 'application error (test listener)' : 'rejected (test listener)');
  return ack.toString();
}

export function startHisListener(opts: { host?: string; port: number; ackCode?: 'AA' | 'AE' | 'AR'; silent?: boolean; onMessage?: (text: string) => void }): Promise<HisListener> {
  const messages: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const codec = new MLLPCodec('utf8');
    socket.on('data', (data: Buffer) => {
      if (!codec.receiveData(data)) return;
      const text = codec.getLastMessage() ?? '';
      messages.push(text);
      opts.onMessage?.(text);
      if (!opts.silent) codec.sendMessage(socket, buildAck(text, opts.ackCode ?? 'AA'), 'utf8');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        messages,
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}
