// dcmjs ships no type declarations; these are the parts Sentinel uses.
declare module 'dcmjs' {
  export type NaturalizedDataset = Record<string, unknown>;
  export const data: {
    DicomDict: new (meta: Record<string, unknown>) => { dict: Record<string, unknown>; write(options?: Record<string, unknown>): ArrayBuffer };
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): { meta: Record<string, unknown>; dict: Record<string, unknown> } };
    DicomMetaDictionary: {
      naturalizeDataset(dict: Record<string, unknown>): NaturalizedDataset;
      denaturalizeDataset(ds: NaturalizedDataset): Record<string, unknown>;
      uid(): string;
    };
  };
  const dcmjs: { data: typeof data };
  export default dcmjs;
}
