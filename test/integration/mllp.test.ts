// MLLP over real localhost sockets: the sender against the stand-in HIS.
import net from 'node:net';
import { MllpError, sendMllp, startHisListener } from '../../src/delivery/mllp';
import { checkAck } from '../../src/reports/hl7';

const message = 'MSH|^~\\&|SENTINEL|AI|HIS|HOSP|20261122100000||ORU^R01^ORU_R01|CTRL9|P|2.5.1\rPID|1||123^^^^MR||Doe^Jane\rOBR|1||1.2.3^SENTINEL|X^Y^99SEN|||||||||||||||||||||F';

describe('MLLP delivery', () => {
  it('the HIS receives exactly the message and the ACK it returns passes', async () => {
    const his = await startHisListener({ port: 0 });
    try {
      const ack = await sendMllp(message, { host: '127.0.0.1', port: his.port, timeoutMs: 5000 });
      expect(his.messages).toEqual([message]);
      expect(checkAck(ack, 'CTRL9')).toEqual({ ok: true });
    } finally {
      await his.close();
    }
  });

  it('an HIS answering AE gives a retryable refusal', async () => {
    const his = await startHisListener({ port: 0, ackCode: 'AE' });
    try {
      const ack = await sendMllp(message, { host: '127.0.0.1', port: his.port, timeoutMs: 5000 });
      expect(checkAck(ack, 'CTRL9')).toMatchObject({ ok: false, retryable: true });
    } finally {
      await his.close();
    }
  });

  it('a closed port fails fast with a retryable error', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const started = Date.now();
    await expect(sendMllp(message, { host: '127.0.0.1', port, timeoutMs: 5000 })).rejects.toBeInstanceOf(MllpError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('an HIS that never answers times out', async () => {
    const his = await startHisListener({ port: 0, silent: true });
    try {
      await expect(sendMllp(message, { host: '127.0.0.1', port: his.port, timeoutMs: 300 })).rejects.toThrow(/no ACK/);
      expect(his.messages).toHaveLength(1);
    } finally {
      await his.close();
    }
  });
});
