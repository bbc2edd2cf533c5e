/**
 * Dockerfile builds end to end on the real stack: git daemon → worker → Docker engine →
 * docker-registry, with the Build's status and log checked as a user would read them.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import type { Resource } from '../../src/core/resource.js';
import {
  BASE_IMAGE,
  freePort,
  waitFor,
  startGitDaemon,
  startGitHttpServer,
  startGitSshServer,
  type GitServer,
} from '../support/stack.js';
import { BC_PATH, BUILD_PATH, IS_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

const docker = new Docker();
let s: TestSlipway;
let git: GitServer;
const ns = `t-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  s = await startSlipway({ workers: 1, config: { pushAttempts: 2 } });
  git = await startGitDaemon();
});

afterAll(async () => {
  await s?.stop();
  await git?.stop();
});

function dockerBuildConfig(name: string, uri: string, extra: Record<string, unknown> = {}): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri, ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
      ...extra,
    },
  };
}

async function startBuild(bc: string, body: Record<string, unknown> = {}): Promise<Resource> {
  return s.apiJson('POST', `${BC_PATH(ns, bc)}/instantiate`, {
    kind: 'BuildRequest',
    metadata: { name: bc },
    ...body,
  });
}

async function logOf(name: string): Promise<string> {
  return (await s.api('GET', `${BUILD_PATH(ns, name)}/log`)).text();
}

test('a Dockerfile build with a build arg and a contextDir is pushed, pulled back by digest and runs', async () => {
  const commit = git.commit('hello', {
    'README.md': 'not in the context\n',
    'app/Dockerfile': `FROM ${BASE_IMAGE}\nARG WHO=nobody\nRUN echo "built for $WHO" > /out.txt\nCMD ["cat", "/out.txt"]\n`,
  });
  await s.apiJson(
    'POST',
    BC_PATH(ns),
    dockerBuildConfig('hello', git.url('hello'), {
      source: { git: { uri: git.url('hello'), ref: 'main' }, contextDir: 'app' },
      strategy: { type: 'Docker', dockerStrategy: { buildArgs: [{ name: 'WHO', value: 'slipway-users' }] } },
    }),
  );
  const created = await startBuild('hello');
  expect(created.metadata.name).toBe('hello-1');
  expect((created.status as { phase: string }).phase).toBe('New');

  const build = await s.waitForBuild(ns, 'hello-1');
  const status = build.status as Record<string, any>;
  expect([status.phase, status.message]).toEqual(['Complete', undefined]);
  expect(status.startTimestamp).toBeTruthy();
  expect(status.completionTimestamp).toBeTruthy();
  expect(typeof status.duration).toBe('number');
  expect(status.stages.map((st: { name: string }) => st.name)).toEqual([
    'FetchInputs',
    'PullImages',
    'Build',
    'PushImage',
  ]);
  expect((build.spec as any).revision.git.commit).toBe(commit);
  const digest: string = status.output.to.imageDigest;
  expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(status.outputDockerImageReference).toBe(`${s.registry.host}/${ns}/hello:latest`);

  const stream = await s.apiJson('GET', IS_PATH(ns, 'hello'));
  const tag = (stream.status as any).tags.find((t: { tag: string }) => t.tag === 'latest');
  expect(tag.items[0].image).toBe(digest);

  const log = await logOf('hello-1');
  expect(log).toContain('Step 3/');
  expect(log).toContain(commit);

  // Pull back by digest from the registry (the local copy removed first) and run it.
  const byDigest = `${s.registry.host}/${ns}/hello@${digest}`;
  await docker
    .getImage(`${s.registry.host}/${ns}/hello:latest`)
    .remove({ force: true })
    .catch(() => undefined);
  execFileSync('docker', ['pull', '-q', byDigest]);
  const out = execFileSync('docker', ['run', '--rm', byDigest], { encoding: 'utf8' });
  expect(out.trim()).toBe('built for slipway-users');
  const labels = (await docker.getImage(byDigest).inspect()).Config.Labels;
  expect(labels['io.openshift.build.commit.id']).toBe(commit);
  await docker
    .getImage(byDigest)
    .remove({ force: true })
    .catch(() => undefined);
});

test('an inline Dockerfile, env and a from override reach the image', async () => {
  await s.apiJson('POST', BC_PATH(ns), {
    ...dockerBuildConfig('inline', ''),
    spec: {
      source: { dockerfile: 'FROM scratch-is-replaced\nCMD ["sh", "-c", "echo $GREETING"]\n' },
      strategy: {
        type: 'Docker',
        dockerStrategy: {
          from: { kind: 'DockerImage', name: BASE_IMAGE },
          env: [{ name: 'GREETING', value: 'from env' }],
        },
      },
      output: { to: { kind: 'ImageStreamTag', name: 'inline:v1' } },
    },
  });
  await startBuild('inline');
  const build = await s.waitForBuild(ns, 'inline-1');
  expect((build.status as any).phase).toBe('Complete');
  const ref = `${s.registry.host}/${ns}/inline@${(build.status as any).output.to.imageDigest}`;
  const out = execFileSync('docker', ['run', '--rm', ref], { encoding: 'utf8' });
  expect(out.trim()).toBe('from env');
});

test('a failing Dockerfile ends Failed with DockerBuildFailed, the failing step named and the log kept', async () => {
  git.commit('broken', {
    Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo before\nRUN echo "about to fail" && exit 3\n`,
  });
  await s.apiJson('POST', BC_PATH(ns), dockerBuildConfig('broken', git.url('broken')));
  await startBuild('broken');
  const build = await s.waitForBuild(ns, 'broken-1');
  const status = build.status as Record<string, string>;
  expect(status.phase).toBe('Failed');
  expect(status.reason).toBe('DockerBuildFailed');
  expect(status.message).toMatch(/^Step 3\/\d+ : RUN echo "about to fail" && exit 3: /);
  expect(status.message).toContain('non-zero code: 3');
  expect(status.logSnippet).toContain('about to fail');
  expect(await logOf('broken-1')).toContain('about to fail');
});

test('a ref that does not exist ends Failed with FetchSourceFailed and the git error in the log', async () => {
  git.commit('refs', { Dockerfile: `FROM ${BASE_IMAGE}\n` });
  await s.apiJson(
    'POST',
    BC_PATH(ns),
    dockerBuildConfig('badref', git.url('refs'), {
      source: { git: { uri: git.url('refs'), ref: 'no-such-branch' } },
    }),
  );
  await startBuild('badref');
  const build = await s.waitForBuild(ns, 'badref-1');
  expect((build.status as any).phase).toBe('Failed');
  expect((build.status as any).reason).toBe('FetchSourceFailed');
  expect(await logOf('badref-1')).toMatch(/couldn't find remote ref no-such-branch/);
});

test('a private repository builds with a basic-auth sourceSecret, and fails cleanly without one', async () => {
  const priv = await startGitHttpServer({ username: 'builder', password: 's3cret' });
  try {
    priv.commit('private', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo private > /p\n` });
    await s.apiJson('POST', `/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'git-creds' },
      type: 'kubernetes.io/basic-auth',
      stringData: { username: 'builder', password: 's3cret' },
    });
    await s.apiJson(
      'POST',
      BC_PATH(ns),
      dockerBuildConfig('private', priv.url('private'), {
        source: { git: { uri: priv.url('private'), ref: 'main' }, sourceSecret: { name: 'git-creds' } },
      }),
    );
    await s.apiJson('POST', BC_PATH(ns), dockerBuildConfig('nocreds', priv.url('private')));
    await startBuild('private');
    await startBuild('nocreds');
    const ok = await s.waitForBuild(ns, 'private-1');
    expect((ok.status as any).phase).toBe('Complete');
    expect(await logOf('private-1')).not.toContain('s3cret');
    const denied = await s.waitForBuild(ns, 'nocreds-1');
    expect((denied.status as any).reason).toBe('FetchSourceFailed');
  } finally {
    await priv.stop();
  }
});

test('a build whose registry is down fails with PushImageToRegistryFailed after bounded retries', async () => {
  const closed = await freePort();
  git.commit('nopush', { Dockerfile: `FROM ${BASE_IMAGE}\n` });
  await s.apiJson(
    'POST',
    BC_PATH(ns),
    dockerBuildConfig('nopush', git.url('nopush'), {
      output: { to: { kind: 'DockerImage', name: `127.0.0.1:${closed}/${ns}/nopush:latest` } },
    }),
  );
  await startBuild('nopush');
  const build = await s.waitForBuild(ns, 'nopush-1');
  expect((build.status as any).phase).toBe('Failed');
  expect((build.status as any).reason).toBe('PushImageToRegistryFailed');
  const log = await logOf('nopush-1');
  expect(log).toContain('Push attempt 1/2 failed');
  expect(log).toContain('Push attempt 2/2 failed');
});

test('cancelling a running build stops its container and ends it Cancelled', async () => {
  const marker = randomUUID();
  git.commit('slow', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo ${marker} && sleep 120\n` });
  await s.apiJson('POST', BC_PATH(ns), dockerBuildConfig('slow', git.url('slow')));
  await startBuild('slow');
  await s.waitForBuild(ns, 'slow-1', ['Running']);
  const running = async (): Promise<number> =>
    (await docker.listContainers()).filter((c) => c.Command.includes(marker)).length;
  for (let i = 0; i < 100 && (await running()) === 0; i++) await new Promise((r) => setTimeout(r, 200));
  expect(await running()).toBe(1);
  const res = await s.api('POST', `${BUILD_PATH(ns, 'slow-1')}/cancel`, {});
  expect(res.status).toBe(200);
  const build = await s.waitForBuild(ns, 'slow-1', ['Cancelled', 'Complete', 'Failed', 'Error'], 30000);
  expect((build.status as any).phase).toBe('Cancelled');
  expect((build.status as any).reason).toBe('CancelledBuild');
  for (let i = 0; i < 50 && (await running()) > 0; i++) await new Promise((r) => setTimeout(r, 200));
  expect(await running()).toBe(0);
});

test('cancelling a build that has not started ends it at once and it never runs', async () => {
  git.commit('queued', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN sleep 4\n` });
  await s.apiJson('POST', BC_PATH(ns), dockerBuildConfig('queued', git.url('queued')));
  await startBuild('queued');
  await startBuild('queued');
  // Serial: queued-2 waits for queued-1, so it is still New.
  const res = await s.api('PUT', BUILD_PATH(ns, 'queued-2'), {
    ...(await s.apiJson('GET', BUILD_PATH(ns, 'queued-2'))),
    status: { cancelled: true },
  });
  expect(res.status).toBe(200);
  const second = await s.waitForBuild(ns, 'queued-2');
  expect((second.status as any).phase).toBe('Cancelled');
  expect((second.status as any).startTimestamp).toBeUndefined();
  const first = await s.waitForBuild(ns, 'queued-1');
  expect((first.status as any).phase).toBe('Complete');
});

test('successfulBuildsHistoryLimit prunes the oldest complete builds and their logs', async () => {
  git.commit('pruned', { Dockerfile: `FROM ${BASE_IMAGE}\n` });
  await s.apiJson(
    'POST',
    BC_PATH(ns),
    dockerBuildConfig('pruned', git.url('pruned'), { successfulBuildsHistoryLimit: 1 }),
  );
  await startBuild('pruned');
  expect(((await s.waitForBuild(ns, 'pruned-1')).status as any).phase).toBe('Complete');
  await startBuild('pruned');
  expect(((await s.waitForBuild(ns, 'pruned-2')).status as any).phase).toBe('Complete');
  // Pruning follows the Complete status write; a second build of the same inputs
  // (reused: docs/build-lifecycle.md) gets there within a second, so wait for it.
  await waitFor(
    'pruned-1 to be pruned',
    async () => (await s.api('GET', BUILD_PATH(ns, 'pruned-1'))).status === 404,
    10000,
    100,
  );
  expect(await s.rt.logs.readLog(ns, 'pruned-1')).toEqual({ lines: [], closed: false });
  expect((await s.api('GET', BUILD_PATH(ns, 'pruned-2'))).status).toBe(200);
});

test('a repository over SSH builds with a kubernetes.io/ssh-auth sourceSecret, and fails cleanly without one', async () => {
  const sshGit = await startGitSshServer();
  try {
    sshGit.commit('overssh', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo over-ssh\n` });
    await s.apiJson('POST', `/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'ssh-key' },
      type: 'kubernetes.io/ssh-auth',
      stringData: { 'ssh-privatekey': sshGit.privateKey },
    });
    await s.apiJson(
      'POST',
      BC_PATH(ns),
      dockerBuildConfig('overssh', sshGit.url('overssh'), {
        source: { git: { uri: sshGit.url('overssh'), ref: 'main' }, sourceSecret: { name: 'ssh-key' } },
      }),
    );
    await s.apiJson('POST', BC_PATH(ns), dockerBuildConfig('sshnokey', sshGit.url('overssh')));
    await startBuild('overssh');
    await startBuild('sshnokey');
    const ok = await s.waitForBuild(ns, 'overssh-1');
    expect([(ok.status as any).phase, (ok.status as any).message]).toEqual(['Complete', undefined]);
    expect(await logOf('overssh-1')).toContain('over-ssh');
    const denied = await s.waitForBuild(ns, 'sshnokey-1');
    expect((denied.status as any).reason).toBe('FetchSourceFailed');
    expect(await logOf('sshnokey-1')).toMatch(/Permission denied|Could not read from remote repository/);
  } finally {
    await sshGit.stop();
  }
});
