/**
 * S2I reads `.s2i/bin/*`, `.s2i/environment` and `.s2iignore` from the repository. A
 * repository that makes them symbolic links to host files (the worker's saved admin
 * token, say) must get a Failed build, not an image carrying the host file. Real git
 * repositories, the real stack and Slipway's static builder image.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { BC_PATH, BUILD_PATH, IS_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { cleanupRepos, hostFile, hostileRepo, type Entry } from './repo-support.js';

const BUILDER = 'slipway/s2i-static:latest';
let s: TestSlipway;
const ns = `sec-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  s = await startSlipway({ workers: 1, config: { allowFileSources: true } });
});
afterAll(async () => {
  await s?.stop();
  cleanupRepos();
});

const st = (b: Resource): Record<string, any> => (b.status ?? {}) as Record<string, any>;

async function s2iBuild(name: string, entries: Record<string, Entry>) {
  const repo = hostileRepo({ 'index.html': '<h1>app</h1>\n', ...entries });
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri: repo.url, ref: 'main' } },
      strategy: { type: 'Source', sourceStrategy: { from: { kind: 'DockerImage', name: BUILDER } } },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  });
  await s.apiJson('POST', `${BC_PATH(ns, name)}/instantiate`, { kind: 'BuildRequest', metadata: { name } });
  const done = await s.waitForBuild(ns, `${name}-1`);
  const log = await (await s.api('GET', `${BUILD_PATH(ns, `${name}-1`)}/log`)).text();
  const stream = await s.api('GET', IS_PATH(ns, name));
  const tags = stream.ok ? (((await stream.json()) as any).status?.tags ?? []) : [];
  return { status: st(done), log, tags };
}

/** Nothing of `secret` in the Build, its log, or any image: none was pushed. */
function expectNothingLeaked(
  result: { status: Record<string, any>; log: string; tags: unknown[] },
  secret: string,
) {
  expect(result.log).not.toContain(secret);
  expect(JSON.stringify(result.status)).not.toContain(secret);
  expect(result.tags).toEqual([]);
  expect(result.status.output).toBeUndefined();
}

test('.s2i/bin/run linked to a host credentials file fails with InstallScriptsFailed; the file never reaches an image', async () => {
  const secret = hostFile('credentials.json', JSON.stringify({ token: `admin-${randomUUID()}` }));
  const result = await s2iBuild('run-link', { '.s2i/bin/run': { symlink: secret.path } });
  expect([result.status.phase, result.status.reason]).toEqual(['Failed', 'InstallScriptsFailed']);
  expect(result.status.message).toContain('.s2i/bin script ".s2i/bin/run" leads outside the source checkout');
  expect(result.log).toContain('".s2i/bin/run" leads outside the source checkout');
  expectNothingLeaked(result, secret.content);
});

test('.s2i/bin/assemble linked to a host file fails the build instead of falling back to the image script', async () => {
  const secret = hostFile('assemble');
  const result = await s2iBuild('assemble-link', { '.s2i/bin/assemble': { symlink: secret.path } });
  expect([result.status.phase, result.status.reason]).toEqual(['Failed', 'InstallScriptsFailed']);
  expect(result.status.message).toContain('".s2i/bin/assemble" leads outside the source checkout');
  expectNothingLeaked(result, secret.content);
});

test('a .s2i directory linked to a host directory fails the build', async () => {
  const secret = hostFile('bin/run');
  const hostS2i = secret.path.slice(0, -'/bin/run'.length);
  const result = await s2iBuild('s2i-dir-link', { '.s2i': { symlink: hostS2i } });
  expect(result.status.phase).toBe('Failed');
  expect(['GenericBuildFailed', 'InstallScriptsFailed']).toContain(result.status.reason);
  expect(result.status.message).toContain('leads outside the source checkout');
  expectNothingLeaked(result, secret.content);
});

test('.s2i/environment linked to a host file fails with GenericBuildFailed; its lines reach no image', async () => {
  const secret = hostFile('env', `STOLEN_TOKEN=${randomUUID()}\n`);
  const result = await s2iBuild('env-link', { '.s2i/environment': { symlink: secret.path } });
  expect([result.status.phase, result.status.reason]).toEqual(['Failed', 'GenericBuildFailed']);
  expect(result.status.message).toContain('.s2i/environment leads outside the source checkout');
  expect(result.log).toContain('.s2i/environment leads outside the source checkout');
  expectNothingLeaked(result, secret.content.trim().split('=')[1]!);
});

test('.s2iignore linked to a host file fails the build', async () => {
  const secret = hostFile('ignore');
  const result = await s2iBuild('ignore-link', { '.s2iignore': { symlink: secret.path } });
  expect([result.status.phase, result.status.reason]).toEqual(['Failed', 'GenericBuildFailed']);
  expect(result.status.message).toContain('.s2iignore leads outside the source checkout');
  expectNothingLeaked(result, secret.content);
});

test('an env-file name that could break lines is skipped with a warning; links inside the checkout still work', async () => {
  const result = await s2iBuild('inside-links', {
    'config/environment': 'GOOD_NAME=kept\nBAD NAME=dropped\n',
    '.s2i/environment': { symlink: '../config/environment' },
  });
  expect([result.status.phase, result.status.message]).toEqual(['Complete', undefined]);
  expect(result.log).toContain('.s2i/environment line 2 names "BAD NAME"');
  const image = `${s.registry.host}/${ns}/inside-links@${result.status.output.to.imageDigest}`;
  const env = execFileSync('docker', ['image', 'inspect', '--format', '{{json .Config.Env}}', image], {
    encoding: 'utf8',
  });
  execFileSync('docker', ['rmi', '-f', image], { stdio: 'ignore' });
  expect(env).toContain('GOOD_NAME=kept');
  expect(env).not.toContain('dropped');
});
