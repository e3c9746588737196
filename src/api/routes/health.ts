// GET /health: each dependency's state, for load balancers and people. No patient data.
import { Router } from 'express';
import type { Config } from '../../config/schema';
import { stackStatus } from '../../stack/stack';

export function healthRouter(config: Config, extra: () => Record<string, unknown>): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const dependencies = await stackStatus(config);
    const ok = dependencies.every((d) => d.ok);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', dependencies, ...extra() });
  });
  return router;
}
