/**
 * Two worker processes rolling out the first DeploymentConfigs of a new namespace at the
 * same moment both make the namespace's network. Docker's duplicate-name check is best
 * effort, so both creations can succeed; replicas then fail with "network is ambiguous"
 * and the rollouts hang. Real parts: two `slipway worker` processes sharing one Redis,
 * the shared Docker engine.
 */
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { startSlipway, type TestSlipway } from '../support/slipway.js';
import { waitFor } from '../support/stack.js';
import {
  buildWhoamiImage,
  runningIds,
  spawnWorker,
  whoamiConfig,
  type WorkerProcess,
} from './replicas-support.js';

const docker = new Docker();
const run = randomUUID().slice(0, 8);
const ns = `nr-${run}`;
const IMAGE = `slipway-test/whoami-${run}:v1`;
const DCS = `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs`;
const NAMES = ['a', 'b', 'c', 'd'];

let s: TestSlipway;
let workers: WorkerProcess[] = [];

/** Every network of that exact name (Docker's name filter also matches parts of names). */
async function networksNamed(name: string): Promise<Docker.NetworkInspectInfo[]> {
  return (await docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);
}

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
  for (const c of await docker.listContainers({
    all: true,
    filters: { label: [`slipway.dev/namespace=${ns}`] },
  }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  for (const n of await networksNamed(`slipway-${ns}`))
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
  await docker
    .getImage(IMAGE)
    .remove({ force: true })
    .catch(() => undefined);
}, 60000);

test('four DeploymentConfigs of a new namespace rolled out at once by two workers all serve, over one network', async () => {
  await Promise.all(NAMES.map((name) => s.apiJson('POST', DCS, whoamiConfig(ns, name, IMAGE, 1))));
  for (const name of NAMES)
    await waitFor(
      `${name}-1 to run its replica`,
      async () => (await runningIds(docker, ns, `${name}-1`)).length === 1,
      90000,
      250,
    );
  expect(await networksNamed(`slipway-${ns}`)).toHaveLength(1);
  // Every replica is on that one network.
  const [network] = await networksNamed(`slipway-${ns}`);
  for (const c of await docker.listContainers({ filters: { label: [`slipway.dev/namespace=${ns}`] } }))
    expect(Object.values(c.NetworkSettings.Networks).map((n) => n.NetworkID)).toContain(network!.Id);
}, 150000);
