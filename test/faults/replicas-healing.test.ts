/**
 * Replicas healed on the local Docker target, with real parts: two `slipway worker` child
 * processes share one Redis (each runs the controller, rollouts, the replica monitor, the
 * reconciler and a router) and deploy to the shared Docker engine. Replicas are killed past
 * their restart policy (`docker kill`) and removed (`docker rm -f`); each loss is replaced
 * exactly once, both routers serve the replacement, `get rc` counts live replicas only, and
 * a scaled-down or deleted DeploymentConfig is never brought back.
 */
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { removeNamespaceReplicas } from '../support/deploy.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';
import { waitFor } from '../support/stack.js';
import {
  buildWhoamiImage,
  createdBetween,
  exposeWhoami,
  replicaContainers,
  runningIds,
  servedBy,
  spawnWorker,
  whoamiConfig,
  type WorkerProcess,
} from './replicas-support.js';

const docker = new Docker();
const run = randomUUID().slice(0, 8);
const ns = `rh-${run}`;
const IMAGE = `slipway-test/whoami-${run}:v1`;
const DC = (name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const RCS = `/api/v1/namespaces/${ns}/replicationcontrollers`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let s: TestSlipway;
let workers: WorkerProcess[] = [];
let host: string;

beforeAll(async () => {
  expect(existsSync('dist/cli/main.js')).toBe(true); // `npm test` builds first
  buildWhoamiImage(IMAGE);
  s = await startSlipway({ workers: 0 });
  workers = await Promise.all(
    [0, 1].map(() => spawnWorker({ redisUrl: s.redis.url, registry: s.registry.host })),
  );
}, 120000);

afterAll(async () => {
  for (const w of workers) await w.stop().catch(() => undefined);
  await s?.stop();
  await removeNamespaceReplicas(docker, ns);
  await docker
    .getImage(IMAGE)
    .remove({ force: true })
    .catch(() => undefined);
}, 60000);

/** Waits until both routers send `host` to exactly the revision's running replicas. */
async function bothRoutersServe(ids: string[], timeoutMs = 30000): Promise<void> {
  await waitFor(
    `both routers to serve ${ids.join(', ')}`,
    async () => {
      for (const w of workers) if ((await servedBy(w.routerUrl, host)).join() !== ids.join()) return false;
      return true;
    },
    timeoutMs,
    100,
  );
}

/**
 * After a replica is lost: waits for its one replacement, then checks that the moment the
 * first router serves it, the second does within one refresh (200 ms, plus request time).
 */
async function expectReplaced(victim: string, since: number): Promise<string[]> {
  const healed = await waitFor(
    `a replacement for ${victim}`,
    async () => {
      const ids = await runningIds(docker, ns, 'web-1');
      return ids.length === 2 && !ids.includes(victim) ? ids : undefined;
    },
    20000,
    100,
  );
  console.log(`replica ${victim} replaced after ${Date.now() - since} ms`);
  const [first, second] = workers as [WorkerProcess, WorkerProcess];
  await waitFor(
    'the first router to serve the replacement',
    async () => (await servedBy(first.routerUrl, host)).join() === healed.join(),
    30000,
    50,
  );
  const seen = Date.now();
  await waitFor(
    'the second router to agree within one refresh',
    async () => (await servedBy(second.routerUrl, host)).join() === healed.join(),
    1000,
    20,
  );
  console.log(`second router agreed ${Date.now() - seen} ms after the first`);
  // Past a full resync of both reconcilers: still exactly one replacement, the dead one gone.
  await sleep(4000);
  expect((await replicaContainers(docker, ns, 'web-1')).map((c) => c.Id.slice(0, 12)).sort()).toEqual(healed);
  expect(await createdBetween(docker, { namespace: ns, revision: 'web-1', since, until: Date.now() })).toBe(
    1,
  );
  return healed;
}

async function fullId(short: string): Promise<string> {
  const c = (await replicaContainers(docker, ns, 'web-1')).find((x) => x.Id.startsWith(short));
  return c!.Id;
}

test('two workers deploy two replicas; both routers serve both', async () => {
  await s.apiJson('POST', DC(), whoamiConfig(ns, 'web', IMAGE, 2));
  host = await exposeWhoami(s.apiJson.bind(s), ns, 'web');
  const ids = await waitFor(
    'web-1 to run two replicas',
    async () => {
      const r = await runningIds(docker, ns, 'web-1');
      return r.length === 2 ? r : undefined;
    },
    90000,
    250,
  );
  await bothRoutersServe(ids);
}, 120000);

test('a replica killed past its restart policy (docker kill) is replaced once; both routers serve the replacement', async () => {
  const [victim] = await runningIds(docker, ns, 'web-1');
  const since = Date.now();
  await docker.getContainer(await fullId(victim!)).kill();
  await expectReplaced(victim!, since);
}, 60000);

test('a removed replica (docker rm -f) is replaced once; both routers serve the replacement', async () => {
  const [victim] = await runningIds(docker, ns, 'web-1');
  const since = Date.now();
  await docker.getContainer(await fullId(victim!)).remove({ force: true });
  await expectReplaced(victim!, since);
}, 60000);

test('get rc counts live replicas only; the reconciler waits while another holder has the revision', async () => {
  const redis = new Redis(s.redis.url);
  const lease = `slipway:deploy:revision-lease:${ns}/web-1`;
  try {
    // As a rollout's scale step holds it: nobody else may touch web-1's containers meanwhile.
    expect(await redis.set(lease, 'test', 'PX', 30000, 'NX')).toBe('OK');
    const [victim] = await runningIds(docker, ns, 'web-1');
    await docker.getContainer(await fullId(victim!)).kill();
    const listed = async (): Promise<Record<string, number> | undefined> => {
      const list = await s.apiJson<{
        items: { metadata: { name: string }; status?: Record<string, number> }[];
      }>('GET', RCS);
      return list.items.find((rc) => rc.metadata.name === 'web-1')?.status;
    };
    const dead = await waitFor(
      'get rc to count one live replica',
      async () => {
        const st = await listed();
        return st?.replicas === 1 && st.readyReplicas === 1 ? st : undefined;
      },
      15000,
      200,
    );
    expect(dead).toMatchObject({ replicas: 1, readyReplicas: 1, availableReplicas: 1 });
    // Held lease: the dead replica is still there, not replaced.
    expect(await replicaContainers(docker, ns, 'web-1')).toHaveLength(2);
    expect(await runningIds(docker, ns, 'web-1')).toHaveLength(1);
    await redis.del(lease);
    await waitFor(
      'get rc to count two live replicas again',
      async () => {
        const st = await listed();
        return st?.replicas === 2 && st.readyReplicas === 2;
      },
      20000,
      200,
    );
    expect(await replicaContainers(docker, ns, 'web-1')).toHaveLength(2);
  } finally {
    await redis.del(lease);
    redis.disconnect();
  }
}, 60000);

test('a scaled-down DeploymentConfig keeps its new count: one lost replica becomes one, not two', async () => {
  const res = await s.api('PATCH', DC('web'), JSON.stringify({ spec: { replicas: 1 } }), {
    'content-type': 'application/merge-patch+json',
  });
  expect(res.status).toBe(200);
  await waitFor(
    'web-1 to scale down to one',
    async () => (await replicaContainers(docker, ns, 'web-1')).length === 1,
    30000,
    200,
  );
  const [victim] = await runningIds(docker, ns, 'web-1');
  const since = Date.now();
  await docker.getContainer(await fullId(victim!)).kill();
  const healed = await waitFor(
    'one replacement',
    async () => {
      const ids = await runningIds(docker, ns, 'web-1');
      return ids.length === 1 && ids[0] !== victim ? ids : undefined;
    },
    20000,
    100,
  );
  await sleep(4000);
  expect((await replicaContainers(docker, ns, 'web-1')).map((c) => c.Id.slice(0, 12))).toEqual(healed);
  expect(await createdBetween(docker, { namespace: ns, revision: 'web-1', since, until: Date.now() })).toBe(
    1,
  );
}, 90000);

test('a deleted DeploymentConfig is not resurrected, even with a replica dying as it goes', async () => {
  const [victim] = await runningIds(docker, ns, 'web-1');
  await docker.getContainer(await fullId(victim!)).kill();
  const res = await s.api('DELETE', DC('web'));
  expect(res.status).toBe(200);
  await waitFor(
    "web-1's replicas to go",
    async () => (await replicaContainers(docker, ns, 'web-1')).length === 0,
    30000,
    200,
  );
  const gone = Date.now();
  // Several events and resyncs later, still nothing.
  await sleep(7000);
  expect(await replicaContainers(docker, ns, 'web-1')).toEqual([]);
  expect(
    await createdBetween(docker, { namespace: ns, revision: 'web-1', since: gone, until: Date.now() }),
  ).toBe(0);
}, 60000);
