/**
 * Fleet metrics across processes: a `slipway worker` process runs a build, and a
 * `slipway server` process that ran nothing reports it on /metrics (builds by phase,
 * build and stage durations, queue wait), as does the server the build was started on
 * (this test's own, in-process). A webhook delivered to one server is counted on the
 * other; a build queued while no worker runs shows in the queue gauge of both. Real
 * Redis, git and Docker; the child processes run bin/slipway.js (`npm run build` first).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { registerFleetMetrics } from '../../src/core/metrics.js';
import type { Resource } from '../../src/core/resource.js';
import { startDeployments, type DeploymentsHandle } from '../../src/runtime.js';
import { RedisFleetMetrics } from '../../src/store/fleet-metrics.js';
import { removeNamespaceReplicas } from '../support/deploy.js';
import { startSlipwayProcess, startWorkerProcess, type SlipwayProcess } from '../faults/processes.js';
import { BC_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { BASE_IMAGE, freePort, startGitDaemon, waitFor, type GitServer } from '../support/stack.js';

let s: TestSlipway;
let deployments: DeploymentsHandle | undefined;
let git: GitServer;
const processes: SlipwayProcess[] = [];
const ns = `metrics-${randomUUID().slice(0, 8)}`;
let env: Record<string, string>;

interface Server {
  url: string;
}

async function startServerProcess(): Promise<Server> {
  const url = `http://127.0.0.1:${await freePort()}`;
  const p = startSlipwayProcess(['server'], { ...env, SLIPWAY_LISTEN: url.slice('http://'.length) });
  processes.push(p);
  await waitFor('the server process to listen', async () => p.output().includes('listening on'), 60000);
  return { url };
}

async function metrics(server: Server): Promise<string> {
  const res = await fetch(`${server.url}/metrics`);
  if (!res.ok) throw new Error(`/metrics → ${res.status}: ${await res.text()}`);
  return res.text();
}

/** The value of one exposition line (`name{labels}`), or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Waits until `server` reports `series` at `value` (another process writes it a moment later). */
function waitForSample(server: Server, series: string, value: number): Promise<string> {
  return waitFor(
    `${server.url}/metrics to report ${series} ${value}`,
    async () => {
      const text = await metrics(server);
      return sample(text, series) === value ? text : undefined;
    },
    60000,
  );
}

async function createBuildConfig(name: string): Promise<void> {
  // A Dockerfile no earlier build had, so the build runs every stage; no RUN step and no
  // output image keep it quick (the metrics are the point here, not the build).
  git.commit(name, { Dockerfile: `FROM ${BASE_IMAGE}\nLABEL test.run=${randomUUID()}\n` });
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri: git.url(name), ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: { noCache: true } },
      triggers: [{ type: 'Generic', generic: { secret: 'right-secret' } }],
    },
  });
}

beforeAll(async () => {
  expect(existsSync('dist/cli/main.js')).toBe(true); // npm run build first
  [s, git] = await Promise.all([
    startSlipway({ workers: 0, config: { routerListen: '127.0.0.1:0' } }),
    startGitDaemon(),
  ]);
  env = {
    SLIPWAY_REDIS_URL: s.redis.url,
    SLIPWAY_REGISTRY: s.registry.host,
    SLIPWAY_ADMIN_TOKEN: s.token,
    SLIPWAY_WORKER_CONCURRENCY: '1',
  };
});

afterAll(async () => {
  await deployments?.close();
  if (s) await removeNamespaceReplicas(s.rt.docker, ns);
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited()));
  await Promise.all([s?.stop(), git?.stop()]);
});

test('a build run by a worker process is reported by a server process that ran nothing', async () => {
  try {
    await buildAndScrape();
  } catch (err) {
    // What the processes said is the only trace of why they did not do their part.
    for (const p of processes) console.log(`pid ${p.child.pid}:\n${p.output().slice(-4000)}`);
    throw err;
  }
}, 240000);

