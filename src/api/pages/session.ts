// The web app's sign-in: the API token (or, later, a user's password) exchanged once for a
// session cookie, so the page never holds a token or the PACS credentials. The cookie is
// stateless, `<expiry>.<HMAC>` keyed by the configured tokens: any API process checks it, and
// changing the tokens ends every session. HttpOnly, SameSite=Strict (no other site's page can
// send it, so a form post cannot be forged from elsewhere); the API's routes accept it too, so
// the page links to an output as sent (GET /outputs/{id}).
import crypto from 'node:crypto';

export const SESSION_COOKIE = 'sentinel_session';
export const SESSION_HOURS = 12;

function key(tokens: readonly string[]): Buffer {
  return crypto.createHash('sha256').update(`sentinel-web-session\n${[...tokens].sort().join('\n')}`).digest();
}

function mac(tokens: readonly string[], expiry: number): string {
  return crypto.createHmac('sha256', key(tokens)).update(String(expiry)).digest('base64url');
}

/** Does the presented token match one configured (each compared in constant time)? */
export function tokenMatches(tokens: readonly string[], presented: string): boolean {
  const p = crypto.createHash('sha256').update(presented).digest();
  return tokens.map((t) => crypto.timingSafeEqual(crypto.createHash('sha256').update(t).digest(), p)).some(Boolean);
}

export function newSession(tokens: readonly string[], now = Date.now()): string {
  const expiry = now + SESSION_HOURS * 3600_000;
  return `${expiry}.${mac(tokens, expiry)}`;
}

export function validSession(tokens: readonly string[], value: string | undefined, now = Date.now()): boolean {
  if (!value || tokens.length === 0) return false;
  const [expiryText, presented] = value.split('.', 2);
  const expiry = Number(expiryText);
  if (!Number.isInteger(expiry) || expiry < now || !presented) return false;
  const expected = Buffer.from(mac(tokens, expiry));
  const got = Buffer.from(presented);
  return got.length === expected.length && crypto.timingSafeEqual(got, expected);
}

export function sessionCookie(value: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_HOURS * 3600}${secure ? '; Secure' : ''}`;
}

export function cookieValue(header: string | undefined, name = SESSION_COOKIE): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}
