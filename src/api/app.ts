// The express application: public health, then everything else behind the API token.
import express, { type Express } from 'express';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/schema';
import type { DicomwebClient } from '../dicomweb/client';
import type { ModelRegistry } from '../inference/registry';
import type { IntakeDeps } from '../intake/intake';
import type { Queues } from '../jobs/queues';
import type { Logger } from '../log/logger';
import type { OrthancRest } from '../orthanc/rest';
import { FailureLimiter, requireToken } from './auth';
import { notFound } from '../errors/errors';
import { auditRouter } from './routes/audit';
import { errorHandler } from './errors';
import { eventsRouter } from './routes/events';
import { healthRouter } from './routes/health';
import { findingsSvgRouter } from './routes/findings-svg';
import { inferenceRouter } from './routes/inference';
import { metricsRouter } from './routes/metrics';
import { pagesRouter } from './pages/router';
import { modelsRouter } from './routes/models';
import { stowRouter } from './routes/stow';
import { studiesRouter } from './routes/studies';
import { correctionsRouter } from './routes/corrections';

/** What the routes use, each route taking only its part. */
export interface ApiDeps {
  config: Config;
  log: Logger;
  ds: DataSource;
  queues: Queues;
  dicomweb: DicomwebClient;
  orthanc: OrthancRest;
  models: ModelRegistry;
  intake: IntakeDeps;
}

export function createApp(services: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRouter(services.config, () => ({ models: services.models.list().map((m) => `${m.id}@${m.version}`) })));
  // The web app signs in itself (a session cookie) and sends its own sign-in page.
  app.get('/', (_req, res) => res.redirect(303, '/app/'));
  app.use(pagesRouter(services));
  app.use(requireToken(services.config.auth.apiTokens, new FailureLimiter(services.config.auth.maxFailuresPerMinute)));
  // Before the JSON parser: its body is an image.
  app.use(inferenceRouter(services.models));
  app.use(express.json({ limit: '1mb' }));
  app.use(eventsRouter(services.intake, services.orthanc));
  app.use(stowRouter(services));
  app.use(studiesRouter(services));
  app.use(correctionsRouter(services));
  app.use(findingsSvgRouter(services.ds, services.dicomweb));
  app.use(modelsRouter(services.models));
  app.use(auditRouter(services.ds));
  app.use(metricsRouter({ ds: services.ds, queues: services.queues }));
  // An unknown route is an error like any other: JSON, with its kind.
  app.use((req, _res, next) => next(notFound(`no route ${req.method} ${req.path}`)));
  app.use(errorHandler(services.log));
  return app;
}

/**
 * A worker process's own /metrics (its analyses, stages, inference, deliveries), behind the
 * same token; the shared figures (queues, jobs by state) are the API's.
 */
export function createMetricsApp(config: Config, log: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requireToken(config.auth.apiTokens, new FailureLimiter(config.auth.maxFailuresPerMinute)));
  app.use(metricsRouter());
  app.use((req, _res, next) => next(notFound(`no route ${req.method} ${req.path}`)));
  app.use(errorHandler(log));
  return app;
}
