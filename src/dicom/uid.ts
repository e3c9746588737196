// UIDs and the named constants Sentinel uses. New UIDs are "2.25." + a random 128-bit UUID
// as a decimal integer (PS3.5 B.2), so no registered root is needed.
import crypto from 'node:crypto';

export function newUid(): string {
  return `2.25.${BigInt(`0x${crypto.randomUUID().replace(/-/g, '')}`).toString()}`;
}

/** Sentinel's Implementation Class UID (file meta), fixed once for all versions. */
export const IMPLEMENTATION_CLASS_UID = '2.25.186625506405903526131350137702517150554';
export const IMPLEMENTATION_VERSION_NAME = 'SENTINEL_010';

export const SopClass = {
  DigitalMammographyForPresentation: '1.2.840.10008.5.1.4.1.1.1.2',
  DigitalMammographyForProcessing: '1.2.840.10008.5.1.4.1.1.1.2.1',
  UltrasoundImage: '1.2.840.10008.5.1.4.1.1.6.1',
  VLWholeSlideMicroscopyImage: '1.2.840.10008.5.1.4.1.1.77.1.6',
  Segmentation: '1.2.840.10008.5.1.4.1.1.66.4',
  EnhancedSR: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSR: '1.2.840.10008.5.1.4.1.1.88.33',
  MammographyCadSR: '1.2.840.10008.5.1.4.1.1.88.50',
  Comprehensive3DSR: '1.2.840.10008.5.1.4.1.1.88.34',
} as const;

export const TransferSyntax = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
} as const;

/**
 * UIDs that are the same every time for the same seed: "2.25." + a name-based UUID (RFC 9562
 * version 8, from SHA-256 of seed and counter). An analysis numbers its new objects from its
 * job id, so a job run again after a crash writes the same SOP Instance UIDs, and a re-sent
 * object replaces the first in the PACS instead of standing beside it.
 */
export function uidSequence(seed: string): () => string {
  let n = 0;
  return () => {
    const hash = crypto.createHash('sha256').update(`sentinel-uid:${seed}:${n++}`).digest();
    hash[6] = ((hash[6] as number) & 0x0f) | 0x80; // version 8
    hash[8] = ((hash[8] as number) & 0x3f) | 0x80; // RFC 9562 variant
    return `2.25.${BigInt(`0x${hash.subarray(0, 16).toString('hex')}`).toString()}`;
  };
}
