// `sentinel stack up|down|status`.
import { loadConfig, projectRoot } from '../config/load';
import { ensureSecrets, stackDown, stackStatus, stackUp } from '../stack/stack';

export async function runStackCommand(action: string): Promise<number> {
  const log = (msg: string): void => console.log(`stack: ${msg}`);
  const opts = { root: projectRoot, env: process.env, log };
  switch (action) {
    case 'up': {
      ensureSecrets(projectRoot);
      const config = loadConfig();
      for (const p of await stackUp(config, opts)) log(`${p.name} ready: ${p.detail}`);
      return 0;
    }
    case 'down': {
      const stopped = await stackDown(loadConfig(), opts);
      log(stopped.length ? `stopped ${stopped.join(', ')}` : 'nothing of ours was running');
      return 0;
    }
    case 'status': {
      const probes = await stackStatus(loadConfig());
      for (const p of probes) log(`${p.name}: ${p.ok ? 'up' : 'DOWN'} (${p.detail})`);
      return probes.every((p) => p.ok) ? 0 : 1;
    }
    default:
      console.error(`unknown stack action "${action}": use up, down or status`);
      return 2;
  }
}
