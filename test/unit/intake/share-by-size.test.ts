// How received parts are shared between the STOW-RS requests that store them in the PACS:
// every part once, groups of about equal bytes, each group in the order the parts came.
import { shareBySize } from '../../../src/intake/receive';

const parts = (...sizes: number[]): Array<{ name: string; size: number }> => sizes.map((size, i) => ({ name: `p${i}`, size }));
const names = (groups: Array<Array<{ name: string }>>): string[][] => groups.map((g) => g.map((p) => p.name));

describe('shareBySize', () => {
  it('four mammograms of about equal size go two and two', () => {
    expect(names(shareBySize(parts(27_264_446, 27_264_454, 27_264_446, 27_264_454), 2))).toEqual([['p0', 'p1'], ['p2', 'p3']]);
  });

  it('one large part goes alone and the small ones together, each group in arrival order', () => {
    expect(names(shareBySize(parts(10, 1000, 20, 30, 900), 2))).toEqual([['p1'], ['p0', 'p2', 'p3', 'p4']]);
  });

  it('never more groups than parts, none empty, every part once', () => {
    expect(names(shareBySize(parts(5), 2))).toEqual([['p0']]);
    expect(shareBySize([], 2)).toEqual([]);
    const many = parts(...Array.from({ length: 37 }, (_, i) => (i * 7919) % 101));
    const groups = shareBySize(many, 2);
    expect(groups).toHaveLength(2);
    expect(groups.flat().map((p) => p.name).sort()).toEqual(many.map((p) => p.name).sort());
    const bytes = groups.map((g) => g.reduce((n, p) => n + p.size, 0));
    expect(Math.abs((bytes[0] as number) - (bytes[1] as number))).toBeLessThanOrEqual(100);
  });
});