async function buildAndScrape(): Promise<void> {
  const front: Server = { url: s.http.url };
  const [other, worker] = await Promise.all([startServerProcess(), startWorkerProcess(env)]);
  processes.push(worker);

  await createBuildConfig('web');
  const build = await s.apiJson('POST', `${BC_PATH(ns, 'web')}/instantiate`, {});
  const done = await s.waitForBuild(ns, build.metadata.name);
  expect((done.status as { phase?: string }).phase).toBe('Complete');
  expect(done.metadata.annotations?.['slipway.dev/worker']).toContain(`/${worker.child.pid}/`);

  const finished = 'slipway_builds_finished_total{phase="Complete",reason="",strategy="Docker"}';
  const text = await waitForSample(other, finished, 1);
  expect(sample(text, 'slipway_build_duration_seconds_count{phase="Complete",strategy="Docker"}')).toBe(1);
  for (const stage of ['FetchInputs', 'PullImages', 'Build'])
    expect(sample(text, `slipway_build_stage_duration_seconds_count{stage="${stage}"}`)).toBe(1);
  expect(sample(text, 'slipway_queue_wait_seconds_count{queue="builds"}')).toBe(1);
  // The server the build was started on reports the same fleet numbers.
  expect(sample(await metrics(front), finished)).toBe(1);
  // Each process still serves its own process metrics beside the fleet's.
  expect(text).toMatch(/^slipway_process_process_resident_memory_bytes \d+/m);

  // A webhook delivered to one server is counted on every server.
  const hook = await fetch(`${front.url}${BC_PATH(ns, 'web')}/webhooks/wrong-secret/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(hook.status).toBeGreaterThanOrEqual(400);
  await waitForSample(other, 'slipway_webhook_deliveries_total{source="generic",outcome="rejected"}', 1);

  // With no worker running, a new build waits in the queue, and every server shows it.
  worker.kill('SIGTERM');
  expect(await worker.exited()).toBe(0);
  await createBuildConfig('queued');
  await s.apiJson('POST', `${BC_PATH(ns, 'queued')}/instantiate`, {});
  await waitForSample(other, 'slipway_queue_jobs{queue="builds",state="waiting"}', 1);
  expect(sample(await metrics(front), 'slipway_queue_jobs{queue="builds",state="waiting"}')).toBe(1);
  expect(sample(await metrics(other), 'slipway_queue_jobs{queue="rollouts-docker",state="waiting"}')).toBe(0);
}

test('increments are added up before they are written, and dropped rather than queued (or waited for by a scrape) while Redis is away', async () => {
  const redis = new Redis(s.redis.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // the disconnect below
  const store = new RedisFleetMetrics(redis, `t-${randomUUID().slice(0, 8)}`, { flushMs: 1000 });
  try {
    await redis.ping();
    const sent: string[] = [];
    const exec = redis.pipeline.bind(redis);
    redis.pipeline = ((...args: Parameters<typeof exec>) => {
      sent.push('pipeline');
      return exec(...args);
    }) as typeof redis.pipeline;
    for (let i = 0; i < 500; i++) {
      store.add([{ metric: 'm', field: '["a"]', by: 1 }]);
      store.add([{ metric: 'm', field: '["a"] sum', by: 0.5, float: true }]);
    }
    await store.flush();
    expect(sent).toEqual(['pipeline']);
    expect(await store.read('m')).toEqual({ '["a"]': '500', '["a"] sum': '250' });

    redis.disconnect();
    store.add([{ metric: 'm', field: '["a"]', by: 7 }]);
    await expect(store.flush()).resolves.toBeUndefined();
    // A scrape meanwhile answers without waiting for Redis, and says the fleet is left out.
    const registry = new Registry();
    registerFleetMetrics(registry, () => ({ store }));
    expect(await registry.metrics()).toContain('slipway_fleet_metrics_up 0');
    await redis.connect();
    await store.close();
    expect(await store.read('m')).toEqual({ '["a"]': '500', '["a"] sum': '250' });

    // A read includes what this process added a moment ago and has not written yet.
    store.add([{ metric: 'm', field: '["a"]', by: 2 }]);
    expect((await store.read('m'))['["a"]']).toBe('502');
  } finally {
    redis.disconnect();
  }
});

test('a rollout that completes is counted by result and strategy', async () => {
  deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  const name = 'web';
  await s.apiJson('POST', `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs`, {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { app: name },
      strategy: { type: 'Recreate' },
      triggers: [{ type: 'ConfigChange' }],
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image: BASE_IMAGE, command: ['sleep', '3600'] }] },
      },
    },
  });
  const phase = async (): Promise<string | undefined> => {
    const res = await s.api('GET', `/api/v1/namespaces/${ns}/replicationcontrollers/${name}-1`);
    if (!res.ok) return undefined;
    return ((await res.json()) as Resource).metadata.annotations?.['openshift.io/deployment.phase'];
  };
  await waitFor(
    'revision 1 to end',
    async () => ['Complete', 'Failed'].includes((await phase()) ?? ''),
    90000,
    300,
  );
  expect(await phase()).toBe('Complete');
  const text = await waitForSample(
    { url: s.http.url },
    'slipway_rollouts_finished_total{result="Complete",strategy="Recreate"}',
    1,
  );
  expect(text).not.toContain('slipway_rollouts_finished_total{result="Failed"');
  expect(sample(text, 'slipway_queue_wait_seconds_count{queue="rollouts-docker"}')).toBe(1);
}, 180000);
