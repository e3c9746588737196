import type { DecodedFrame } from '../../../src/dicom/pixels/decode';
import { toDisplayGray8 } from '../../../src/dicom/pixels/display';

function frame(values: number[], extra: Partial<DecodedFrame> = {}): DecodedFrame {
  return {
    rows: 1, columns: values.length, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 12, signed: false,
    photometricInterpretation: 'MONOCHROME2', data: Uint16Array.from(values), ...extra,
  };
}

describe('display values', () => {
  it('applies a linear window: below is black, above is white, the centre is mid-grey', () => {
    const out = toDisplayGray8(frame([0, 1000, 2000, 3000, 4000]), { windowCenter: 2000, windowWidth: 2000 });
    expect(Array.from(out)).toEqual([0, 0, 128, 255, 255]);
  });

  it('inverts MONOCHROME1 so that dense tissue is always bright', () => {
    const m2 = toDisplayGray8(frame([100, 4000]), { windowCenter: 2048, windowWidth: 4096 });
    const m1 = toDisplayGray8(frame([100, 4000], { photometricInterpretation: 'MONOCHROME1' }), { windowCenter: 2048, windowWidth: 4096 });
    expect(m1[0]).toBe(255 - (m2[0] as number));
    expect(m1[1]).toBe(255 - (m2[1] as number));
    expect(m1[0]).toBeGreaterThan(m1[1] as number);
  });

  it('applies rescale slope and intercept before the window', () => {
    const out = toDisplayGray8(frame([0, 100]), { rescaleSlope: 10, rescaleIntercept: -500, windowCenter: 0, windowWidth: 1000 });
    // stored 0 → -500 (bottom of the window), stored 100 → 500 (top)
    expect(out[0]).toBe(0);
    expect(out[1]).toBe(255);
  });

  it('without a window, stretches the stored range and ignores a few extreme pixels', () => {
    const values = Array.from({ length: 10000 }, (_, i) => 1000 + (i % 1000));
    values[0] = 4095; // one burnt-in pixel must not squash the image
    const out = toDisplayGray8(frame(values));
    expect(out[1]).toBeLessThan(10);
    expect(out[999]).toBeGreaterThan(245);
  });

  it('SIGMOID maps the centre to mid-grey and is monotonic', () => {
    const out = toDisplayGray8(frame([1000, 2000, 3000]), { windowCenter: 2000, windowWidth: 1000, voiLutFunction: 'SIGMOID' });
    expect(out[1]).toBe(128);
    expect(out[0]).toBeLessThan(out[1] as number);
    expect(out[2]).toBeGreaterThan(out[1] as number);
  });

  it('handles signed data', () => {
    const out = toDisplayGray8({ ...frame([]), data: Int16Array.from([-1000, 0, 1000]), columns: 3, signed: true, bitsStored: 16 }, { windowCenter: 0, windowWidth: 2000 });
    expect(out[0]).toBe(0);
    expect(out[2]).toBe(255);
  });
});
