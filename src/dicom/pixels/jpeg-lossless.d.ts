// jpeg-lossless-decoder-js ships no CommonJS types; this is the one call Sentinel makes.
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    decode(buffer: ArrayBufferLike, offset: number, length: number, numBytes?: number): ArrayBufferView;
  }
}
