/**
 * `slipway worker` told to stop (SIGTERM) in the middle of a build: with a grace period
 * long enough the build finishes on that worker; with a short one the build is handed
 * back to the queue and finishes on another worker. Never Error.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Resource } from '../../src/core/resource.js';
import { BASE_IMAGE, startGitDaemon, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { startWorkerProcess } from './processes.js';

let s: TestSlipway;
let git: GitServer;
const ns = `term-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
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

const st = (b: Resource): Record<string, any> => (b.status ?? {}) as Record<string, any>;

async function startBuild(name: string, dockerfile: string): Promise<string> {
  git.commit(name, { Dockerfile: dockerfile });
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
  return build.metadata.name;
}

/** Records every phase a build is seen in, until stopped. */
function watchPhases(name: string): { stop(): Promise<string[]> } {
  const seen: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const res = await s.api('GET', BUILD_PATH(ns, name));
      if (res.ok) {
        const phase = st((await res.json()) as Resource).phase as string;
        if (seen[seen.length - 1] !== phase) seen.push(phase);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

const workerEnv = (grace: number): Record<string, string> => ({
  SLIPWAY_REDIS_URL: s.redis.url,
  SLIPWAY_REGISTRY: s.registry.host,
  SLIPWAY_WORKER_LOCK_MS: '4000',
  SLIPWAY_STALLED_INTERVAL_MS: '2000',
  SLIPWAY_WORKER_CONCURRENCY: '1',
  SLIPWAY_SHUTDOWN_GRACE_SECONDS: String(grace),
});

test('SIGTERM with a long grace period: the running build finishes on the stopping worker', async () => {
  expect(existsSync('dist/cli/main.js')).toBe(true); // npm run build first
  const worker = await startWorkerProcess(workerEnv(120));
  try {
    const name = await startBuild('patient', `FROM ${BASE_IMAGE}\nRUN sleep 5\n`);
    const phases = watchPhases(name);
    const running = await s.waitForBuild(ns, name, ['Running'], 60000);
    const workerId = running.metadata.annotations?.['slipway.dev/worker'];
    expect(workerId).toContain(`/${worker.child.pid}/`);
    worker.kill('SIGTERM');
    expect(await worker.exited()).toBe(0);
    const done = await s.waitForBuild(ns, name, ['Complete', 'Failed', 'Error', 'Cancelled'], 5000);
    expect(st(done).phase).toBe('Complete');
    expect(done.metadata.annotations?.['slipway.dev/worker']).toBe(workerId);
    expect(await phases.stop()).not.toContain('Error');
    expect(worker.output()).toContain('running builds get 120s to finish');
  } finally {
    worker.kill('SIGKILL');
  }
});

test('SIGTERM with a short grace period: the build is handed back and completes on another worker', async () => {
  const worker = await startWorkerProcess(workerEnv(1));
  let other: Awaited<ReturnType<typeof startWorkerProcess>> | undefined;
  try {
    const name = await startBuild('handed', `FROM ${BASE_IMAGE}\nRUN echo first-run-marker && sleep 8\n`);
    const phases = watchPhases(name);
    const running = await s.waitForBuild(ns, name, ['Running'], 60000);
    const firstWorker = running.metadata.annotations?.['slipway.dev/worker'];
    expect(firstWorker).toContain(`/${worker.child.pid}/`);
    // Let the Dockerfile step start, so there is a partial log and a build in the engine.
    const logPath = `${BUILD_PATH(ns, name)}/log`;
    const waitLog = async (text: string): Promise<string> => {
      for (let i = 0; i < 300; i++) {
        const log = await (await s.api('GET', logPath)).text();
        if (log.includes(text)) return log;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`log never said "${text}"`);
    };
    await waitLog('first-run-marker');
    worker.kill('SIGTERM');
    const code = await worker.exited();
    expect(code).toBe(0);
    // Back in New, claimed by nobody, with a log that says why.
    const back = await s.apiJson('GET', BUILD_PATH(ns, name));
    expect(st(back).phase).toBe('New');
    expect(back.metadata.annotations?.['slipway.dev/worker']).toBeUndefined();
    const handedLog = await (await s.api('GET', logPath)).text();
    expect(handedLog).toContain('handed back to the queue');
    expect(handedLog).not.toContain('first-run-marker'); // the partial log is gone

    other = await startWorkerProcess(workerEnv(30));
    const done = await s.waitForBuild(ns, name, ['Complete', 'Failed', 'Error', 'Cancelled'], 90000);
    expect(st(done).phase).toBe('Complete');
    expect(done.metadata.annotations?.['slipway.dev/worker']).toContain(`/${other.child.pid}/`);
    const seen = await phases.stop();
    expect(seen).not.toContain('Error');
    expect(seen).toContain('New');
    const log = await (await s.api('GET', logPath)).text();
    expect(log).toContain('handed back to the queue');
    expect(log).toContain('first-run-marker');
    expect(log.match(/first-run-marker/g)?.length).toBeGreaterThanOrEqual(1);
  } finally {
    worker.kill('SIGKILL');
    other?.kill('SIGKILL');
  }
});
