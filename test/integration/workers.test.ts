/**
 * Workers on the real stack: a worker killed with SIGKILL mid-build leaves no build
 * stuck in Running; two workers build two BuildConfigs at once; Serial runs one build
 * of a BuildConfig at a time, in order.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Resource } from '../../src/core/resource.js';
import { BASE_IMAGE, startGitDaemon, waitFor, type GitServer } from '../support/stack.js';
import { BC_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
let git: GitServer;
const ns = `w-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  // Short leases so a dead worker's build is reclaimed within seconds.
  s = await startSlipway({
    workers: 0,
    config: { workerLockMs: 4000, stalledIntervalMs: 2000, workerConcurrency: 1 },
  });
  git = await startGitDaemon();
});
afterAll(async () => {
  await s?.stop();
  await git?.stop();
});

function bcFor(name: string, dockerfile: string, runPolicy = 'Serial'): Resource {
  git.commit(name, { Dockerfile: dockerfile });
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      runPolicy,
      source: { git: { uri: git.url(name), ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: { noCache: true } },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  };
}

const st = (b: Resource): Record<string, any> => (b.status ?? {}) as Record<string, any>;

test('a worker killed with SIGKILL mid-build: the build ends in Error, never stuck in Running', async () => {
  expect(existsSync('dist/cli/main.js')).toBe(true); // `npm test` builds first
  await s.apiJson('POST', BC_PATH(ns), bcFor('victim', `FROM ${BASE_IMAGE}\nRUN sleep 60\n`));
  const child = spawn(process.execPath, ['bin/slipway.js', 'worker'], {
    env: {
      ...process.env,
      SLIPWAY_REDIS_URL: s.redis.url,
      SLIPWAY_REGISTRY: s.registry.host,
      SLIPWAY_WORKER_LOCK_MS: '4000',
      SLIPWAY_STALLED_INTERVAL_MS: '2000',
      SLIPWAY_LOG_LEVEL: 'silent',
    },
    stdio: 'ignore',
  });
  try {
    await s.apiJson('POST', `${BC_PATH(ns, 'victim')}/instantiate`, {});
    const running = await s.waitForBuild(ns, 'victim-1', ['Running'], 60000);
    expect(running.metadata.annotations?.['slipway.dev/worker']).toContain(`/${child.pid}/`);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // A surviving worker's stalled-job check finds the orphan.
    s.startWorker();
    const ended = await s.waitForBuild(ns, 'victim-1', ['Complete', 'Failed', 'Error', 'Cancelled'], 60000);
    expect(st(ended).phase).toBe('Error');
    expect(st(ended).reason).toBe('BuildPodDeleted');
    expect(st(ended).completionTimestamp).toBeTruthy();
  } finally {
    child.kill('SIGKILL');
  }
});

test('two BuildConfigs build at the same time on two workers', async () => {
  while (s.workers.length < 2) s.startWorker();
  const dockerfile = (tag: string): string => `FROM ${BASE_IMAGE}\nRUN echo ${tag} && sleep 4\n`;
  await s.apiJson('POST', BC_PATH(ns), bcFor('left', dockerfile('left')));
  await s.apiJson('POST', BC_PATH(ns), bcFor('right', dockerfile('right')));
  await Promise.all(['left', 'right'].map((bc) => s.apiJson('POST', `${BC_PATH(ns, bc)}/instantiate`, {})));
  // Both are Running at one moment: seen together, not one after the other.
  await waitFor(
    'both builds running at once',
    async () => {
      const [l, r] = await Promise.all(
        ['left-1', 'right-1'].map((n) =>
          s.apiJson('GET', `/apis/build.openshift.io/v1/namespaces/${ns}/builds/${n}`),
        ),
      );
      return st(l!).phase === 'Running' && st(r!).phase === 'Running' ? [l!, r!] : undefined;
    },
    60000,
    100,
  );
  const [left, right] = await Promise.all([s.waitForBuild(ns, 'left-1'), s.waitForBuild(ns, 'right-1')]);
  expect(st(left).phase).toBe('Complete');
  expect(st(right).phase).toBe('Complete');
  expect(left.metadata.annotations?.['slipway.dev/worker']).not.toBe(
    right.metadata.annotations?.['slipway.dev/worker'],
  );
});

test('Serial (the default) runs builds of one BuildConfig one at a time, in order', async () => {
  while (s.workers.length < 2) s.startWorker();
  await s.apiJson('POST', BC_PATH(ns), bcFor('serial', `FROM ${BASE_IMAGE}\nRUN sleep 2\n`));
  for (let i = 0; i < 3; i++) await s.apiJson('POST', `${BC_PATH(ns, 'serial')}/instantiate`, {});
  const builds = [];
  for (const n of ['serial-1', 'serial-2', 'serial-3']) builds.push(await s.waitForBuild(ns, n));
  for (const b of builds) expect(st(b).phase).toBe('Complete');
  for (let i = 1; i < builds.length; i++) {
    expect(Date.parse(st(builds[i]!).startTimestamp)).toBeGreaterThanOrEqual(
      Date.parse(st(builds[i - 1]!).completionTimestamp),
    );
  }
});
