// Why one MLLP attempt failed. Every such failure is worth another try later (the HIS may be
// restarting, a proxy may be misbehaving, a reset may be transient), and the outbox bounds
// the tries, so this is the service's 'unavailable' kind; `code` tells the cases apart for
// logs and tests: Node's socket codes (ECONNREFUSED, ECONNRESET, ...) where the socket said
// so, ETIMEDOUT for our own deadline, and the MLLP_* codes below for what the peer sent.
import { SentinelError } from '../../errors/errors';

export type MllpErrorCode =
  /** Bytes outside a frame, or a frame that breaks the <SB> data <EB><CR> rule. */
  | 'MLLP_FRAMING'
  /** A frame longer than the reader's cap. */
  | 'MLLP_TOO_LARGE'
  /** The peer closed its side cleanly without sending a whole frame. */
  | 'MLLP_CLOSED'
  | 'ETIMEDOUT'
  | (string & {});

export class MllpError extends SentinelError {
  constructor(message: string, readonly code?: MllpErrorCode, options?: { cause?: unknown }) {
    super('unavailable', message, true, options);
    this.name = 'MllpError';
  }
}
