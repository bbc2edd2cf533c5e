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

/** Waits until both routers send `host` to exactly `ids`. */
async function bothRoutersServe(host: string, ids: string[], timeoutMs = 30000): Promise<void> {
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

/** A DeploymentConfig of its own for each test (tests stay independent): deployed, routed, served. */
async function deploy(name: string, replicas = 2): Promise<{ host: string; revision: string }> {
  await s.apiJson('POST', DC(), whoamiConfig(ns, name, IMAGE, replicas));
  const host = await exposeWhoami(s.apiJson.bind(s), ns, name);
  const revision = `${name}-1`;
  const ids = await waitFor(
    `${revision} to run ${replicas} replicas`,
    async () => {
      const r = await runningIds(docker, ns, revision);
      return r.length === replicas ? r : undefined;
    },
    90000,
    250,
  );
  await bothRoutersServe(host, ids);
  return { host, revision };
}

/**
 * After a replica is lost: waits for its one replacement, then checks that the moment the
 * first router serves it, the second does within one refresh (200 ms, plus request time).
 */
async function expectReplaced(
  app: { host: string; revision: string },
  victim: string,
  since: number,
  existing: string[],
): Promise<string[]> {
  const { host, revision } = app;
  const healed = await waitFor(
    `a replacement for ${victim}`,
    async () => {
      const ids = await runningIds(docker, ns, revision);
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
  expect((await replicaContainers(docker, ns, revision)).map((c) => c.Id.slice(0, 12)).sort()).toEqual(
    healed,
  );
  expect(await createdBetween(docker, { namespace: ns, revision, since, until: Date.now(), existing })).toBe(
    1,
  );
  return healed;
}

/** Every replica container of `revision` now, running or not. */
async function allIds(revision: string): Promise<string[]> {
  return (await replicaContainers(docker, ns, revision)).map((c) => c.Id);
}

/** One running replica of `revision`: its short id (what it answers) and full id. */
async function aReplica(revision: string): Promise<{ short: string; id: string }> {
  const c = (await replicaContainers(docker, ns, revision)).find((x) => x.State === 'running');
  if (!c) throw new Error(`${revision} has no running replica`);
  return { short: c.Id.slice(0, 12), id: c.Id };
}

test('a replica killed past its restart policy (docker kill) is replaced once; both routers serve the replacement', async () => {
  const app = await deploy('killed');
  const victim = await aReplica(app.revision);
  const existing = await allIds(app.revision);
  const since = Date.now();
  await docker.getContainer(victim.id).kill();
  await expectReplaced(app, victim.short, since, existing);
}, 150000);

test('a removed replica (docker rm -f) is replaced once; both routers serve the replacement', async () => {
  const app = await deploy('removed');
  const victim = await aReplica(app.revision);
  const existing = await allIds(app.revision);
  const since = Date.now();
  await docker.getContainer(victim.id).remove({ force: true });
  await expectReplaced(app, victim.short, since, existing);
}, 150000);

test('get rc counts live replicas only; the reconciler waits while another holder has the revision', async () => {
  const { revision } = await deploy('counted');
  const redis = new Redis(s.redis.url);
  const lease = `slipway:deploy:revision-lease:${ns}/${revision}`;
  try {
    // As a rollout's scale step holds it: nobody else may touch the revision's containers meanwhile.
    expect(await redis.set(lease, 'test', 'PX', 30000, 'NX')).toBe('OK');
    await docker.getContainer((await aReplica(revision)).id).kill();
    const listed = async (): Promise<Record<string, number> | undefined> => {
      const list = await s.apiJson<{
        items: { metadata: { name: string }; status?: Record<string, number> }[];
      }>('GET', RCS);
      return list.items.find((rc) => rc.metadata.name === revision)?.status;
    };
    let last: unknown;
    const dead = await waitFor(
      'get rc to count one live replica',
      async () => {
        const st = await listed();
        last = st;
        return st?.replicas === 1 && st.readyReplicas === 1 ? st : undefined;
      },
      15000,
      200,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; get rc said ${JSON.stringify(last)}`);
    });
    expect(dead).toMatchObject({ replicas: 1, readyReplicas: 1, availableReplicas: 1 });
    // The DeploymentConfig's status follows its revision's live count, not only rollouts.
    const configStatus = async (): Promise<Record<string, number> | undefined> =>
      (await s.apiJson<{ status?: Record<string, number> }>('GET', DC('counted'))).status;
    await waitFor(
      'the DeploymentConfig to count one ready replica',
      async () => (await configStatus())?.readyReplicas === 1,
      15000,
      200,
    );
    // Held lease: the dead replica is still there, not replaced.
    expect(await replicaContainers(docker, ns, revision)).toHaveLength(2);
    expect(await runningIds(docker, ns, revision)).toHaveLength(1);
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
    await waitFor(
      'the DeploymentConfig to count two ready replicas again',
      async () => {
        const st = await configStatus();
        return st?.readyReplicas === 2 && st.availableReplicas === 2;
      },
      15000,
      200,
    );
    expect(await replicaContainers(docker, ns, revision)).toHaveLength(2);
  } finally {
    await redis.del(lease);
    redis.disconnect();
  }
}, 150000);

test('a scaled-down DeploymentConfig keeps its new count: one lost replica becomes one, not two', async () => {
  const { revision } = await deploy('scaled');
  const res = await s.api('PATCH', DC('scaled'), JSON.stringify({ spec: { replicas: 1 } }), {
    'content-type': 'application/merge-patch+json',
  });
  expect(res.status).toBe(200);
  await waitFor(
    `${revision} to scale down to one`,
    async () => (await replicaContainers(docker, ns, revision)).length === 1,
    30000,
    200,
  );
  const victim = await aReplica(revision);
  const existing = await allIds(revision);
  const since = Date.now();
  await docker.getContainer(victim.id).kill();
  const healed = await waitFor(
    'one replacement',
    async () => {
      const ids = await runningIds(docker, ns, revision);
      return ids.length === 1 && ids[0] !== victim.short ? ids : undefined;
    },
    20000,
    100,
  );
  await sleep(4000);
  expect((await replicaContainers(docker, ns, revision)).map((c) => c.Id.slice(0, 12))).toEqual(healed);
  expect(await createdBetween(docker, { namespace: ns, revision, since, until: Date.now(), existing })).toBe(
    1,
  );
}, 150000);

// A guard on the fix rather than a demonstration of the bug: without a reconciler nothing
// is resurrected either. It fails if the reconciler acts on a revision being deleted.
test('a deleted DeploymentConfig is not resurrected, even with a replica dying as it goes', async () => {
  const { revision } = await deploy('deleted');
  await docker.getContainer((await aReplica(revision)).id).kill();
  const res = await s.api('DELETE', DC('deleted'));
  expect(res.status).toBe(200);
  await waitFor(
    `${revision}'s replicas to go`,
    async () => (await replicaContainers(docker, ns, revision)).length === 0,
    30000,
    200,
  );
  const gone = Date.now();
  // Several events and resyncs later, still nothing.
  await sleep(7000);
  expect(await replicaContainers(docker, ns, revision)).toEqual([]);
  expect(await createdBetween(docker, { namespace: ns, revision, since: gone, until: Date.now() })).toBe(0);
}, 150000);
