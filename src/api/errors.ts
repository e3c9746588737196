// The API's one error handler: our errors become their status and message; anything else
// is logged with its stack and answered with a plain 500 that leaks nothing.
import type { NextFunction, Request, Response } from 'express';
import { SentinelError, isConnectionFailure } from '../errors/errors';
import type { Logger } from '../log/logger';

export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (err instanceof SentinelError) {
      if (err.status >= 500) log.warn({ path: req.path, error: err.message }, 'request failed');
      res.status(err.status).json({ error: { kind: err.kind, message: err.message, retryable: err.retryable } });
      return;
    }
    const status = (err as { status?: number; type?: string }).status;
    if (status === 413 || status === 400) {
      // body-parser errors: too large, or bad JSON
      res.status(status).json({ error: { kind: 'bad_request', message: (err as Error).message, retryable: false } });
      return;
    }
    if (isConnectionFailure(err)) {
      // PostgreSQL (or another server) is down: the sender should try again shortly.
      log.warn({ path: req.path, error: (err as Error).message }, 'request failed: a server Sentinel needs is unreachable');
      res.status(503).setHeader('Retry-After', '5');
      res.json({ error: { kind: 'unavailable', message: 'a server Sentinel needs (database or queue) is unreachable; try again shortly', retryable: true } });
      return;
    }
    log.error({ path: req.path, err }, 'unexpected error');
    res.status(500).json({ error: { kind: 'internal', message: 'internal error', retryable: true } });
  };
}
