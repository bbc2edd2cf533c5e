/**
 * Submodules are fetched, so their URLs are repository content too: an `ext::` URL runs
 * a command on the worker, `-…` is read as an option. Each level's `.gitmodules` is
 * checked against the transport allow-list before git fetches anything, and git runs
 * with GIT_ALLOW_PROTOCOL. Real git repositories, real stack.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { BASE_IMAGE } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { canary, cleanupRepos, hostileRepo } from './repo-support.js';

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
const SOME_SHA = '0123456789abcdef0123456789abcdef01234567';

function gitmodules(url: string, path = 'lib'): string {
  return `[submodule "${path}"]\n\tpath = ${path}\n\turl = ${url}\n`;
}

async function build(name: string, uri: string): Promise<{ status: Record<string, any>; log: string }> {
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri, ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: { noCache: true } },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  });
  await s.apiJson('POST', `${BC_PATH(ns, name)}/instantiate`, { kind: 'BuildRequest', metadata: { name } });
  const done = await s.waitForBuild(ns, `${name}-1`);
  const log = await (await s.api('GET', `${BUILD_PATH(ns, `${name}-1`)}/log`)).text();
  return { status: st(done), log };
}

test('an ext:: submodule URL fails the build with FetchSourceFailed and runs nothing', async () => {
  const c = canary();
  const repo = hostileRepo(
    { Dockerfile: `FROM ${BASE_IMAGE}\n`, '.gitmodules': gitmodules(`ext::sh -c touch% ${c.path}`) },
    { gitlinks: { lib: SOME_SHA } },
  );
  const { status, log } = await build('ext', repo.url);
  expect([status.phase, status.reason]).toEqual(['Failed', 'FetchSourceFailed']);
  expect(status.message).toContain('submodule "lib" in ./.gitmodules: url "ext::sh -c touch% ');
  expect(status.message).toContain('uses a transport Slipway does not allow');
  expect(log).toContain('no submodule was fetched');
  expect(c.touched()).toBe(false);
});

test('a submodule URL that starts with "-" is refused', async () => {
  const c = canary();
  const repo = hostileRepo(
    { Dockerfile: `FROM ${BASE_IMAGE}\n`, '.gitmodules': gitmodules(`--upload-pack=touch ${c.path}`) },
    { gitlinks: { lib: SOME_SHA } },
  );
  const { status } = await build('dash', repo.url);
  expect([status.phase, status.reason]).toEqual(['Failed', 'FetchSourceFailed']);
  expect(status.message).toContain('starts with "-"');
  expect(c.touched()).toBe(false);
});

test('an allowed submodule is fetched, and an ext:: URL one level down is refused before git fetches it', async () => {
  const c = canary();
  const inner = hostileRepo(
    { 'lib.txt': 'from the submodule\n', '.gitmodules': gitmodules(`ext::sh -c touch% ${c.path}`, 'deep') },
    { gitlinks: { deep: SOME_SHA } },
  );
  const good = hostileRepo({ 'lib.txt': 'from the submodule\n' });
  const ok = hostileRepo(
    { Dockerfile: `FROM ${BASE_IMAGE}\nCOPY lib/lib.txt /lib.txt\n`, '.gitmodules': gitmodules(good.url) },
    { gitlinks: { lib: good.commit } },
  );
  const fetched = await build('sub-ok', ok.url);
  expect([fetched.status.phase, fetched.status.message]).toEqual(['Complete', undefined]);
  expect(fetched.log).toContain('Updating submodules');

  const nested = hostileRepo(
    { Dockerfile: `FROM ${BASE_IMAGE}\n`, '.gitmodules': gitmodules(inner.url) },
    { gitlinks: { lib: inner.commit } },
  );
  const refused = await build('sub-nested', nested.url);
  expect([refused.status.phase, refused.status.reason]).toEqual(['Failed', 'FetchSourceFailed']);
  expect(refused.status.message).toContain('submodule "deep" in lib/.gitmodules');
  expect(c.touched()).toBe(false);
});
