// The inference API, for developers who draw overlays in their own apps:
//   GET  /v1/models                 every installed model: what it takes and gives, its card's address
//   GET  /v1/models/{id}            one model: its manifest and its model card (Markdown)
//   POST /v1/models/{id}/predict    one PNG, JPEG or DICOM image as the body (Content-Type says
//                                   which): scores, findings with outlines as polygons and SVG
//                                   paths, ?mask=true for a mask PNG; ?spacing=<mm per pixel>
//                                   and ?laterality=L|R for a PNG/JPEG. Nothing is stored.
// Behind the API token like every data route.
import fs from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import { MAX_PREDICT_PIXELS, PREDICT_TYPES, type PredictType, predict } from '../../analysis/predict';
import { SentinelError, badRequest } from '../../errors/errors';
import type { ModelRegistry } from '../../inference/registry';

/** The largest body accepted: a full-field mammogram is 20-60 MB as DICOM. */
const MAX_BODY = '256mb';

function summary(models: ModelRegistry, id: string): Record<string, unknown> {
  const m = models.get(id).manifest;
  return {
    id: m.id, name: m.name, version: m.version, task: m.task, modality: m.modality,
    input: { width: m.input.width, height: m.input.height, channels: m.input.channels, channelOrder: m.input.channelOrder, views: m.input.views, ...(m.input.pixelSpacingMm ? { pixelSpacingMm: m.input.pixelSpacingMm } : {}) },
    outputs: m.outputs.map((o) => ({ role: o.role, classes: o.classes })),
    intendedUse: m.intendedUse,
    predict: `/v1/models/${m.id}/predict`,
    card: `/v1/models/${m.id}`,
  };
}

export function inferenceRouter(models: ModelRegistry): Router {
  const router = Router();
  router.get('/v1/models', (_req, res) => {
    res.json({ models: models.list().map((m) => summary(models, m.id)), accepts: PREDICT_TYPES, maxPixels: MAX_PREDICT_PIXELS });
  });
  router.get('/v1/models/:id', (req, res) => {
    const { manifest } = models.get(req.params.id);
    const card = path.join(models.dir, `${manifest.id}.md`);
    res.json({ ...summary(models, manifest.id), manifest, card: fs.existsSync(card) ? fs.readFileSync(card, 'utf8') : null });
  });
  router.post('/v1/models/:id/predict', express.raw({ type: () => true, limit: MAX_BODY }), async (req, res) => {
    const model = models.model(req.params.id);
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!(PREDICT_TYPES as readonly string[]).includes(type)) {
      throw new SentinelError('unsupported', `Content-Type ${type || '(none)'} is not an image this endpoint reads: send the image itself as ${PREDICT_TYPES.join(', ')}`);
    }
    const q = req.query;
    const spacing = typeof q.spacing === 'string' ? Number(q.spacing) : undefined;
    if (spacing !== undefined && !(Number.isFinite(spacing) && spacing > 0 && spacing < 10)) throw badRequest(`spacing=${String(q.spacing)}: give mm per pixel, a number above 0 and below 10`);
    const laterality = typeof q.laterality === 'string' ? q.laterality.toUpperCase() : undefined;
    if (laterality !== undefined && laterality !== 'L' && laterality !== 'R') throw badRequest(`laterality=${String(q.laterality)}: L or R`);
    const mask = q.mask === 'true' || q.mask === '1';
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    res.json(await predict(new Uint8Array(body.buffer, body.byteOffset, body.length), type as PredictType, model, { pixelSpacingMm: spacing, laterality, mask }));
  });
  return router;
}
