// MLLP transport: the sender Sentinel uses, and the stand-in HIS for demos and tests.
export { sendMllp, type MllpDestination } from './send';
export { MllpError, type MllpErrorCode } from './errors';
export { MllpFrameReader, DEFAULT_MAX_FRAME_BYTES } from './framing';
export { startHisListener, type HisListener, type HisListenerOptions, type ReceivedMessage } from './his-listener';
