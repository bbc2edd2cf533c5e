/**
 * Build logs mask the Secret values a build uses: a private repository (git http-backend
 * behind basic auth) whose Dockerfile prints the sourceSecret's password still leaves no
 * trace of it in the log, the Build's message or its logSnippet.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { SecretMasker } from '../../src/core/redact.js';
import { BASE_IMAGE, startGitHttpServer, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

const ns = `sec-${randomUUID().slice(0, 8)}`;
const PASSWORD = `pw-${randomUUID()}`;
let s: TestSlipway;
let git: GitServer;

function privateBuildConfig(name: string): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri: git.url(name), ref: 'main' }, sourceSecret: { name: 'git-creds' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
    },
  };
}

async function logOf(build: string): Promise<string> {
  return (await s.api('GET', `${BUILD_PATH(ns, build)}/log`)).text();
}

beforeAll(async () => {
  s = await startSlipway();
  git = await startGitHttpServer({ username: 'builder', password: PASSWORD });
  await s.apiJson('POST', `/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'git-creds' },
    type: 'kubernetes.io/basic-auth',
    stringData: { username: 'builder', password: PASSWORD },
  });
}, 120000);

afterAll(async () => {
  await git?.stop();
  await s?.stop();
});

test('a build whose repository prints the sourceSecret password logs it masked', async () => {
  // The repository echoes the password in a RUN step, in an ENV line and in a build arg's default.
  git.commit('echo', {
    Dockerfile:
      `FROM ${BASE_IMAGE}\n` +
      `ARG LEAK=${PASSWORD}\n` +
      `ENV ALSO=${PASSWORD}\n` +
      `RUN echo "the password is ${PASSWORD}" && echo "split:$ALSO:done"\n`,
  });
  await s.apiJson('POST', BC_PATH(ns), privateBuildConfig('echo'));
  await s.apiJson('POST', `${BC_PATH(ns, 'echo')}/instantiate`, { kind: 'BuildRequest' });
  const build = await s.waitForBuild(ns, 'echo-1');
  const log = await logOf('echo-1');
  expect((build.status as any).phase).toBe('Complete');
  // The lines are there, the password is not.
  expect(log).toContain('the password is ***');
  expect(log).toContain('split:***:done');
  expect(log).not.toContain(PASSWORD);
  expect(log).not.toContain(Buffer.from(`builder:${PASSWORD}`).toString('base64'));
  expect(JSON.stringify(build)).not.toContain(PASSWORD);
}, 180000);

test("a failing build's message and logSnippet mask the password too", async () => {
  git.commit('fails', {
    Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo "leaving ${PASSWORD} behind" && exit 3\n`,
  });
  await s.apiJson('POST', BC_PATH(ns), privateBuildConfig('fails'));
  await s.apiJson('POST', `${BC_PATH(ns, 'fails')}/instantiate`, { kind: 'BuildRequest' });
  const build = await s.waitForBuild(ns, 'fails-1');
  const status = build.status as { phase: string; logSnippet?: string; message?: string };
  expect(status.phase).toBe('Failed');
  expect(status.logSnippet).toContain('leaving *** behind');
  expect(JSON.stringify(build)).not.toContain(PASSWORD);
  expect(await logOf('fails-1')).not.toContain(PASSWORD);
}, 180000);

test('a multi-line secret (an ssh key) is masked whole and line by line; short values are left alone', () => {
  const key = `-----BEGIN KEY-----\nAAAAline1secret\nBBBBline2secret\n-----END KEY-----`;
  const masker = new SecretMasker();
  masker.add(key, 'ab');
  expect(masker.mask(`got ${key}`)).not.toMatch(/line1secret|line2secret/);
  expect(masker.mask('BBBBline2secret')).toBe('***');
  expect(masker.mask('about a cab')).toBe('about a cab');
  expect(masker.mask('cloning https://u:p@host/x.git')).toBe('cloning https://***@host/x.git');
});
