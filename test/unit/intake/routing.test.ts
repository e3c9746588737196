import type { RoutingRule } from '../../../src/config/schema';
import { routeStudy } from '../../../src/pipelines/routing';

const rules: RoutingRule[] = [
  { name: 'mammography', modalities: ['MG'], pipeline: 'mammography', models: ['mg-new', 'mg-old'] },
  { name: 'whole-slide', modalities: ['SM'], pipeline: 'wsi', models: ['idc'] },
];
const installed: Record<string, string> = { 'mg-old': '1.0.0', idc: '2.1.0' };
const find = (id: string): { id: string; version: string } | undefined =>
  installed[id] ? { id, version: installed[id] as string } : undefined;

describe('routing rules', () => {
  it('routes an MG study to mammography with the first installed model of the rule', () => {
    const d = routeStudy('1.2.3', ['MG', 'MG'], rules, find);
    expect(d).toMatchObject({ kind: 'route', pipeline: 'mammography', model: { id: 'mg-old', version: '1.0.0' } });
    expect(d.kind === 'route' && d.dedupeKey).toBe('1.2.3|mammography|mg-old@1.0.0');
  });

  it('still routes a study that already holds our SEG and SR, with the same dedupe key', () => {
    const first = routeStudy('1.2.3', ['MG'], rules, find);
    const again = routeStudy('1.2.3', ['MG', 'SEG', 'SR'], rules, find);
    expect(again.kind === 'route' && first.kind === 'route' && again.dedupeKey === first.dedupeKey).toBe(true);
  });

  it('never routes a study made only of derived objects (our own SEG/SR stored alone)', () => {
    expect(routeStudy('1.2.3', ['SEG', 'SR'], rules, find)).toMatchObject({ kind: 'ignore' });
  });

  it('ignores a modality without a rule, saying why', () => {
    const d = routeStudy('1.2.3', ['CT'], rules, find);
    expect(d).toMatchObject({ kind: 'ignore' });
    expect(d.kind === 'ignore' && d.reason).toContain('CT');
  });

  it('ignores a matching rule whose models are not installed', () => {
    const d = routeStudy('1.2.3', ['SM'], [{ name: 'x', modalities: ['SM'], pipeline: 'wsi', models: ['missing'] }], find);
    expect(d.kind === 'ignore' && d.reason).toContain('missing');
  });

  it('a new model version gives a new dedupe key, so the study is analysed again by it', () => {
    const a = routeStudy('1.2.3', ['SM'], rules, find);
    installed.idc = '2.2.0';
    const b = routeStudy('1.2.3', ['SM'], rules, find);
    expect(a.kind === 'route' && b.kind === 'route' && a.dedupeKey !== b.dedupeKey).toBe(true);
  });
});

describe('companion models in the identity of an analysis', () => {
  it('the installed companions are part of the dedupe key: installing or upgrading one gives a new key', () => {
    const none = routeStudy('1.2.3', ['MG'], rules, find);
    let density = '1.0.0';
    const withDensity = (): ReturnType<typeof routeStudy> => routeStudy('1.2.3', ['MG'], rules, find, (p) => (p === 'mammography' ? [{ id: 'density', version: density }, { id: 'a-model', version: '2' }] : []));
    const a = withDensity();
    expect(a).toMatchObject({ kind: 'route', companions: 'a-model@2+density@1.0.0' });
    expect(a.kind === 'route' && a.dedupeKey).toBe('1.2.3|mammography|mg-old@1.0.0+a-model@2+density@1.0.0');
    density = '1.1.0';
    const b = withDensity();
    const keys = [none, a, b].map((d) => (d.kind === 'route' ? d.dedupeKey : ''));
    expect(new Set(keys).size).toBe(3);
    // Another pipeline's companions do not touch it.
    expect(routeStudy('1.2.3', ['SM'], rules, find, (p) => (p === 'mammography' ? [{ id: 'density', version: density }] : []))).toMatchObject({ companions: '' });
  });
});
