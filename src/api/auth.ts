// Authentication for every route that accepts or returns patient data: a Bearer token, or
// HTTP Basic with the token as password (what Orthanc's DICOMweb "Servers" push can send).
// With no token configured, those routes are closed rather than open.
import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { SentinelError } from '../errors/errors';

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

export function requireToken(tokens: string[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const token = presentedToken(req.headers.authorization);
    if (token !== undefined && tokens.some((t) => same(t, token))) return next();
    res.setHeader('WWW-Authenticate', 'Bearer realm="sentinel"');
    next(new SentinelError('unauthorized', tokens.length === 0
      ? 'no API token is configured on this server (set SENTINEL_API_TOKENS)'
      : 'missing or wrong API token'));
  };
}
