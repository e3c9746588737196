// The OHIF viewer's prebuilt static files, from the npm package @ohif/app at one pinned
// version. The package is fetched with `npm pack` (the ordinary npm client, so the registry,
// proxy and cache settings of the machine apply) and checked against the pinned integrity,
// then its dist/ is unpacked under var/ohif/. It is not a dependency in package.json because
// its 40 declared dependencies (React, webpack loaders, @ohif/core...) are build inputs that
// a prebuilt dist/ never loads, and some pinned ones (@ohif/i18n@3.13.2) are not on every
// registry, which would break `npm ci` for everyone.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SentinelError } from '../errors/errors';

export const OHIF_APP = {
  name: '@ohif/app',
  version: '3.13.2',
  integrity: 'sha512-WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA==',
} as const;

/**
 * dist/ort is onnxruntime-web (136 MB) for OHIF's in-browser AI segmentation tools, which
 * viewing our SEG and SR never loads; leaving it out keeps the unpacked viewer near 70 MB.
 */
const LEFT_OUT = ['package/dist/ort'];

export function ohifDistDir(root: string): string {
  return path.join(root, 'var', 'ohif', `app-${OHIF_APP.version}`, 'dist');
}

function integrityOf(file: string): string {
  return `sha512-${crypto.createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;
}

/** The unpacked dist/ folder, fetched and unpacked on first use. */
export function ensureOhifDist(root: string, log: (msg: string) => void = () => {}): string {
  const dist = ohifDistDir(root);
  if (fs.existsSync(path.join(dist, 'index.html'))) return dist;
  const target = path.dirname(dist);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const work = fs.mkdtempSync(`${target}.partial-`);
  try {
    log(`fetching ${OHIF_APP.name}@${OHIF_APP.version} with npm pack (about 50 MB, once)`);
    execFileSync('npm', ['pack', `${OHIF_APP.name}@${OHIF_APP.version}`, '--pack-destination', work, '--silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tgz = fs.readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new SentinelError('unavailable', `npm pack ${OHIF_APP.name}@${OHIF_APP.version} left no tarball`);
    const got = integrityOf(path.join(work, tgz));
    if (got !== OHIF_APP.integrity) {
      throw new SentinelError('unavailable', `${OHIF_APP.name}@${OHIF_APP.version}: integrity ${got} is not the pinned ${OHIF_APP.integrity}`);
    }
    execFileSync('tar', ['-xzf', path.join(work, tgz), '-C', work, ...LEFT_OUT.map((p) => `--exclude=${p}`)], { stdio: 'pipe' });
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(path.join(work, 'package'), target);
    log(`unpacked ${OHIF_APP.name}@${OHIF_APP.version} into ${target}`);
    return dist;
  } catch (err) {
    if (err instanceof SentinelError) throw err;
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new SentinelError('unavailable', `cannot fetch ${OHIF_APP.name}@${OHIF_APP.version}: ${stderr || (err as Error).message}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
