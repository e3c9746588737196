// The web app's session cookie: made only from a configured token, checked without state,
// refused when forged, expired, or after the tokens change.
import { cookieValue, hashPassword, newSession, passwordMatches, sessionCookie, sessionUser, tokenMatches, validSession } from '../../../src/api/pages/session';

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
    const [expiry, user, mac] = s.split('.');
    expect(validSession(tokens, `${Number(expiry) + 3600_000}.${user}.${mac}`, now)).toBe(false);
    expect(validSession(tokens, `${expiry}.${user}.${mac!.slice(0, -2)}AA`, now)).toBe(false);
    // Someone else's name on a token holder's session.
    expect(validSession(tokens, `${expiry}.${Buffer.from('admin').toString('base64url')}.${mac}`, now)).toBe(false);
    expect(validSession(tokens, 'garbage', now)).toBe(false);
    expect(validSession(['another-token-of-sixteen-chars'], s, now)).toBe(false);
    expect(validSession([], s, now)).toBe(false);
  });

  it("a user's password is kept as scrypt with its own salt, and the session says who signed in", () => {
    const stored = hashPassword('correct horse battery');
    expect(stored).toMatch(/^scrypt\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(hashPassword('correct horse battery')).not.toBe(stored);
    expect(passwordMatches(stored, 'correct horse battery')).toBe(true);
    expect(passwordMatches(stored, 'correct horse batter')).toBe(false);
    expect(passwordMatches('plain-text', 'plain-text')).toBe(false);
    const now = Date.now();
    expect(sessionUser(tokens, newSession(tokens, now, 'reader'), now)).toBe('reader');
    expect(sessionUser(tokens, newSession(tokens, now), now)).toBe('');
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
