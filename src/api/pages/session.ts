// The web app's sign-in: the API token, or a configured user's name and password, exchanged
// once for a session cookie, so the page never holds a token or the PACS credentials. The
// cookie is stateless, `<expiry>.<user>.<HMAC>` keyed by the configured tokens: any API process checks it, and
// changing the tokens ends every session. HttpOnly, SameSite=Strict (no other site's page can
// send it, so a form post cannot be forged from elsewhere); the API's routes accept it too, so
// the page links to an output as sent (GET /outputs/{id}).
import crypto from 'node:crypto';

export const SESSION_COOKIE = 'sentinel_session';
export const SESSION_HOURS = 12;

function key(tokens: readonly string[]): Buffer {
  return crypto.createHash('sha256').update(`sentinel-web-session\n${[...tokens].sort().join('\n')}`).digest();
}

function mac(tokens: readonly string[], expiry: number, user: string): string {
  return crypto.createHmac('sha256', key(tokens)).update(`${expiry}\n${user}`).digest('base64url');
}

/** A password as configuration keeps it: scrypt with a random salt. */
export function hashPassword(password: string, salt = crypto.randomBytes(16)): string {
  return `scrypt$${salt.toString('base64url')}$${crypto.scryptSync(password, salt, 32).toString('base64url')}`;
}

/** Does the password match the stored `scrypt$<salt>$<key>` (compared in constant time)? */
export function passwordMatches(stored: string, password: string): boolean {
  const [scheme, salt, keyText] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !keyText) return false;
  const expected = Buffer.from(keyText, 'base64url');
  const got = crypto.scryptSync(password, Buffer.from(salt, 'base64url'), expected.length);
  return crypto.timingSafeEqual(got, expected);
}

/** Does the presented token match one configured (each compared in constant time)? */
export function tokenMatches(tokens: readonly string[], presented: string): boolean {
  const p = crypto.createHash('sha256').update(presented).digest();
  return tokens.map((t) => crypto.timingSafeEqual(crypto.createHash('sha256').update(t).digest(), p)).some(Boolean);
}

/** A session for `user` (a configured user's name, or '' for whoever holds an API token). */
export function newSession(tokens: readonly string[], now = Date.now(), user = ''): string {
  const expiry = now + SESSION_HOURS * 3600_000;
  return `${expiry}.${Buffer.from(user).toString('base64url')}.${mac(tokens, expiry, user)}`;
}

/** Who the session is for ('' for a token holder), or undefined when it is not valid. */
export function sessionUser(tokens: readonly string[], value: string | undefined, now = Date.now()): string | undefined {
  if (!value || tokens.length === 0) return undefined;
  const [expiryText, userText, presented] = value.split('.', 3);
  const expiry = Number(expiryText);
  if (!Number.isInteger(expiry) || expiry < now || userText === undefined || !presented) return undefined;
  const user = Buffer.from(userText, 'base64url').toString('utf8');
  const expected = Buffer.from(mac(tokens, expiry, user));
  const got = Buffer.from(presented);
  return got.length === expected.length && crypto.timingSafeEqual(got, expected) ? user : undefined;
}

export function validSession(tokens: readonly string[], value: string | undefined, now = Date.now()): boolean {
  return sessionUser(tokens, value, now) !== undefined;
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
