/**
 * A repository's symbolic links must not let a Docker-strategy build write to, or read
 * from, the build host: the worker runs as root. Each hostile repository is a real git
 * repository; each build runs on the real stack (Redis, registry, Docker engine).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import type { Resource } from '../../src/core/resource.js';
import { BASE_IMAGE } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { cleanupRepos, hostFile, hostileRepo, readText, scratchDir } from './repo-support.js';

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

async function build(name: string, source: Record<string, unknown>, strategy: Record<string, unknown> = {}) {
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source,
      strategy: { type: 'Docker', dockerStrategy: { noCache: true, ...strategy } },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  });
  await s.apiJson('POST', `${BC_PATH(ns, name)}/instantiate`, { kind: 'BuildRequest', metadata: { name } });
  const done = await s.waitForBuild(ns, `${name}-1`);
  const log = await (await s.api('GET', `${BUILD_PATH(ns, `${name}-1`)}/log`)).text();
  return { status: st(done), log };
}

test('a Dockerfile that links to a host file is refused, and the inline Dockerfile is not written through it', async () => {
  const victim = hostFile('victim.conf', 'original host content\n');
  const repo = hostileRepo({ Dockerfile: { symlink: victim.path }, 'README.md': 'hi\n' });
  const { status, log } = await build('inline-through-link', {
    git: { uri: repo.url, ref: 'main' },
    dockerfile: `FROM ${BASE_IMAGE}\nRUN echo overwritten\n`,
  });
  expect([status.phase, status.reason]).toEqual(['Failed', 'ManageDockerfileFailed']);
  expect(status.message).toMatch(/dockerfilePath "Dockerfile" leads outside the source checkout/);
  expect(log).toContain('dockerfilePath "Dockerfile" leads outside the source checkout');
  expect(readText(victim.path)).toBe('original host content\n');
});

test('a Dockerfile that links to a host file is not read into the build either', async () => {
  const secret = hostFile('secret.txt');
  const repo = hostileRepo({ Dockerfile: { symlink: secret.path } });
  const { status, log } = await build('read-through-link', { git: { uri: repo.url, ref: 'main' } });
  expect([status.phase, status.reason]).toEqual(['Failed', 'ManageDockerfileFailed']);
  expect(log).toContain('leads outside the source checkout');
  expect(log).not.toContain(secret.content);
  expect(JSON.stringify(status)).not.toContain(secret.content);
});

test('a contextDir that links to a host directory is refused and the directory gets no Dockerfile', async () => {
  const hostDir = scratchDir('hostdir');
  const repo = hostileRepo({ app: { symlink: hostDir }, 'README.md': 'hi\n' });
  const { status, log } = await build('context-link', {
    git: { uri: repo.url, ref: 'main' },
    contextDir: 'app',
    dockerfile: `FROM ${BASE_IMAGE}\n`,
  });
  expect([status.phase, status.reason]).toEqual(['Failed', 'InvalidContextDirectory']);
  expect(status.message).toMatch(/contextDir "app" leads outside the source checkout/);
  expect(log).toContain('contextDir "app" leads outside the source checkout');
  expect(readdirSync(hostDir)).toEqual([]);
});

test('a directory link on the dockerfilePath that leads out is refused', async () => {
  const hostDir = scratchDir('hostdir');
  const repo = hostileRepo({ docker: { symlink: hostDir }, 'README.md': 'hi\n' });
  const { status } = await build(
    'dockerfilepath-link',
    { git: { uri: repo.url, ref: 'main' }, dockerfile: `FROM ${BASE_IMAGE}\n` },
    { dockerfilePath: 'docker/Dockerfile' },
  );
  expect([status.phase, status.reason]).toEqual(['Failed', 'ManageDockerfileFailed']);
  expect(status.message).toContain('dockerfilePath "docker/Dockerfile" leads outside the source checkout');
  expect(readdirSync(hostDir)).toEqual([]);
});

test('links that stay inside the checkout still build, and a link to a host file reaches the engine as a link', async () => {
  const secret = hostFile('secret.txt');
  const repo = hostileRepo({
    'docker/Dockerfile.prod': `FROM ${BASE_IMAGE}\nCOPY . /ctx/\nCMD ["sh", "-c", "cat /ctx/shared/data.txt; ls -l /ctx/host-link"]\n`,
    Dockerfile: { symlink: 'docker/Dockerfile.prod' },
    'data/data.txt': 'inside data\n',
    shared: { symlink: 'data' },
    'host-link': { symlink: secret.path },
  });
  const { status } = await build('inside-links', { git: { uri: repo.url, ref: 'main' } });
  expect([status.phase, status.message]).toEqual(['Complete', undefined]);
  const image = `${s.registry.host}/${ns}/inside-links@${status.output.to.imageDigest}`;
  const out = execFileSync('docker', ['run', '--rm', image], { encoding: 'utf8' });
  execFileSync('docker', ['rmi', '-f', image], { stdio: 'ignore' });
  // `shared` is a link inside the context, so it resolves; `host-link` stays a dangling link.
  expect(out).toContain('inside data');
  expect(out).toContain(`host-link -> ${secret.path}`);
  expect(out).not.toContain(secret.content);
});

test('a dockerfilePath that links out of the contextDir (but not out of the checkout) is refused by name', async () => {
  const repo = hostileRepo({
    'other/Dockerfile': `FROM ${BASE_IMAGE}\n`,
    'app/docker': { symlink: '../other' },
    'app/README.md': 'hi\n',
  });
  const { status } = await build(
    'outside-context',
    { git: { uri: repo.url, ref: 'main' }, contextDir: 'app' },
    { dockerfilePath: 'docker/Dockerfile' },
  );
  expect([status.phase, status.reason]).toEqual(['Failed', 'ManageDockerfileFailed']);
  expect(status.message).toContain(
    'dockerfilePath "docker/Dockerfile" leads outside the context directory "app", which is all the Docker engine receives',
  );
});

describe('build input Secrets (spec.source.secrets) and links in the repository', () => {
  const TOKEN = `input-secret-${randomUUID()}`;
  beforeAll(async () => {
    await s.apiJson('POST', `/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'build-token' },
      stringData: { token: TOKEN },
    });
  });
  const secrets = [{ secret: { name: 'build-token' }, destinationDir: 'creds' }];

  test('a destinationDir that is a link to a host directory: refused, and the Secret is not written there', async () => {
    const hostDir = scratchDir('input-dir');
    const repo = hostileRepo({ creds: { symlink: hostDir }, Dockerfile: `FROM ${BASE_IMAGE}\n` });
    const { status, log } = await build('input-dir-link', { git: { uri: repo.url, ref: 'main' }, secrets });
    expect([status.phase, status.reason]).toEqual(['Failed', 'FetchSourceFailed']);
    expect(status.message).toContain(
      'the destinationDir "creds" of the build secret "build-token" leads outside the source checkout through a symbolic link',
    );
    expect(log).toContain('leads outside the source checkout');
    expect(readdirSync(hostDir)).toEqual([]);
    expect(log).not.toContain(TOKEN);
  });

  test('a file of the Secret that is already a link to a host file: refused, the host file keeps its content', async () => {
    const victim = hostFile('victim-token', 'host content\n');
    const repo = hostileRepo({ 'creds/token': { symlink: victim.path }, Dockerfile: `FROM ${BASE_IMAGE}\n` });
    const { status } = await build('input-file-link', { git: { uri: repo.url, ref: 'main' }, secrets });
    expect([status.phase, status.reason]).toEqual(['Failed', 'FetchSourceFailed']);
    expect(status.message).toContain('the file "token" of the build secret "build-token" leads outside');
    expect(readText(victim.path)).toBe('host content\n');
  });
});
