// JSON logs (pino). Patient names and IDs never belong in a log line: log UIDs and job ids.
// The redaction list is a safety net for attributes that slip into a logged object anyway.
import pino from 'pino';

export type Logger = pino.Logger;

const PATIENT_FIELDS = [
  'PatientName', 'PatientID', 'PatientBirthDate', 'patientName', 'patientId', 'patientBirthDate',
  'AccessionNumber', 'accessionNumber',
];

export const redactPaths = PATIENT_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, base: { service: 'sentinel' }, redact: { paths: redactPaths, censor: '[redacted]' } },
    destination,
  );
}
