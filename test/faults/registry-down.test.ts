/**
 * The registry goes down while a build runs: the push is tried its bounded number of
 * times (SLIPWAY_PUSH_ATTEMPTS) and the build ends Failed with
 * PushImageToRegistryFailed, each attempt in its log. (The variant where the registry
 * comes back within the retries is not tested here.)
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import {
  BASE_IMAGE,
  startGitDaemon,
  startRegistry,
  type GitServer,
  type RegistryHandle,
} from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
let git: GitServer;
let registry: RegistryHandle;
let registryStopped = false;
const ns = `reg-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  registry = await startRegistry();
  s = await startSlipway({ workers: 1, registry, config: { pushAttempts: 3, pushRetryDelayMs: 300 } });
  git = await startGitDaemon();
});
afterAll(async () => {
  await s?.stop();
  if (!registryStopped) await registry?.stop();
  await git?.stop();
});

test('registry down during the push: Failed, PushImageToRegistryFailed, after 3 attempts, all in the log', async () => {
  const name = 'unpushed';
  git.commit(name, { Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo built-marker && sleep 4\n` });
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri: git.url(name), ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: { noCache: true } },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  });
  const build = await s.apiJson('POST', `${BC_PATH(ns, name)}/instantiate`, {});
  const logPath = `${BUILD_PATH(ns, build.metadata.name)}/log`;
  // The Dockerfile step is running: the registry goes away before the push.
  for (let i = 0; i < 600; i++) {
    if ((await (await s.api('GET', logPath)).text()).includes('built-marker')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await registry.stop();
  registryStopped = true;

  const ended = await s.waitForBuild(ns, build.metadata.name, undefined, 120000);
  const status = ended.status as Record<string, string>;
  expect(status.phase).toBe('Failed');
  expect(status.reason).toBe('PushImageToRegistryFailed');
  expect(status.message).toContain('after 3 attempts');
  const log = await (await s.api('GET', logPath)).text();
  for (const n of [1, 2, 3]) expect(log).toContain(`Push attempt ${n}/3 failed`);
  expect(log).not.toContain('Push attempt 4');
  expect(status.logSnippet).toContain('Push attempt');
  // Nothing was recorded on the ImageStream.
  const is = await s.api('GET', `/apis/image.openshift.io/v1/namespaces/${ns}/imagestreams/${name}`);
  if (is.ok) expect(((await is.json()) as Resource).status).not.toMatchObject({ tags: [{ tag: 'latest' }] });
});
