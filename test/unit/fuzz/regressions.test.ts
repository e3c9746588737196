// The failures the fuzzer found, each kept as a plain case so that it stays fixed whatever
// the random cases of a run happen to be. Each names what used to happen.
import { SentinelError } from '../../../src/errors/errors';
import { TS, decodeFrame } from '../../../src/dicom/pixels/decode';
import { toRgb8 } from '../../../src/dicom/pixels/display';
import { parseDicom } from '../../../src/dicom/read';
import { part10ToDicomJson } from '../../../src/dicom/part10';
import { SEEDS } from './seeds';

const seed = (name: string): Promise<Uint8Array> => (SEEDS.find((s) => s.name === name) as (typeof SEEDS)[number]).build();

async function refusal(fn: () => unknown): Promise<SentinelError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof SentinelError) return err;
    throw new Error(`threw ${err instanceof Error ? err.name : typeof err} instead of a SentinelError: ${String(err)}`);
  }
  throw new Error('was not refused');
}

describe('corrupt files the fuzzer found', () => {
  it('a header cut short is a DicomParseError that is a SentinelError (was a plain Error: the API answered 500, retryable)', async () => {
    const err = await refusal(async () => parseDicom((await seed('MG native 12-bit')).subarray(0, 300)));
    expect(err).toMatchObject({ name: 'DicomParseError', kind: 'bad_request', retryable: false, status: 400 });
    expect(err.message).not.toMatch(/dicomParser[.:]/);
  });

  it('a JPEG-LS frame cut inside its scan is refused at once (CharLS spun for 26 s, then threw a bare number)', async () => {
    const parsed = parseDicom(await seed('MG JPEG-LS lossless'));
    const frame = parsed.frames()[0] as Uint8Array;
    const start = performance.now();
    const err = await refusal(() => decodeFrame(frame.subarray(0, frame.length - 6), parsed.transferSyntaxUid, parsed.pixelDescription()));
    expect(performance.now() - start).toBeLessThan(1000);
    expect(err.message).toMatch(/JPEG-LS data is truncated/);
  });

  it('colour JPEG and JPEG-LS frames come out as Uint8Array and show as RGB (a Uint8ClampedArray was refused by toRgb8)', async () => {
    for (const name of ['SM JPEG baseline', 'SM JPEG-LS (highdicom)']) {
      const parsed = parseDicom(await seed(name));
      const frame = await decodeFrame(parsed.frames()[0] as Uint8Array, parsed.transferSyntaxUid, parsed.pixelDescription());
      expect(frame.data).toBeInstanceOf(Uint8Array);
      expect(toRgb8(frame)).toHaveLength(frame.rows * frame.columns * 3);
    }
  });

  it('an RLE frame too short for its Rows x Columns is refused before the output is allocated (was 1 GB)', async () => {
    const parsed = parseDicom(await seed('MG RLE'));
    const desc = { ...parsed.pixelDescription(), rows: 65535, columns: 8192 };
    const err = await refusal(() => decodeFrame(parsed.frames()[0] as Uint8Array, TS.Rle, desc));
    expect(err.message).toMatch(/RLE segment 1 .* too few for 536862720 pixels/);
  });

  it('a JPEG 2000 codestream claiming another size than the DICOM header is refused before OpenJPEG allocates', async () => {
    const parsed = parseDicom(await seed('MG JPEG 2000 lossless'));
    // A copy (frames are Buffer views into the file, whose slice() is another view).
    const frame = new Uint8Array(parsed.frames()[0] as Uint8Array);
    // SIZ follows SOC (FF4F FF51): Lsiz, Rsiz, then Xsiz, the grid width.
    new DataView(frame.buffer).setUint32(8, 60000, false);
    const err = await refusal(() => decodeFrame(frame, parsed.transferSyntaxUid, parsed.pixelDescription()));
    expect(err.message).toMatch(/JPEG 2000 data is 60000 x 40 .* DICOM header says 32 x 40/);
  });

  it('a whole-slide header dcmjs cannot read is a SentinelError (dcmjs threw a plain Error)', async () => {
    const bytes = await seed('SM native RGB');
    const err = await refusal(() => part10ToDicomJson(bytes.subarray(0, 700)));
    expect(err.kind).toBe('bad_request');
  });
});
