// Every long-lived resource is opened here and closed here, in one order, so that the CLI,
// the demo, the tests and SIGTERM all share the same start and shutdown.
import type { ApiDeps } from '../api/app';
import type { Config } from '../config/schema';
import { openDatabase } from '../db/data-source';
import { DicomwebClient } from '../dicomweb/client';
import { ModelRegistry } from '../inference/registry';
import type { IntakeDeps } from '../intake/intake';
import { type Logger, createLogger } from '../log/logger';
import { createQueues } from '../jobs/queues';
import { OrthancRest } from '../orthanc/rest';
import { type ModelVersion, assertRoutingRules } from '../pipelines/routing';
import { pipelineNamed } from '../pipelines/registry';
import { installedCompanions } from '../analysis/analyze';
import { projectRoot } from '../config/load';
import path from 'node:path';

/** Everything the API, the listeners and the workers use, and how to close it all. */
export interface Services extends ApiDeps {
  close(): Promise<void>;
}

export function dicomwebTarget(config: Config): { url: string; username: string; password: string } {
  return {
    url: new URL(config.orthanc.dicomwebPath, config.orthanc.url).toString().replace(/\/$/, ''),
    username: config.orthanc.username,
    password: config.orthanc.password,
  };
}

export async function openServices(config: Config, options: { log?: Logger } = {}): Promise<Services> {
  assertRoutingRules(config.routing.rules);
  const log = options.log ?? createLogger(config.log.level);
  const models = await ModelRegistry.load(path.resolve(projectRoot, config.models.dir), { intraOpNumThreads: config.models.threads });
  // Every model a routing rule can choose, and every companion its pipeline would run beside
  // it, is opened now: an ONNX graph that does not match its manifest stops the start with the
  // mismatch named, rather than failing its first study, and no study waits for a session (nor
  // a slide for the lanes its tiles are scored in).
  const findCompanions = (name: string): ModelVersion[] => Object.values(installedCompanions(pipelineNamed(name), models)).map((m) => ({ id: m.id, version: m.version }));
  const routed = new Set(config.routing.rules.flatMap((r) => [...r.models, ...findCompanions(r.pipeline).map((m) => m.id)]));
  const tiled = new Set(config.routing.rules.filter((r) => pipelineNamed(r.pipeline).input === 'tiles').flatMap((r) => r.models));
  for (const m of models.list()) if (routed.has(m.id)) await models.open(m.id, { lanes: tiled.has(m.id) });
  const ds = await openDatabase(config.database.url);
  let lastQueueError = 0;
  const queues = createQueues(config, (queue, err) => {
    if (Date.now() - lastQueueError < 10_000) return; // ioredis retries many times a second
    lastQueueError = Date.now();
    log.warn({ queue, error: err.message }, 'queue lost Redis; work waits in PostgreSQL');
  });
  const dicomweb = new DicomwebClient(dicomwebTarget(config));
  const orthanc = new OrthancRest(config.orthanc);
  const findModel = (id: string): { id: string; version: string } | undefined => {
    const m = models.list().find((x) => x.id === id);
    return m ? { id: m.id, version: m.version } : undefined;
  };
  const intake: IntakeDeps = { config, ds, queues, dicomweb, findModel, findCompanions, log };
  return {
    config, log, ds, queues, dicomweb, orthanc, models, intake,
    async close() {
      await queues.close();
      await ds.destroy();
      await models.close();
    },
  };
}
