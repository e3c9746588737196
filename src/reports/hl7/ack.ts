// Reading the receiver's ACK: the message was accepted only when MSA-1 accepts it and MSA-2
// repeats our MSH-10. The ACK is read here by hand and strictly, not with node-hl7-client's
// Message: that reader takes a segment named "MSAX" for MSA, answers a missing MSA with empty
// fields (so a HIS echoing our ORU back read as 'an ACK for control id ""'), and throws
// library wording on garbage. Each refusal says what was wrong with the answer; none quotes
// more than a clipped MSA-3/ERR-8 text, as an answer may echo patient data.
//
// Which codes are tried again (HL7 v2.5.1 chapter 2: §2.9 message processing rules, with
// §2.9.2 the original and §2.9.3 the enhanced acknowledgment mode; MSA-1 values are HL7
// table 0008, §2.15.8.1). Our ORU asks for the enhanced mode's accept acknowledgment only
// (MSH-15 AL, MSH-16 NE), but many HIS engines ignore MSH-15/16 and answer in the original
// mode, so both sets are read:
// - AA (original, application accept): delivered.
// - AE (original, application error: the receiving application found an error processing
//   the message): tried again. From a HIS this is mostly "patient or order not known yet",
//   which passes once the HIS has caught up; the outbox caps the tries.
// - AR (original, application reject): not tried again. Table 0008 leaves resending to the
//   sender, and §2.9.2 also answers AR when the receiver refuses MSH-9, MSH-11 or MSH-12,
//   which never change for our ORU, so an automatic resend could be refused forever; the row
//   fails with the HIS's reason and can be sent again by hand (POST /outputs/:id/retry).
// - CA (enhanced, commit accept: the receiver has taken responsibility for the message):
//   delivered, as MSH-16 NE asks for no application acknowledgment after it.
// - CE (enhanced, commit error: it cannot accept the message for another reason, e.g. a
//   sequence number): tried again.
// - CR (enhanced, commit reject: message type, version or processing id unacceptable): not
//   tried again, for the same reason as AR.
// Anything else (no MSA, another control id, a code outside table 0008) is a broken answer,
// not a verdict on the message: tried again, as with a HIS that did not answer at all.

import { Message } from 'node-hl7-client';
import { hl7Timestamp } from './oru-r01';

export type AckVerdict = { ok: true } | { ok: false; reason: string; retryable: boolean };

const MAX_TEXT = 200;

/** A peer's text as a reason may quote it: one line, and short. */
function clip(s: string): string {
  const line = s.replace(/[\x00-\x1f\x7f]/g, ' ');
  return line.length > MAX_TEXT ? `${line.slice(0, MAX_TEXT)}...` : line;
}

export function checkAck(ackText: string, expectedControlId: string): AckVerdict {
  const refuse = (reason: string, retryable = true): AckVerdict => ({ ok: false, reason, retryable });
  if (ackText.trim() === '') return refuse('empty ACK');
  const segments = ackText.split(/\r\n|\r|\n/).filter((s) => s.length > 0);
  const msh = segments[0] ?? '';
  const fieldSeparator = msh.startsWith('MSH') ? msh[3] : undefined;
  if (fieldSeparator === undefined || /[\sA-Za-z0-9]/.test(fieldSeparator)) {
    return refuse(`not an HL7 message: it does not begin with an MSH segment (${Buffer.byteLength(ackText, 'utf8')} bytes)`);
  }
  const fieldsOf = (id: string): string[][] => segments.filter((s) => s === id || s.startsWith(`${id}${fieldSeparator}`)).map((s) => s.split(fieldSeparator));
  const msas = fieldsOf('MSA');
  if (msas.length === 0) return refuse('no MSA segment: the answer is not an acknowledgment');
  if (msas.length > 1) return refuse(`${msas.length} MSA segments: the acknowledgment is ambiguous`);
  const msa = msas[0] as string[];
  const [msa1 = '', msa2 = '', msa3 = ''] = msa.slice(1);
  if (msa2 !== expectedControlId) return refuse(`ACK for control id "${clip(msa2)}", expected "${expectedControlId}"`);
  if (msa1 === 'AA' || msa1 === 'CA') return { ok: true };
  const text = msa3 || (fieldsOf('ERR')[0]?.[8] ?? '');
  const detail = text ? `: ${clip(text)}` : '';
  switch (msa1) {
    case 'AE': return refuse(`application error (AE)${detail}`);
    case 'CE': return refuse(`commit error (CE)${detail}`);
    case 'AR': return refuse(`rejected (AR)${detail}`, false);
    case 'CR': return refuse(`commit reject (CR)${detail}`, false);
    default: return refuse(`MSA-1 "${clip(msa1)}" is not an acknowledgment code (table 0008)`);
  }
}

/**
 * The acknowledgment a receiver answers to `received` (original mode): MSA-1 the code, MSA-2
 * the message's MSH-10, sender and receiver swapped. Written by the stand-in HIS, read back by
 * checkAck above; the two live together so that they agree.
 */
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
