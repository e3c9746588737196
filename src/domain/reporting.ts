// What a pipeline's reports say about it beyond its findings: given by each pipeline's
// definition, read by the SR and ORU builders, so that no builder names a pipeline.
import type { Code } from './codes';
import type { StudyResult } from './findings';

/** A study-level number the SR lists with its qualitative evaluations and, where `oru` says, the ORU as an OBX. */
export interface StudyMeasurement {
  concept: Code;
  value: number;
  unit: Code;
  oru?: { code: string; text: string; units?: [string, string, string]; digits: number };
}

export interface PipelineReporting {
  /** TID 1500 "Procedure reported". */
  procedure: Code;
  /** The ORU's universal service (OBR-4), local coding system. */
  oruService: { code: string; text: string };
  /** Study-level measurements beyond score and category (none by default). */
  measurements?: (result: StudyResult) => StudyMeasurement[];
  /** A CAD SR written beside the TID 1500 SR: 'mammography', the Mammography CAD SR (TID 4000). */
  cadReport?: 'mammography';
}
