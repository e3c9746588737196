// `sentinel viewer`: the OHIF viewer on loopback, reading the configured PACS through a
// same-origin DICOMweb proxy, so a radiologist or pathologist can see Sentinel's SEG and SR
// over the images (OHIF's microscopy mode for slides).
import { loadConfig, projectRoot } from '../config/load';
import { stopOnSignals } from '../service/server';
import { ensureOhifDist } from '../viewer/ohif-package';
import { startViewer } from '../viewer/server';

export interface ViewerCommandOptions {
  port: string;
}

export async function runViewer(opts: ViewerCommandOptions): Promise<number> {
  const config = loadConfig();
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`viewer: --port ${opts.port} is not a port number`);
    return 2;
  }
  if (config.auth.apiTokens.length === 0) {
    console.error('viewer: no API token is configured (SENTINEL_API_TOKENS, or `sentinel stack up` for the bundled stack); the viewer would let nobody in');
    return 1;
  }
  const distDir = ensureOhifDist(projectRoot, (m) => console.log(`viewer: ${m}`));
  const viewer = await startViewer({ config, distDir, port });
  console.log(`viewer: OHIF on ${viewer.url}/ (loopback only), reading ${config.orthanc.url}${config.orthanc.dicomwebPath}`);
  console.log('viewer: sign in with any user name and a Sentinel API token as password (the bundled stack\'s is apiToken in var/secrets.json)');
  console.log(`viewer: a study opens at ${viewer.url}/viewer?StudyInstanceUIDs=<uid>; a slide at ${viewer.url}/microscopy?StudyInstanceUIDs=<uid>`);
  stopOnSignals(() => viewer.stop());
  return 0;
}
