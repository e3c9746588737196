// Outside loopback the service refuses the bundled demo stack's credentials, or none at all.
import { loadConfig } from '../../../src/config/load';
import { deploymentProblems } from '../../../src/service/deployment';

const demo = { apiToken: 'demo-token-0123456789abcdef', orthancPassword: 'demo-pacs-password' };
const config = (host: string, tokens: string[], password: string) =>
  loadConfig({ env: {}, root: undefined, overrides: { server: { host, port: 8090 }, auth: { apiTokens: tokens }, orthanc: { password } } });

describe('deployment credentials', () => {
  it('on loopback the demo credentials are fine', () => {
    expect(deploymentProblems(config('127.0.0.1', [demo.apiToken], demo.orthancPassword), demo)).toEqual([]);
  });

  it("reachable from other hosts, the demo's API token and PACS password are each refused, with what to set instead", () => {
    const problems = deploymentProblems(config('0.0.0.0', [demo.apiToken], demo.orthancPassword), demo);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/SENTINEL_API_TOKENS/);
    expect(problems[1]).toMatch(/ORTHANC_PASSWORD/);
  });

  it('reachable from other hosts with no token at all is refused; with its own credentials it starts', () => {
    expect(deploymentProblems(config('10.0.0.5', [], 'own-password'), demo)).toEqual([expect.stringMatching(/no API token/)]);
    expect(deploymentProblems(config('10.0.0.5', ['a-token-of-our-own-0123456789'], 'own-password'), demo)).toEqual([]);
  });
});
