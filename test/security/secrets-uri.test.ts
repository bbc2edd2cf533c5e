/**
 * Credentials written into a git URI: refused on write with a pointer to sourceSecret;
 * one already in Redis (stored before the rule) builds without its password reaching the
 * build log, the Build, the API's answers or the image's labels.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import type { Resource } from '../../src/core/resource.js';
import { BUILD_CONFIG } from '../../src/queue/instantiate.js';
import { BASE_IMAGE, startGitDaemon, startGitHttpServer, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

const docker = new Docker();
const ns = `sec-${randomUUID().slice(0, 8)}`;
const PASSWORD = `pw-${randomUUID()}`;
let s: TestSlipway;
let git: GitServer;

function dockerBuildConfig(name: string, uri: string): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri, ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  };
}

beforeAll(async () => {
  s = await startSlipway();
  git = await startGitHttpServer({ username: 'builder', password: PASSWORD });
}, 120000);

afterAll(async () => {
  await git?.stop();
  await s?.stop();
});

test('a BuildConfig with a password in its git URI is refused 422 naming spec.source.git.uri and sourceSecret', async () => {
  const uri = git.url('app').replace('http://', `http://builder:${PASSWORD}@`);
  const res = await s.api('POST', BC_PATH(ns), dockerBuildConfig('inline', uri));
  const text = await res.text();
  expect(res.status).toBe(422);
  const status = JSON.parse(text) as { details?: { causes?: { field: string; message: string }[] } };
  const cause = status.details?.causes?.find((c) => c.field === 'spec.source.git.uri');
  expect(cause?.message).toMatch(/sourceSecret/);
  // The refusal itself does not repeat the password.
  expect(text).not.toContain(PASSWORD);
  expect((await s.api('GET', BC_PATH(ns, 'inline'))).status).toBe(404);

  // A token as the user name is a credential too; an ssh account name is not.
  const token = await s.api(
    'POST',
    BC_PATH(ns),
    dockerBuildConfig('token', git.url('app').replace('http://', `http://${PASSWORD}@`)),
  );
  expect(token.status).toBe(422);
  const ssh = await s.api('POST', BC_PATH(ns), dockerBuildConfig('ssh', 'ssh://git@127.0.0.1/app.git'));
  expect(ssh.status).toBe(201);
});

test('a BuildConfig with credentials slipped into Redis builds without the password in the log, the Build, the API or the image labels', async () => {
  // A git server without auth: the build succeeds whether or not git would send the URI's userinfo.
  const open = await startGitDaemon();
  try {
    open.commit('legacy', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo built > /built\n` });
    // git:// carries no auth, so a URI with userinfo still clones; the transport is allowed.
    const uri = open.url('legacy').replace('git://', `git://builder:${PASSWORD}@`);
    // Written straight into the store, past validation (as an older Slipway would have kept it).
    await s.rt.store.create(BUILD_CONFIG, dockerBuildConfig('legacy', uri));

    const shown = await s.apiJson('GET', BC_PATH(ns, 'legacy'));
    expect(JSON.stringify(shown)).not.toContain(PASSWORD);
    expect((shown.spec as any).source.git.uri).toMatch(/^git:\/\/\*\*\*@127\.0\.0\.1:/);

    const started = await s.api('POST', `${BC_PATH(ns, 'legacy')}/instantiate`, {
      kind: 'BuildRequest',
      apiVersion: 'build.openshift.io/v1',
      metadata: { name: 'legacy' },
    });
    const startedText = await started.text();
    expect(started.status).toBe(201);
    expect(startedText).not.toContain(PASSWORD);

    const build = await s.waitForBuild(ns, 'legacy-1');
    const log = await (await s.api('GET', `${BUILD_PATH(ns, 'legacy-1')}/log`)).text();
    expect((build.status as any).phase).toBe('Complete');
    expect(log).toContain('Cloning "git://***@127.0.0.1:');
    expect(log).not.toContain(PASSWORD);
    expect(JSON.stringify(build)).not.toContain(PASSWORD);
    // The Build as stored, not only as answered.
    const stored = await s.rt.redis.keys(`*${ns}*legacy-1*`);
    for (const key of stored) {
      const type = await s.rt.redis.type(key);
      const raw =
        type === 'string'
          ? await s.rt.redis.get(key)
          : type === 'hash'
            ? JSON.stringify(await s.rt.redis.hgetall(key))
            : type === 'stream'
              ? JSON.stringify(await s.rt.redis.xrange(key, '-', '+'))
              : '';
      expect(raw ?? '').not.toContain(PASSWORD);
    }

    const reference = (build.status as any).outputDockerImageReference as string;
    // The image as the registry has it (pulled back when the worker left no local tag).
    const image = await docker
      .getImage(reference)
      .inspect()
      .catch(() => {
        execFileSync('docker', ['pull', '-q', reference], { stdio: 'ignore' });
        return docker.getImage(reference).inspect();
      });
    const labels = image.Config.Labels ?? {};
    expect(labels['io.openshift.build.source-location']).toMatch(/^git:\/\/\*\*\*@127\.0\.0\.1:/);
    expect(JSON.stringify(image.Config)).not.toContain(PASSWORD);
    await docker
      .getImage(reference)
      .remove({ force: true })
      .catch(() => undefined);
  } finally {
    await open.stop();
  }
}, 180000);
