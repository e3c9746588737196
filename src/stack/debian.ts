// Installs the Debian packages the bundled stack and its tools need, only where missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { SentinelError } from '../errors/errors';

export const STACK_PACKAGES = {
  orthanc: ['orthanc', 'orthanc-dicomweb', 'orthanc-wsi'],
  postgres: ['postgresql'],
  redis: ['redis-server'],
  /** Sentinel's own: the system libjpeg-turbo, which decodes JPEG frames (src/dicom/pixels/turbojpeg.ts). */
  sentinel: ['libturbojpeg0'],
  /**
   * Used by the demo (storescu), by dicomize (OpenSlide), and by the tests: independent
   * judges (dcmtk, dicom3tools, python3-hl7, python3-prometheus-client for /metrics, python3-pil
   * for the resize the models were trained with), the
   * builder of their small ONNX model, and orthanc-postgresql (docker/'s Orthanc, index in
   * PostgreSQL, started by a test).
   */
  tools: ['dcmtk', 'dicom3tools', 'python3-hl7', 'python3-prometheus-client', 'python3-pil', 'orthanc-postgresql', 'libopenslide0', 'python3-onnx', 'python3-numpy', 'libopenblas0-pthread'],
} as const;

export function isInstalled(pkg: string): boolean {
  const res = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return res.status === 0 && res.stdout.includes('install ok installed');
}

export function missingPackages(pkgs: readonly string[]): string[] {
  return pkgs.filter((p) => !isInstalled(p));
}

/** apt-get install what is missing; as root only, otherwise say exactly what to run. */
export function ensurePackages(pkgs: readonly string[], log: (msg: string) => void): void {
  const missing = missingPackages(pkgs);
  if (missing.length === 0) return;
  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new SentinelError('unavailable', `missing Debian packages: ${missing.join(', ')}; run: sudo apt-get update && sudo ${command}`, false);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: 'ignore', env });
}
