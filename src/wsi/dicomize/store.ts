// Storing a dicomized slide into the PACS by STOW-RS, a few files per request.
import fs from 'node:fs';
import type { DicomwebClient } from '../../dicomweb/client';
import { items, num, str } from '../../dicom/json';
import { Tag } from '../../dicom/tags';

export interface StoreResult {
  stored: number;
  failed: Array<{ sopInstanceUid?: string; reason?: number }>;
}

/** STOW-RS the files into the PACS, a few per request; reports every instance the server refused. */
export async function storeFiles(client: Pick<DicomwebClient, 'store'>, files: string[], studyInstanceUid?: string, batchBytes = 48 * 1024 * 1024): Promise<StoreResult> {
  const result: StoreResult = { stored: 0, failed: [] };
  let batch: Uint8Array[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const response = await client.store(batch, studyInstanceUid);
    const failed = items(response, Tag.FailedSOPSequence).map((it) => ({ sopInstanceUid: str(it, Tag.ReferencedSOPInstanceUID), reason: num(it, Tag.FailureReason) ?? NaN }));
    result.failed.push(...failed);
    result.stored += batch.length - failed.length;
    batch = [];
    size = 0;
  };
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    if (size > 0 && size + bytes.length > batchBytes) await flush();
    batch.push(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    size += bytes.length;
  }
  await flush();
  return result;
}
