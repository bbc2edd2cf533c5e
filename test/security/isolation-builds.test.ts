/**
 * Builds get what their BuildConfig asks for and leave nothing behind, on the real stack
 * (Redis, registry, Docker engine): `resources.limits` reach the containers the build runs
 * (read back from the cgroup inside them), `completionDeadlineSeconds` ends a build Failed
 * with DeadlineExceeded, and a cancelled build or one whose worker was SIGKILLed leaves no
 * `slipway-build/*` tag and no container in the engine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { removeBuildLeftovers } from '../../src/builders/build-scope.js';
import type { Resource } from '../../src/core/resource.js';
import { BUILD as BUILD_KIND } from '../../src/queue/instantiate.js';
import { BASE_IMAGE, freePort, startGitDaemon, waitFor } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

const docker = new Docker();
let s: TestSlipway;
const ns = `iso-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  // Short leases, so a SIGKILLed worker's build is reclaimed within seconds.
  s = await startSlipway({ workers: 1, config: { workerLockMs: 3000, stalledIntervalMs: 2000 } });
});

afterAll(async () => {
  await s?.stop();
});

/** A Docker-strategy BuildConfig with an inline Dockerfile and no push. */
function bc(name: string, dockerfile: string, extra: Record<string, unknown> = {}): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { type: 'Dockerfile', dockerfile },
      strategy: { type: 'Docker', dockerStrategy: {} },
      ...extra,
    },
  };
}

async function start(bcName: string): Promise<string> {
  const build = await s.apiJson('POST', `${BC_PATH(ns, bcName)}/instantiate`, {
    kind: 'BuildRequest',
    metadata: { name: bcName },
  });
  return build.metadata.name;
}

async function logOf(name: string): Promise<string> {
  return (await s.api('GET', `${BUILD_PATH(ns, name)}/log`)).text();
}

/** Containers (by name or by a marker in their command) and tags this namespace's builds left. */
async function leftovers(marker: string): Promise<string[]> {
  const containers = await docker.listContainers({ all: true });
  const named = containers
    .filter(
      (c) => c.Names.some((n) => n.includes(ns)) || c.Command.includes(marker) || c.Command.includes(ns),
    )
    .map((c) => `container ${c.Names[0]} (${c.Command})`);
  const tags = (await docker.listImages())
    .flatMap((i) => i.RepoTags ?? [])
    .filter((t) => t.startsWith('slipway-build/') && t.includes(ns))
    .map((t) => `tag ${t}`);
  return [...named, ...tags];
}

/** The build's own container and tag, as Slipway names them (src/builders/build-scope.ts). */
async function namedForBuild(build: string): Promise<{ containers: string[]; tag: boolean }> {
  const containers = (await docker.listContainers({ all: true }))
    .flatMap((c) => c.Names)
    .filter((n) => n.startsWith(`/slipway-build_${ns}_${build}_`));
  const tag = (await docker.listImages()).some((i) =>
    (i.RepoTags ?? []).includes(`slipway-build/${ns}/${build}:latest`),
  );
  return { containers, tag };
}

const CGROUP_MEMORY =
  'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes';
const CGROUP_CPU =
  "cat /sys/fs/cgroup/cpu.max 2>/dev/null | cut -d' ' -f1 || true; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || true";

test('resources.limits reach the image build and the build containers (64Mi, 500m read from the cgroup)', async () => {
  await s.apiJson(
    'POST',
    BC_PATH(ns),
    bc(
      'limits',
      `FROM ${BASE_IMAGE}\nRUN echo "build-step memory $(${CGROUP_MEMORY})"; echo "build-step cpu $(${CGROUP_CPU})"\n`,
      {
        resources: { limits: { memory: '64Mi', cpu: '500m' } },
        postCommit: {
          script: `echo "post-commit memory $(${CGROUP_MEMORY})"; echo "post-commit cpu $(${CGROUP_CPU})"`,
        },
      },
    ),
  );
  const name = await start('limits');
  const build = await s.waitForBuild(ns, name);
  const log = await logOf(name);
  expect([(build.status as { phase: string }).phase, log]).toEqual(['Complete', expect.any(String)]);
  const bytes = String(64 * 1024 * 1024);
  expect(log).toMatch(new RegExp(`build-step memory ${bytes}\\b`));
  expect(log).toMatch(new RegExp(`post-commit memory ${bytes}\\b`));
  expect(log).toMatch(/build-step cpu\s+50000\b/);
  expect(log).toMatch(/post-commit cpu\s+50000\b/);
});

