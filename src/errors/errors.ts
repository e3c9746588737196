// One family of error values for the whole service. Each says whether trying again later
// may succeed (a server that is down) or not (a malformed file), so queues know whether to
// retry, and maps to one HTTP status in the API's single error handler.

export type ErrorKind =
  | 'bad_request'
  | 'unauthorized'
  | 'not_found'
  | 'conflict'
  | 'unsupported'
  | 'unavailable'
  | 'too_large'
  | 'timeout'
  | 'rate_limited'
  | 'internal';

const STATUS: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  unsupported: 415,
  unavailable: 503,
  too_large: 413,
  timeout: 408,
  rate_limited: 429,
  internal: 500,
};

export class SentinelError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly retryable = kind === 'unavailable',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SentinelError';
  }

  get status(): number {
    return STATUS[this.kind];
  }
}

export const badRequest = (msg: string): SentinelError => new SentinelError('bad_request', msg);
export const notFound = (msg: string): SentinelError => new SentinelError('not_found', msg);
export const unsupported = (msg: string): SentinelError => new SentinelError('unsupported', msg);
export const unavailable = (msg: string, cause?: unknown): SentinelError =>
  new SentinelError('unavailable', msg, true, { cause });

/** Whether a failure of unknown origin is worth retrying: only ours say so explicitly. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof SentinelError) return err.retryable;
  if (typeof err === 'object' && err !== null && 'retryable' in err) return Boolean((err as { retryable: unknown }).retryable);
  return isConnectionFailure(err);
}

/**
 * A server that cannot be reached or went away (a socket error, or PostgreSQL's connection
 * exceptions, SQLSTATE class 08 and 57P01-57P03): trying again later may succeed, and an API
 * answers 503 rather than 500.
 */
export function isConnectionFailure(err: unknown): boolean {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  if (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message);
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
