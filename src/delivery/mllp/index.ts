// MLLP transport: the sender Sentinel uses, and the stand-in HIS for demos and tests.
export { sendMllp, MllpError, type MllpDestination } from './send';
export { startHisListener, buildAck, type HisListener } from './his-listener';
