// HL7 v2 messages Sentinel sends (ORU^R01) and the acknowledgments it reads.
export { buildOruR01, hl7Timestamp, LOCAL_CODING_SYSTEM, type OruInput } from './oru-r01';
export { buildAck, checkAck, type AckVerdict } from './ack';
