// MLLP framing (HL7 v2 Minimal Lower Layer Protocol, Release 1 as used by every HIS engine):
// each message travels as <SB=0x0B> data <EB=0x1C><CR=0x0D>, and the data may not contain SB
// or EB. Sending is node-hl7-client's MLLPCodec.sendMessage, which does exactly that.
// Receiving is our own, because the codec's receiveData (node-hl7-client 3.2.0) calls a
// buffer complete as soon as it holds a 0x1C and a 0x0D anywhere, with or without a start
// block, merges two frames that arrive in one packet into one "message", trims every
// segment, and buffers without limit (re-copying the whole buffer on each packet). A HIS or
// a port scanner must not be able to make Sentinel accept garbage as an ACK or grow memory
// until it dies, so this reader is strict and bounded, and pure: bytes in, frames out.
import { MllpError } from './errors';

export const START_BLOCK = 0x0b;
export const END_BLOCK = 0x1c;
export const CARRIAGE_RETURN = 0x0d;
const LINE_FEED = 0x0a;

/** An ACK is a few hundred bytes; a megabyte without an end block is a broken or hostile peer. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** A byte as an error names it: its value, and the character only when printable ASCII (never more, to keep patient data out of logs). */
export function describeByte(b: number): string {
  const hex = `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return b >= 0x20 && b < 0x7f ? `${hex} ('${String.fromCharCode(b)}')` : hex;
}

/** Where `data` holds a framing byte, which would end or restart the frame early; -1 if none. */
export function framingByteOffset(data: Buffer): number {
  const sb = data.indexOf(START_BLOCK);
  const eb = data.indexOf(END_BLOCK);
  if (sb === -1) return eb;
  return eb === -1 ? sb : Math.min(sb, eb);
}

export class MllpFrameReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  private sawEndBlock = false;
  private total = 0;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes received so far, framing included. */
  get bytesReceived(): number {
    return this.total;
  }

  /** Whether a frame has begun and not yet ended: a close now cuts an answer short. */
  get midFrame(): boolean {
    return this.inFrame;
  }

  /**
   * Takes the next bytes from the wire and returns the data of every frame they complete, in
   * order, and the MllpError (MLLP_FRAMING, MLLP_TOO_LARGE) of bytes that break the framing.
   * Frames completed before the bad bytes are returned with it, as they arrived whole; the
   * reader is unusable after an error, as the stream has lost its frame boundaries.
   */
  push(data: Buffer): { frames: Buffer[]; error?: MllpError } {
    const frames: Buffer[] = [];
    try {
      this.read(data, frames);
    } catch (err) {
      if (!(err instanceof MllpError)) throw err;
      return { frames, error: err };
    }
    return { frames };
  }

  private read(data: Buffer, frames: Buffer[]): void {
    let i = 0;
    while (i < data.length) {
      const at = this.total + i;
      if (this.sawEndBlock) {
        const b = data[i] as number;
        if (b !== CARRIAGE_RETURN) throw new MllpError(`MLLP end block 0x1C followed by ${describeByte(b)}, not 0x0D, at byte ${at}`, 'MLLP_FRAMING');
        this.sawEndBlock = false;
        this.inFrame = false;
        frames.push(this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size));
        this.chunks = [];
        this.size = 0;
        i += 1;
        continue;
      }
      if (!this.inFrame) {
        const b = data[i] as number;
        // Some senders put a line feed or an extra CR after <EB><CR>; neither is data.
        if (b === CARRIAGE_RETURN || b === LINE_FEED) {
          i += 1;
          continue;
        }
        if (b !== START_BLOCK) throw new MllpError(`not MLLP-framed: byte ${at} is ${describeByte(b)} where a start block 0x0B must begin a frame`, 'MLLP_FRAMING');
        this.inFrame = true;
        i += 1;
        continue;
      }
      const eb = data.indexOf(END_BLOCK, i);
      const end = eb === -1 ? data.length : eb;
      const sb = data.indexOf(START_BLOCK, i);
      if (sb !== -1 && sb < end) throw new MllpError(`MLLP start block 0x0B inside a frame at byte ${this.total + sb}: the previous frame never ended`, 'MLLP_FRAMING');
      if (this.size + (end - i) > this.maxFrameBytes) {
        const what = eb === -1 ? 'without an end block' : 'before its end block';
        throw new MllpError(`MLLP frame of more than ${this.maxFrameBytes} bytes ${what}; stopped reading`, 'MLLP_TOO_LARGE');
      }
      if (end > i) {
        this.chunks.push(data.subarray(i, end));
        this.size += end - i;
      }
      if (eb === -1) break;
      this.sawEndBlock = true;
      i = eb + 1;
    }
    this.total += data.length;
  }
}
