// `npm run viewer:check`: does a real viewer show Sentinel's objects? Against the stack with
// the demo's studies in it (`npm run demo`), it starts `sentinel viewer` in-process and runs
// the checks of checks.ts in headless Chromium on the newest mammography study with a SEG
// and the newest slide study with a SEG (or those given). `npm test` runs the same checks on
// its own studies (test/e2e/viewer.e2e.test.ts).
// Usage: node dist/test/viewer/check.js [--mg STUDY_UID] [--slide STUDY_UID]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { loadConfig, projectRoot } from '../../src/config/load';
import { ensureOhifDist } from '../../src/viewer/ohif-package';
import { startViewer } from '../../src/viewer/server';
import { ARGS, CHROMIUM, OUT, checkImagesWithSeg, checkSlide, checkStudyList, newestStudy, takeProblems } from './checks';

const say = (msg: string): void => console.log(msg);

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`viewer:check: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
    return 2;
  }
  const config = loadConfig();
  const token = config.auth.apiTokens[0];
  if (!token) {
    console.error('viewer:check: no API token configured (run `npm run stack -- up` or set SENTINEL_API_TOKENS)');
    return 2;
  }
  fs.mkdirSync(OUT, { recursive: true });
  const viewer = await startViewer({ config, distDir: ensureOhifDist(projectRoot, (m) => say(`viewer: ${m}`)), port: 0 });
  const auth = `Basic ${Buffer.from(`viewer-check:${token}`).toString('base64')}`;
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-viewer-check-'));
  let ctx: BrowserContext | undefined;
  const missing: string[] = [];
  try {
    say(`viewer on ${viewer.url}, reading ${config.orthanc.url}${config.orthanc.dicomwebPath}`);
    const mg = arg('--mg') ?? (await newestStudy(viewer, auth, 'MG'));
    const sm = arg('--slide') ?? (await newestStudy(viewer, auth, 'SM'));
    if (!mg) missing.push('no mammography study with a SEG in the PACS (run `npm run demo` first)');
    if (!sm) missing.push('no slide study with a SEG in the PACS (run `npm run demo` with ../shared/data present)');
    ctx = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1600, height: 1000 },
      httpCredentials: { username: 'viewer-check', password: token },
    });
    if (mg) await checkStudyList(ctx, viewer, auth, mg);
    if (mg) await checkImagesWithSeg(ctx, viewer, auth, mg);
    if (sm) await checkSlide(ctx, viewer, auth, sm);
  } finally {
    await ctx?.close();
    await viewer.stop();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  const problems = [...missing, ...takeProblems()];
  say(problems.length === 0 ? '\nviewer check: everything shown as expected' : `\nviewer check: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return problems.length === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exitCode = 1;
});
