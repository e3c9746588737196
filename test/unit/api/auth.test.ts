// The API's front door: tokens compared in constant time, repeated failures from one address
// answered 429 for a minute (while a right token from elsewhere still works), and an unknown
// route answered with JSON like every other error.
import express from 'express';
import request from 'supertest';
import { FailureLimiter, requireToken } from '../../../src/api/auth';
import { errorHandler } from '../../../src/api/errors';
import { notFound } from '../../../src/errors/errors';
import { createLogger } from '../../../src/log/logger';

const TOKEN = 'the-right-token-0123456789';

function app(limiter: FailureLimiter): express.Express {
  const a = express();
  a.use(requireToken([TOKEN, 'another-token-0123456789'], limiter));
  a.get('/data', (_req, res) => { res.json({ ok: true }); });
  a.use((req, _res, next) => next(notFound(`no route ${req.method} ${req.path}`)));
  a.use(errorHandler(createLogger('silent')));
  return a;
}

describe('API authentication', () => {
  it('Bearer and Basic (token as password) pass; a wrong or missing token is 401 with WWW-Authenticate', async () => {
    const a = app(new FailureLimiter(100));
    await request(a).get('/data').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    await request(a).get('/data').set('Authorization', `Basic ${Buffer.from(`orthanc:${TOKEN}`).toString('base64')}`).expect(200);
    const wrong = await request(a).get('/data').set('Authorization', 'Bearer nope').expect(401);
    expect(wrong.headers['www-authenticate']).toMatch(/Bearer/);
    await request(a).get('/data').expect(401);
  });

  it('after the allowed failures in a minute an address gets 429, even with the right token, until the minute has passed', async () => {
    let now = 1_000_000;
    const limiter = new FailureLimiter(3, () => now);
    const a = app(limiter);
    for (let i = 0; i < 3; i++) await request(a).get('/data').set('Authorization', `Bearer guess-${i}`).expect(401);
    const blocked = await request(a).get('/data').set('Authorization', `Bearer ${TOKEN}`).expect(429);
    expect((blocked.body as { error: { kind: string } }).error.kind).toBe('rate_limited');
    expect(blocked.headers['retry-after']).toBe('60');
    expect(limiter.blocked('10.9.9.9')).toBe(false); // other addresses are not affected
    now += 61_000;
    await request(a).get('/data').set('Authorization', `Bearer ${TOKEN}`).expect(200);
  });

  it('an unknown route is a JSON 404 with its kind', async () => {
    const res = await request(app(new FailureLimiter(100))).get('/no/such/thing').set('Authorization', `Bearer ${TOKEN}`).expect(404);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.body).toEqual({ error: { kind: 'not_found', message: 'no route GET /no/such/thing', retryable: false } });
  });
});
