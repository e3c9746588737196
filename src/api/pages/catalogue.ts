// The web app's model catalogue and system page: each installed model with its card and its
// measured figures (the metrics file its training script wrote), and what the service is doing
// (queue depths, jobs running and failed with their reasons, dependency health, the latest
// audit entries).
import fs from 'node:fs';
import path from 'node:path';
import { Router } from 'express';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config/schema';
import { listAudit } from '../../db/audit';
import { JobRow } from '../../db/entities/job';
import type { ModelRegistry } from '../../inference/registry';
import type { Queues } from '../../jobs/queues';
import { stackStatus } from '../../stack/stack';
import { esc, page } from './html';

const figure = (v: unknown): string => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : esc(v));

/** The figures of a metrics file's split: the scalar ones, as a table row each. */
function figures(split: Record<string, unknown> | undefined): string {
  if (!split) return '';
  return Object.entries(split).filter(([, v]) => typeof v === 'number').map(([k, v]) => `<tr><td>${esc(k)}</td><td>${figure(v)}</td></tr>`).join('');
}

export function cataloguePages(deps: { config: Config; ds: DataSource; queues: Queues; models: ModelRegistry }): Router {
  const { models, ds, queues, config } = deps;
  const router = Router();

  router.get('/app/models', (_req, res) => {
    const cards = models.list().map((m) => {
      const metricsFile = path.join(models.dir, `${m.id}.metrics.json`);
      const metrics = fs.existsSync(metricsFile) ? JSON.parse(fs.readFileSync(metricsFile, 'utf8')) as { validation?: Record<string, unknown>; test?: Record<string, unknown> } : {};
      const cardFile = path.join(models.dir, `${m.id}.md`);
      const card = fs.existsSync(cardFile) ? fs.readFileSync(cardFile, 'utf8') : '';
      return `<section class="model" data-model="${esc(m.id)}"><h2>${esc(m.id)} ${esc(m.version)}</h2>
<p>${esc(m.name)} · task ${esc(m.task)} · modality ${esc(m.modality)} · ${esc(m.intendedUse)}</p>
${metrics.validation || metrics.test ? `<table class="figures"><thead><tr><th>held-out test</th><th></th></tr></thead><tbody>${figures(metrics.test)}</tbody></table>
<table class="figures"><thead><tr><th>validation</th><th></th></tr></thead><tbody>${figures(metrics.validation)}</tbody></table>` : '<p class="note">No metrics file.</p>'}
${card ? `<details><summary>Model card</summary><pre style="white-space:pre-wrap">${esc(card)}</pre></details>` : '<p class="note">No model card.</p>'}</section>`;
    }).join('\n');
    res.type('html').send(page('Models', `<h1>Models</h1><p class="note">Research use only. Figures as measured here on held-back data; the cards say how far each goal is missed.</p>${cards}`, { signedIn: true }));
  });

  router.get('/app/system', async (_req, res) => {
    const dependencies = await stackStatus(config);
    const depth: string[] = [];
    for (const [name, q] of [['analyze', queues.analyze], ['deliver', queues.deliver], ['tiles', queues.tiles]] as const) {
      const counts = await q.getJobCounts().catch(() => undefined);
      depth.push(`<tr data-queue="${name}"><td>${name}</td>${counts ? ['waiting', 'active', 'delayed', 'failed'].map((s) => `<td>${(counts as unknown as Record<string, number>)[s] ?? 0}</td>`).join('') : '<td colspan="4" class="failed">Redis did not answer</td>'}</tr>`);
    }
    const running = await ds.getRepository(JobRow).find({ where: { state: 'running' }, order: { startedAt: 'ASC' }, take: 50 });
    const failed = await ds.getRepository(JobRow).find({ where: { state: 'failed' }, order: { finishedAt: 'DESC' }, take: 50 });
    const audit = await listAudit(ds, { limit: 30 });
    const jobRow = (j: JobRow): string => `<tr data-job="${esc(j.id)}"><td><a href="/app/studies/${esc(j.studyInstanceUid)}">${esc(j.studyInstanceUid)}</a></td><td>${esc(j.pipeline)}</td><td>${esc(`${j.modelId} ${j.modelVersion}`)}</td><td>${j.attempts}</td><td>${esc(j.error ?? '')}</td></tr>`;
    res.type('html').send(page('System', `<h1>System</h1>
<h2>Dependencies</h2><table id="dependencies"><tbody>${dependencies.map((d) => `<tr><td>${esc(d.name)}</td><td class="${d.ok ? 'delivered' : 'failed'}">${d.ok ? 'up' : 'down'}</td><td>${esc(d.detail)}</td></tr>`).join('')}</tbody></table>
<h2>Queues</h2><table id="queues"><thead><tr><th>queue</th><th>waiting</th><th>active</th><th>delayed</th><th>failed</th></tr></thead><tbody>${depth.join('')}</tbody></table>
<h2>Running</h2><table id="running"><tbody>${running.map(jobRow).join('') || '<tr><td>none</td></tr>'}</tbody></table>
<h2>Failed, with their reasons</h2><table id="failed"><tbody>${failed.map(jobRow).join('') || '<tr><td>none</td></tr>'}</tbody></table>
<h2>Latest audit entries</h2><table id="audit"><thead><tr><th>at</th><th>direction</th><th>channel</th><th>peer</th><th>outcome</th><th>detail</th></tr></thead><tbody>${audit.map((a) => `<tr><td>${esc(new Date(a.at).toISOString())}</td><td>${esc(a.direction)}</td><td>${esc(a.channel)}</td><td>${esc(a.peer)}</td><td>${esc(a.outcome)}</td><td>${esc(a.detail ?? '')}</td></tr>`).join('')}</tbody></table>`, { signedIn: true }));
  });
  return router;
}
