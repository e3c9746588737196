// The express application: public health, then everything else behind the API token.
import express, { type Express } from 'express';
import type { Services } from '../service/services';
import { requireToken } from './auth';
import { errorHandler } from './errors';
import { eventsRouter } from './routes/events';
import { healthRouter } from './routes/health';
import { modelsRouter } from './routes/models';
import { stowRouter } from './routes/stow';
import { studiesRouter } from './routes/studies';

export function createApp(services: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRouter(services.config, () => ({ models: services.models.list().map((m) => `${m.id}@${m.version}`) })));
  app.use(requireToken(services.config.auth.apiTokens));
  app.use(express.json({ limit: '1mb' }));
  app.use(eventsRouter(services.intake, services.orthanc));
  app.use(stowRouter(services));
  app.use(studiesRouter(services));
  app.use(modelsRouter(services.models));
  app.use(errorHandler(services.log));
  return app;
}
