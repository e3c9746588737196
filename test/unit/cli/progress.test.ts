// The long commands' progress: a bar redrawn in place on a terminal, a plain line at every
// tenth otherwise, on stderr so that stdout stays the command's answer.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { progressReporter } from '../../../src/cli/progress';
import { projectRoot } from '../../../src/config/load';
import { sharedData } from '../../support/shared-data';

function stream(isTTY: boolean): { isTTY: boolean; columns: number; text: string; write(t: string): void } {
  return { isTTY, columns: 100, text: '', write(t: string) { this.text += t; } };
}

describe('progress on the command line', () => {
  it('not on a terminal: one plain line per tenth reached, and the end with its time', () => {
    const out = stream(false);
    let t = 0;
    const report = progressReporter(out, () => (t += 1000));
    for (let i = 0; i <= 40; i++) report('eval busi: images', i, 40);
    const lines = out.text.trim().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines[0]).toMatch(/^eval busi: images: 0\/40 \(0%\)/);
    expect(lines[4]).toMatch(/^eval busi: images: 16\/40 \(40%\), about \d+s to go$/);
    expect(lines[10]).toMatch(/^eval busi: images: 40\/40 \(100%\), done in 40s$/);
    expect(out.text).not.toContain('\r');
  });

  it('on a terminal: one bar redrawn in place (at most every 100 ms), ended by a newline', () => {
    const out = stream(true);
    let t = 0;
    const report = progressReporter(out, () => (t += 50));
    for (let i = 1; i <= 10; i++) report('analyze: studies', i, 10);
    const draws = out.text.split('\r').filter(Boolean);
    expect(draws.length).toBeGreaterThan(1);
    expect(draws.length).toBeLessThan(10);
    expect(draws.at(-1)).toMatch(/^analyze: studies \[#+\] 10\/10 100% in \ds\x1b\[K\n$/);
    expect(out.text.split('\n')).toHaveLength(2);
  });

  it('sentinel eval keeps stdout to its JSON and reports on stderr', () => {
    const res = spawnSync(process.execPath, ['-r', path.join(projectRoot, 'test/support/ts-register.js'), path.join(projectRoot, 'src/cli/main.ts'),
      'eval', 'mini-mias-density', sharedData('mammography/mini-mias'), '--split', 'validation'], { cwd: projectRoot, encoding: 'utf8', timeout: 300_000 });
    expect(res.status).toBe(0);
    const result = JSON.parse(res.stdout) as { task: string; n: number };
    expect(result.task).toBe('mini-mias-density');
    expect(res.stderr).toContain(`eval mini-mias-density: films: ${result.n}/${result.n} (100%), done in`);
  }, 300_000);
});