test('resources.limits reach the S2I assemble container (64Mi read from its cgroup)', async () => {
  const git = await startGitDaemon();
  try {
    git.commit('s2iapp', {
      'package.json': '{"name":"iso","version":"1.0.0"}\n',
      '.s2i/bin/assemble': `#!/bin/sh\necho "assemble memory $(${CGROUP_MEMORY})"\n`,
    });
    await s.apiJson('POST', BC_PATH(ns), {
      apiVersion: 'build.openshift.io/v1',
      kind: 'BuildConfig',
      metadata: { name: 's2ilimits', namespace: ns },
      spec: {
        source: { git: { uri: git.url('s2iapp'), ref: 'main' } },
        strategy: {
          type: 'Source',
          sourceStrategy: { from: { kind: 'DockerImage', name: 'slipway/s2i-nodejs:latest' } },
        },
        resources: { limits: { memory: '64Mi' } },
      },
    });
    const name = await start('s2ilimits');
    const build = await s.waitForBuild(ns, name);
    const log = await logOf(name);
    expect([(build.status as { phase: string }).phase, log]).toEqual(['Complete', expect.any(String)]);
    expect(log).toMatch(new RegExp(`assemble memory ${64 * 1024 * 1024}\\b`));
  } finally {
    await git.stop();
  }
});

test('a limit that is not a quantity is refused on write, naming the field', async () => {
  const res = await s.api(
    'POST',
    BC_PATH(ns),
    bc('badlimit', `FROM ${BASE_IMAGE}\n`, {
      resources: { limits: { memory: 'lots' } },
    }),
  );
  expect(res.status).toBe(422);
  const body = (await res.json()) as { details?: { causes?: { field: string }[] } };
  expect(body.details?.causes?.map((c) => c.field)).toContain('spec.resources.limits.memory');
});

test('completionDeadlineSeconds: 3 ends a `sleep 30` build Failed with DeadlineExceeded well before 30 s', async () => {
  const marker = `deadline-${randomUUID().slice(0, 8)}`;
  await s.apiJson(
    'POST',
    BC_PATH(ns),
    bc('deadline', `FROM ${BASE_IMAGE}\nRUN echo ${marker} && sleep 30\n`, { completionDeadlineSeconds: 3 }),
  );
  const started = Date.now();
  const name = await start('deadline');
  const build = await s.waitForBuild(ns, name, undefined, 60000);
  const elapsed = Date.now() - started;
  const status = build.status as { phase: string; reason?: string; message?: string };
  expect([status.phase, status.reason, status.message]).toEqual([
    'Failed',
    'DeadlineExceeded',
    'Build was running longer than the specified deadline',
  ]);
  expect(elapsed).toBeLessThan(15000);
  expect(await logOf(name)).toContain('completionDeadlineSeconds 3');
  await waitFor(
    'the deadline build to leave nothing',
    async () => (await leftovers(marker)).length === 0,
    20000,
  );
});

test('a cancelled build leaves no slipway-build tag and no container', async () => {
  const marker = `cancel-${randomUUID().slice(0, 8)}`;
  // The post-commit hook runs with the image tagged and its own container running: both must go.
  await s.apiJson(
    'POST',
    BC_PATH(ns),
    bc('cancelme', `FROM ${BASE_IMAGE}\nRUN echo built\n`, {
      postCommit: { script: `echo ${marker}; sleep 60` },
    }),
  );
  const name = await start('cancelme');
  await waitFor(
    'the post-commit container and the build tag',
    async () => {
      const left = await namedForBuild(name);
      return left.containers.length > 0 && left.tag;
    },
    60000,
  );
  await s.apiJson('POST', `${BUILD_PATH(ns, name)}/cancel`, {});
  const build = await s.waitForBuild(ns, name, undefined, 30000);
  expect((build.status as { phase: string }).phase).toBe('Cancelled');
  await waitFor(
    'the cancelled build to leave nothing',
    async () => (await leftovers(marker)).length === 0,
    20000,
  );
  expect(await namedForBuild(name)).toEqual({ containers: [], tag: false });
});

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

