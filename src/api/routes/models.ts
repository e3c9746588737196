// GET /models: the installed models and their manifests (no patient data, still behind auth).
import { Router } from 'express';
import type { ModelRegistry } from '../../inference/registry';

export function modelsRouter(models: ModelRegistry): Router {
  const router = Router();
  router.get('/models', (_req, res) => {
    res.json({ models: models.list() });
  });
  return router;
}
