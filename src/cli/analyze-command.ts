// `sentinel analyze <files or folders...> --out DIR`: the offline path, no server needed.
import path from 'node:path';
import { analyzeFiles } from '../analysis/offline';
import { loadConfig, projectRoot } from '../config/load';
import { ModelRegistry } from '../inference/registry';
import { progressReporter } from './progress';

export async function runAnalyze(paths: string[], opts: { out: string; model?: string; models?: string }): Promise<number> {
  const config = loadConfig();
  const modelsDir = path.resolve(opts.models ?? path.resolve(projectRoot, config.models.dir));
  const registry = await ModelRegistry.load(modelsDir, { intraOpNumThreads: config.models.threads });
  try {
    const outDir = path.resolve(opts.out);
    const report = progressReporter();
    const summary = await analyzeFiles({ paths, outDir, config, registry, modelId: opts.model, progress: (phase, done, total) => report(`analyze: ${phase}`, done, total) });
    for (const u of summary.unreadable) console.log(`unreadable  ${u.file}: ${u.reason}`);
    for (const s of summary.studies) {
      if (s.status === 'analysed') {
        console.log(`analysed    ${s.studyInstanceUid}  ${s.pipeline}  model ${s.model?.id} ${s.model?.version}  score ${s.score?.toFixed(3)} (${s.category})  findings ${s.findings?.length ?? 0}`);
        for (const f of Object.values(s.outputs).flat()) console.log(`            ${path.join(outDir, f)}`);
        for (const k of s.skippedImages ?? []) console.log(`            image ${k.sopInstanceUid ?? '?'} not analysed: ${k.reason}`);
      } else if (s.status === 'failed') {
        // On stderr: a wrong --model or a study with nothing readable must not scroll past unseen.
        console.error(`failed      ${s.studyInstanceUid}: ${s.reason}`);
      } else {
        console.log(`${s.status.padEnd(11)} ${s.studyInstanceUid}: ${s.reason}`);
      }
    }
    console.log(`summary     ${path.join(outDir, 'summary.json')}`);
    const analysed = summary.studies.filter((s) => s.status === 'analysed').length;
    if (analysed === 0) {
      console.error('sentinel analyze: no study could be analysed');
      return 1;
    }
    return summary.studies.some((s) => s.status === 'failed') ? 1 : 0;
  } finally {
    await registry.close();
  }
}
