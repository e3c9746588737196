// Reading the receiver's ACK (HL7 v2.5.1 chapter 2): the message was accepted only when
// MSA-1 is AA (or CA) and MSA-2 repeats our MSH-10. AE/CE (application error) may pass on a
// later try; AR/CR (rejected: the message itself is unacceptable) will not.
import { Message } from 'node-hl7-client';

export type AckVerdict = { ok: true } | { ok: false; reason: string; retryable: boolean };

export function checkAck(ackText: string, expectedControlId: string): AckVerdict {
  let msa1 = '';
  let msa2 = '';
  let text = '';
  try {
    const ack = new Message({ text: ackText.replace(/\n/g, '\r').trim() });
    msa1 = ack.get('MSA.1').toString();
    msa2 = ack.get('MSA.2').toString();
    text = ack.get('MSA.3').toString() || ack.get('ERR.8').toString();
  } catch (err) {
    return { ok: false, reason: `unreadable ACK: ${(err as Error).message}`, retryable: true };
  }
  if (msa2 !== expectedControlId) return { ok: false, reason: `ACK for control id "${msa2}", expected "${expectedControlId}"`, retryable: true };
  if (msa1 === 'AA' || msa1 === 'CA') return { ok: true };
  const detail = text ? `: ${text}` : '';
  if (msa1 === 'AE' || msa1 === 'CE') return { ok: false, reason: `application error (${msa1})${detail}`, retryable: true };
  if (msa1 === 'AR' || msa1 === 'CR') return { ok: false, reason: `rejected (${msa1})${detail}`, retryable: false };
  return { ok: false, reason: `no acknowledgment code in MSA-1 ("${msa1}")`, retryable: true };
}
