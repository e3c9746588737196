// FHIR out: one transaction Bundle POSTed to the configured FHIR base URL, for the outbox. A
// 2xx answer is delivered, and the locations the server gave each entry are kept; a 4xx is
// the Bundle refused for what it is (fails for good, with the server's OperationOutcome as the
// reason), except 408 and 429, which may pass later, as do a 5xx, a timeout or no answer.
import type { Config } from '../config/schema';
import { SentinelError } from '../errors/errors';

interface OperationOutcome {
  resourceType?: string;
  issue?: Array<{ severity?: string; code?: string; diagnostics?: string; details?: { text?: string } }>;
}

/** What an OperationOutcome says, in one line. */
export function outcomeText(body: unknown): string | undefined {
  const o = body as OperationOutcome | undefined;
  if (o?.resourceType !== 'OperationOutcome' || !Array.isArray(o.issue)) return undefined;
  return o.issue.map((i) => [i.severity, i.code, i.details?.text ?? i.diagnostics].filter(Boolean).join(' ')).join('; ') || undefined;
}

/** The locations of a transaction-response Bundle, in entry order. */
export function locationsOf(body: unknown): string[] {
  const b = body as { resourceType?: string; entry?: Array<{ response?: { status?: string; location?: string } }> } | undefined;
  if (b?.resourceType !== 'Bundle' || !Array.isArray(b.entry)) return [];
  return b.entry.map((e) => e.response?.location ?? e.response?.status ?? '?');
}

export async function postBundle(bytes: Buffer, fhir: Config['fhir']): Promise<string> {
  if (!fhir.baseUrl) throw new SentinelError('bad_request', 'no FHIR server configured (fhir.baseUrl)');
  const where = fhir.baseUrl.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(where, {
      method: 'POST',
      headers: { 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json', ...(fhir.token ? { Authorization: `Bearer ${fhir.token}` } : {}) },
      body: new Uint8Array(bytes),
      signal: AbortSignal.timeout(fhir.timeoutMs),
    });
  } catch (err) {
    throw new SentinelError('unavailable', `FHIR server ${where} unreachable: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
  }
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.ok) {
    const locations = locationsOf(body);
    return `${res.status}${locations.length ? `: ${locations.join(', ')}` : ''}`;
  }
  const said = outcomeText(body) ?? text.slice(0, 300);
  const retry = res.status >= 500 || res.status === 408 || res.status === 429;
  throw new SentinelError(retry ? 'unavailable' : 'bad_request', `FHIR server ${where} answered ${res.status}${said ? `: ${said}` : ''}`, retry);
}