test('a build whose worker was SIGKILLed: the worker that ends it removes its container and tag', async () => {
  // Only the worker process below may take this build: the in-process workers stop first.
  for (const w of s.workers.splice(0)) await w.close();
  const marker = `killed-${randomUUID().slice(0, 8)}`;
  await s.apiJson(
    'POST',
    BC_PATH(ns),
    bc('killme', `FROM ${BASE_IMAGE}\nRUN echo built\n`, {
      postCommit: { script: `echo ${marker}; sleep 120` },
    }),
  );
  let output = '';
  const child = spawn(process.execPath, ['bin/slipway.js', 'worker'], {
    env: {
      ...process.env,
      SLIPWAY_LOG_LEVEL: 'silent',
      SLIPWAY_REDIS_URL: s.redis.url,
      SLIPWAY_REGISTRY: s.registry.host,
      SLIPWAY_ROUTER_LISTEN: `127.0.0.1:${await freePort()}`,
      SLIPWAY_WORKER_LOCK_MS: '3000',
      SLIPWAY_STALLED_INTERVAL_MS: '2000',
    },
  });
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  try {
    await waitFor('the worker process to start', async () => output.includes('taking builds'), 30000);
    const name = await start('killme');
    await waitFor(
      'the dead-to-be worker to be in the post-commit hook',
      async () => {
        const left = await namedForBuild(name);
        return left.containers.length > 0 && left.tag;
      },
      90000,
    );
    child.kill('SIGKILL');
    await exited(child);
    // What the dead worker left is still there until someone ends the build.
    expect((await namedForBuild(name)).containers.length).toBeGreaterThan(0);
    s.startWorker();
    const build = await s.waitForBuild(ns, name, undefined, 60000);
    expect((build.status as { reason?: string }).reason).toBe('BuildPodDeleted');
    await waitFor(
      "the dead worker's build to leave nothing",
      async () => (await leftovers(marker)).length === 0,
      20000,
    );
    expect(await namedForBuild(name)).toEqual({ containers: [], tag: false });
  } finally {
    child.kill('SIGKILL');
  }
});

test('a worker starting sweeps what ended builds left in its engine, and leaves live and unknown builds alone', async () => {
  for (const w of s.workers.splice(0)) await w.close();
  const base = docker.getImage(BASE_IMAGE);
  const leave = async (build: string): Promise<void> => {
    await base.tag({ repo: `slipway-build/${ns}/${build}`, tag: 'latest' });
    const c = await docker.createContainer({
      name: `slipway-build_${ns}_${build}_${randomUUID().slice(0, 6)}`,
      Image: BASE_IMAGE,
      Cmd: ['sleep', '120'],
    });
    await c.start();
  };
  const record = (name: string, status: Record<string, unknown>) =>
    s.rt.store.create(BUILD_KIND, {
      apiVersion: 'build.openshift.io/v1',
      kind: 'Build',
      metadata: { name, namespace: ns },
      spec: { source: { type: 'Dockerfile', dockerfile: 'FROM x' }, strategy: { type: 'Docker' } },
      status,
    });
  // ended-1's worker died on this engine and another worker ended it; live-1 still runs;
  // other-1 is unknown here (another Slipway sharing the engine): only ended-1's go.
  await leave('ended-1');
  await leave('live-1');
  await leave('other-1');
  await new Promise((r) => setTimeout(r, 1100));
  await record('ended-1', {
    phase: 'Error',
    reason: 'BuildPodDeleted',
    completionTimestamp: new Date().toISOString(),
  });
  await record('live-1', { phase: 'Running' });
  try {
    s.startWorker();
    await waitFor(
      'ended-1 to be swept',
      async () => {
        const left = await namedForBuild('ended-1');
        return left.containers.length === 0 && !left.tag;
      },
      30000,
    );
    for (const kept of ['live-1', 'other-1']) {
      const left = await namedForBuild(kept);
      expect([kept, left.containers.length, left.tag]).toEqual([kept, 1, true]);
    }
  } finally {
    for (const name of ['live-1', 'other-1']) await removeBuildLeftovers(docker, { namespace: ns, name });
  }
});
