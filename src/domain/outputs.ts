// What every writer returns and every channel sends: one object or message, its kind, and the
// UID it is known by. The kinds are listed once here; delivery/ keys its deliverers by them
// (exhaustively, so a kind without a deliverer does not compile), and the API and the offline
// writer show or file an output by its kind's content type and file extension.

export const OUTPUT_KINDS = {
  /** A DICOM Part 10 object (SEG, SR), stored into the study in the PACS. */
  dicom: { contentType: 'application/dicom', extension: 'dcm', text: false },
  /** An HL7 v2 message (ORU^R01), segments ending in CR. */
  hl7: { contentType: 'text/plain; charset=utf-8', extension: 'hl7', text: true },
  /** A FHIR R4 transaction Bundle (DiagnosticReport, Observations, Device), JSON. */
  fhir: { contentType: 'application/fhir+json', extension: 'json', text: true },
} as const;

export type OutputKind = keyof typeof OUTPUT_KINDS;

export interface Output {
  kind: OutputKind;
  /** What it is, for people: "SEG", "SR", "ORU^R01". */
  label: string;
  contentType: string;
  bytes: Buffer;
  /** SOP Instance UID of a DICOM object, MSH-10 of an HL7 message. */
  objectUid: string;
}

export function output(kind: OutputKind, label: string, objectUid: string, bytes: Buffer): Output {
  return { kind, label, objectUid, bytes, contentType: OUTPUT_KINDS[kind].contentType };
}

/** What an output is, as a word for files and lists: "seg", "sr", "oru". */
export function outputStem(o: Pick<Output, 'label'>): string {
  return (o.label.split('^')[0] ?? o.label).toLowerCase().replace(/[^a-z0-9]+/g, '');
}

/** A file name for an output: "seg-<uid>.dcm", "oru-<control id>.hl7". */
export function outputFileName(o: Pick<Output, 'kind' | 'label' | 'objectUid'>): string {
  return `${outputStem(o)}-${o.objectUid}.${OUTPUT_KINDS[o.kind].extension}`;
}
