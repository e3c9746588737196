// An analysis run again numbers its objects the same way: the same job id gives the same UIDs,
// in order; another job gives others; each is a valid 2.25 UID (PS3.5 B.2) of at most 64 characters.
import { uidSequence } from '../../../src/dicom/uid';

describe('UIDs numbered from a seed', () => {
  it('the same seed gives the same UIDs in the same order, another seed others', () => {
    const a = uidSequence('job-1');
    const b = uidSequence('job-1');
    const first = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(first);
    expect(new Set(first).size).toBe(3);
    const c = uidSequence('job-2');
    expect(first).not.toContain(c());
  });

  it('each is a 2.25 UID from a 128-bit value, digits only, no leading zero, at most 64 characters', () => {
    const next = uidSequence('a-seed');
    for (let i = 0; i < 500; i++) {
      const uid = next();
      expect(uid).toMatch(/^2\.25\.(0|[1-9][0-9]*)$/);
      expect(uid.length).toBeLessThanOrEqual(64);
      expect(BigInt(uid.slice(5)) < 2n ** 128n).toBe(true);
    }
  });
});
