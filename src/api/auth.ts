// Authentication for every route that accepts or returns patient data: a Bearer token, or
// HTTP Basic with the token as password (what Orthanc's DICOMweb "Servers" push can send).
// With no token configured, those routes are closed rather than open.
import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { SentinelError } from '../errors/errors';
import { cookieValue, validSession } from './pages/session';

function presentedToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value = ''] = header.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return value.trim();
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return undefined;
}

function same(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}

/**
 * Failed attempts per remote address in a sliding minute: past the limit the address is
 * answered 429 without its token being looked at, so guessing tokens is slow.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(private readonly perMinute: number, private readonly now: () => number = Date.now) {}

  blocked(address: string): boolean {
    return this.recent(address).length >= this.perMinute;
  }

  fail(address: string): void {
    const list = this.recent(address);
    list.push(this.now());
    this.failures.set(address, list);
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string); // bounded
  }

  private recent(address: string): number[] {
    const since = this.now() - 60_000;
    const list = (this.failures.get(address) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(address);
    else this.failures.set(address, list);
    return list;
  }
}

export function requireToken(tokens: string[], limiter = new FailureLimiter(20)) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const address = req.socket.remoteAddress ?? '?';
    if (limiter.blocked(address)) {
      res.setHeader('Retry-After', '60');
      return next(new SentinelError('rate_limited', 'too many failed authentications from this address; try again in a minute'));
    }
    const token = presentedToken(req.headers.authorization);
    // Every configured token is compared (constant time each), so timing says nothing of which matched.
    const matched = token !== undefined && tokens.map((t) => same(t, token)).some(Boolean);
    // Or the web app's session cookie, which only a signed-in browser holds (pages/session.ts).
    if (matched || (token === undefined && validSession(tokens, cookieValue(req.headers.cookie)))) return next();
    limiter.fail(address);
    res.setHeader('WWW-Authenticate', 'Bearer realm="sentinel"');
    next(new SentinelError('unauthorized', tokens.length === 0
      ? 'no API token is configured on this server (set SENTINEL_API_TOKENS)'
      : 'missing or wrong API token'));
  };
}
