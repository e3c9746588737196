// The bundled Orthanc's rendered configuration is its whole defence: Debian's Orthanc 1.10
// listens on every interface, so these keys are what keep other hosts from storing studies
// (and so from making Sentinel send ORUs). The keys are checked against the Orthanc on this
// machine's own documentation of its options, because Orthanc ignores a misspelt key silently.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../../src/config/schema';
import { loadConfig, mergeLayers, projectRoot, validateConfig } from '../../../src/config/load';
import { bundledOrthancPaths, bundledStorescuArgs, renderOrthancConfig } from '../../../src/stack/bundled-orthanc';

const template = JSON.parse(fs.readFileSync(path.join(projectRoot, 'orthanc', 'orthanc.json'), 'utf8')) as Record<string, unknown>;

function render(config: Config): Record<string, unknown> {
  return renderOrthancConfig(template, config, bundledOrthancPaths(projectRoot, config), projectRoot);
}

function withBundled(bundled: Record<string, unknown>): Record<string, unknown> {
  return mergeLayers(loadConfig({ env: {} }) as unknown as Record<string, unknown>, { orthanc: { bundled } });
}

/** Every option name Orthanc's own default configuration mentions, commented-out examples included. */
function documentedOrthancOptions(): Set<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-orthanc-default-'));
  try {
    const file = path.join(dir, 'default.json');
    execFileSync('/usr/sbin/Orthanc', [`--config=${file}`], { stdio: 'pipe' });
    return new Set([...fs.readFileSync(file, 'utf8').matchAll(/"([A-Za-z]+)"\s*:/g)].map((m) => m[1] as string));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('the bundled Orthanc configuration', () => {
  const config = loadConfig({ env: {} });
  const rendered = render(config);

  it('refuses HTTP from other hosts, and DICOM stores from any AE title, called AE title or host not allowed', () => {
    expect(rendered).toMatchObject({
      RemoteAccessAllowed: false,
      AuthenticationEnabled: true,
      DicomAlwaysAllowStore: false,
      DicomAlwaysAllowEcho: false,
      DicomCheckCalledAet: true,
      StrictAetComparison: true,
      DicomCheckModalityHost: true,
      DicomModalitiesInDatabase: false,
      DicomAet: 'SENTINEL_PACS',
    });
    // Absent means Orthanc's default, false for each of these (its dump says so); true would
    // let an unknown peer query or pull studies.
    for (const key of ['DicomAlwaysAllowFind', 'DicomAlwaysAllowFindWorklist', 'DicomAlwaysAllowGet', 'DicomAlwaysAllowMove']) {
      expect([undefined, false]).toContain(rendered[key]);
    }
    expect(rendered.DicomModalities).toEqual({
      'sentinel-allowed-1': {
        AET: 'SENTINEL_SCU', Host: '127.0.0.1', Port: 104,
        AllowStore: true, AllowEcho: true,
        AllowFind: false, AllowFindWorklist: false, AllowGet: false, AllowMove: false, AllowStorageCommitment: false,
      },
    });
  });

  it('lists exactly the configured senders, and none when none is configured', () => {
    const two = validateConfig(withBundled({ allowedModalities: [{ aet: 'SENTINEL_SCU', host: '127.0.0.1' }, { aet: 'MG_ROOM_2', host: '10.1.2.3' }] }));
    if (!two.ok) throw new Error(two.problems.join('; '));
    const modalities = render(two.config).DicomModalities as Record<string, { AET: string; Host: string }>;
    expect(Object.values(modalities).map((m) => [m.AET, m.Host])).toEqual([['SENTINEL_SCU', '127.0.0.1'], ['MG_ROOM_2', '10.1.2.3']]);

    const none = validateConfig(withBundled({ allowedModalities: [] }));
    if (!none.ok) throw new Error(none.problems.join('; '));
    expect(render(none.config).DicomModalities).toEqual({});
  });

  it('sets only options this Orthanc knows (a misspelt one would be ignored), and this Orthanc has no listen-address option', () => {
    const known = documentedOrthancOptions();
    // "DicomWeb" is the DICOMweb plugin's section, documented by the plugin, not by Orthanc.
    const unknown = Object.keys(rendered).filter((k) => k !== 'DicomWeb' && !known.has(k));
    expect(unknown).toEqual([]);
    const modalityKeys = Object.values(rendered.DicomModalities as Record<string, Record<string, unknown>>).flatMap((m) => Object.keys(m));
    expect(modalityKeys.filter((k) => !known.has(k))).toEqual([]);
    // If this fails, the installed Orthanc can be told where to listen: bind 127.0.0.1 with it
    // (HTTP and DICOM) instead of relying only on the refusals above.
    expect([...known].filter((k) => /bind|listen|address|interface/i.test(k))).toEqual([]);
  });

  it('storescu calls with the allowed AE title for this machine and the Orthanc\'s own as the called one', () => {
    expect(bundledStorescuArgs(config)).toEqual(['-aet', 'SENTINEL_SCU', '-aec', 'SENTINEL_PACS', '127.0.0.1', String(config.orthanc.bundled.dicomPort)]);
    const remoteOnly = validateConfig(withBundled({ allowedModalities: [{ aet: 'MG_ROOM_2', host: '10.1.2.3' }] }));
    if (!remoteOnly.ok) throw new Error(remoteOnly.problems.join('; '));
    expect(() => bundledStorescuArgs(remoteOnly.config)).toThrow(/no entry for host 127\.0\.0\.1/);
  });

  it.each([
    ['a calling AE title over 16 characters', { allowedModalities: [{ aet: 'SEVENTEEN_CHARS_X', host: '127.0.0.1' }] }, 'orthanc.bundled.allowedModalities.0.aet'],
    ['a host name, which Orthanc would never match', { allowedModalities: [{ aet: 'SENTINEL_SCU', host: 'localhost' }] }, 'orthanc.bundled.allowedModalities.0.host'],
    ['a backslash in an AE title', { allowedModalities: [{ aet: 'A\\B', host: '127.0.0.1' }] }, 'orthanc.bundled.allowedModalities.0.aet'],
    ['a trailing space in an AE title', { allowedModalities: [{ aet: 'SCU ', host: '127.0.0.1' }] }, 'orthanc.bundled.allowedModalities.0.aet'],
    ['an entry without a host', { allowedModalities: [{ aet: 'SENTINEL_SCU' }] }, 'orthanc.bundled.allowedModalities.0.host'],
    ['Orthanc\'s own AE title over 16 characters', { aet: 'SENTINEL_PACS_TOO_LONG' }, 'orthanc.bundled.aet'],
  ])('refuses %s', (_what, bundled, problemPath) => {
    const result = validateConfig(withBundled(bundled));
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.map((p) => p.split(':')[0])).toContain(problemPath);
  });
});
