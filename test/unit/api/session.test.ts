// The web app's session cookie: made only from a configured token, checked without state,
// refused when forged, expired, or after the tokens change.
import { cookieValue, newSession, sessionCookie, tokenMatches, validSession } from '../../../src/api/pages/session';

const tokens = ['a-token-of-sixteen-chars-or-more'];

describe('the web app session', () => {
  it('a session made now is valid until it expires, 12 hours later', () => {
    const now = Date.parse('2026-12-02T10:00:00Z');
    const s = newSession(tokens, now);
    expect(validSession(tokens, s, now)).toBe(true);
    expect(validSession(tokens, s, now + 11.9 * 3600_000)).toBe(true);
    expect(validSession(tokens, s, now + 12.1 * 3600_000)).toBe(false);
  });

  it('a forged or altered cookie, or one made under other tokens, is refused', () => {
    const now = Date.now();
    const s = newSession(tokens, now);
    const [expiry, mac] = s.split('.');
    expect(validSession(tokens, `${Number(expiry) + 3600_000}.${mac}`, now)).toBe(false);
    expect(validSession(tokens, `${expiry}.${mac!.slice(0, -2)}AA`, now)).toBe(false);
    expect(validSession(tokens, 'garbage', now)).toBe(false);
    expect(validSession(['another-token-of-sixteen-chars'], s, now)).toBe(false);
    expect(validSession([], s, now)).toBe(false);
  });

  it('only a configured token signs in; the cookie is HttpOnly and SameSite=Strict, Secure behind TLS', () => {
    expect(tokenMatches(tokens, tokens[0]!)).toBe(true);
    expect(tokenMatches(tokens, 'a-token-of-sixteen-chars-or-mor')).toBe(false);
    expect(sessionCookie('v', false)).toBe('sentinel_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200');
    expect(sessionCookie('v', true)).toMatch(/; Secure$/);
    expect(cookieValue('a=1; sentinel_session=x.y; b=2')).toBe('x.y');
    expect(cookieValue(undefined)).toBeUndefined();
  });
});
