// The exact source image a result is about, as every writer references it.
import type { ParsedDicom } from '../dicom/read';
import type { ImageRef } from '../domain/findings';

export function imageRefOf(parsed: ParsedDicom): ImageRef {
  const desc = parsed.pixelDescription();
  return {
    studyInstanceUid: parsed.studyInstanceUid,
    seriesInstanceUid: parsed.seriesInstanceUid,
    sopInstanceUid: parsed.sopInstanceUid,
    sopClassUid: parsed.sopClassUid,
    rows: desc.rows,
    columns: desc.columns,
  };
}
