/**
 * The Docker engine restarted under running replicas. The engine is a private `dockerd`
 * this test starts (test/faults/private-engine.ts: its own data root, exec root, socket
 * and bridge, no iptables rules), so restarting it disturbs nothing else on the machine.
 * A `slipway worker` child process deploys to it; the test restarts the engine and checks
 * that the replicas come back, the router serves again, the ReplicationController's and
 * DeploymentConfig's status recover, and that healing still works afterwards (the
 * reconciler's event stream and the monitor reconnect to the new engine).
 */
import { existsSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Docker from 'dockerode';
import { getViaRouter } from '../support/deploy.js';
import type { TestSlipway } from '../support/slipway.js';
import { waitFor } from '../support/stack.js';
import { dockerdMissing, privateEngine } from './private-engine.js';
import {
  buildWhoamiImage,
  exposeWhoami,
  replicaContainers,
  runningIds,
  servedBy,
  slipwayOnPrivateEngine,
  whoamiConfig,
  type WorkerProcess,
} from './replicas-support.js';

const shared = new Docker();
const run = randomUUID().slice(0, 8);
const ns = `re-${run}`;
const IMAGE = `slipway-test/whoami-${run}:v1`;
const engineProcess = privateEngine({ id: run, subnet: '10.214.255' });
const engine = engineProcess.docker;
const DC = (name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const RC = (name: string) => `/api/v1/namespaces/${ns}/replicationcontrollers/${name}`;

let s: TestSlipway;
let worker: WorkerProcess | undefined;
let host: string;

beforeAll(async () => {
  if (dockerdMissing) return;
  expect(existsSync('dist/cli/main.js')).toBe(true); // `npm test` builds first
  buildWhoamiImage(IMAGE);
  ({ s, worker } = await slipwayOnPrivateEngine(engineProcess, IMAGE));
}, 180000);

afterAll(async () => {
  await worker?.stop().catch(() => undefined);
  await s?.stop();
  await engineProcess.destroy();
  await shared
    .getImage(IMAGE)
    .remove({ force: true })
    .catch(() => undefined);
}, 120000);

(dockerdMissing ? test.skip : test)(
  'the engine restarted under two replicas: they come back, the router serves, status recovers, healing goes on',
  async () => {
    await s.apiJson('POST', DC(), whoamiConfig(ns, 'web', IMAGE, 2));
    host = await exposeWhoami(s.apiJson.bind(s), ns, 'web');
    const before = await waitFor(
      'two replicas on the private engine',
      async () => {
        const ids = await runningIds(engine, ns, 'web-1');
        return ids.length === 2 ? ids : undefined;
      },
      90000,
      250,
    );
    // Nothing of this namespace ran on the machine's engine.
    expect(await replicaContainers(shared, ns, 'web-1')).toEqual([]);
    await waitFor(
      'the router to serve both',
      async () => (await servedBy(worker!.routerUrl, host)).join() === before.join(),
      30000,
      100,
    );

    // The rollout is over before the engine goes: this test is about running replicas (a
    // rollout the restart catches is test/faults/rollout-engine-restart.test.ts).
    await waitFor(
      'the rollout of web-1 to complete',
      async () =>
        (await s.apiJson('GET', RC('web-1'))).metadata.annotations?.['openshift.io/deployment.phase'] ===
        'Complete',
      60000,
      250,
    );

    const stopped = Date.now();
    await engineProcess.stop();
    expect((await getViaRouter(worker!.routerUrl, host)).status).not.toBe(200);
    await engineProcess.start();

    await waitFor(
      'two running replicas after the restart',
      async () => {
        const ids = await runningIds(engine, ns, 'web-1');
        return ids.length === 2 ? ids : undefined;
      },
      60000,
      250,
    );
    // Against the replicas running at each look: healing may still swap one that the
    // restart left dead for a new one while the router catches up.
    let seen: { running: string[]; served: string[] } = { running: [], served: [] };
    await waitFor(
      'the router to serve the two running replicas again',
      async () => {
        const running = await runningIds(engine, ns, 'web-1');
        seen = { running, served: running.length === 2 ? await servedBy(worker!.routerUrl, host) : [] };
        return running.length === 2 && seen.served.join() === running.join();
      },
      60000,
      200,
    ).catch(async (err: unknown) => {
      const replicas = await s.rt.redis.hgetall(`${s.rt.prefix}:deploy:replicas`).catch(() => ({}));
      console.log(JSON.stringify({ lastLook: seen, replicaStates: replicas }));
      throw err;
    });
    console.log(
      `engine restart: router served both replicas again ${Date.now() - stopped} ms after the stop`,
    );
    let last: unknown;
    await waitFor(
      'web-1 status to count two live, ready replicas',
      async () => {
        const st = (await s.apiJson('GET', RC('web-1'))).status as Record<string, number> | undefined;
        last = st;
        return st?.replicas === 2 && st.readyReplicas === 2;
      },
      30000,
      250,
    ).catch(async (err: unknown) => {
      const containers = await replicaContainers(engine, ns, 'web-1');
      console.log(
        JSON.stringify({ last, containers: containers.map((c) => [c.Id.slice(0, 12), c.State, c.Status]) }),
      );
      throw err;
    });
    // The DeploymentConfig's status follows its revision's live counts (written as they change).
    await waitFor(
      'the DeploymentConfig to report two ready replicas',
      async () => {
        const st = (await s.apiJson('GET', DC('web'))).status as Record<string, number> | undefined;
        return st?.replicas === 2 && st.readyReplicas === 2 && st.availableReplicas === 2;
      },
      45000,
      500,
    );

    // The reconciler follows the new engine: a replica killed now is still replaced.
    const [victim] = await runningIds(engine, ns, 'web-1');
    const full = (await replicaContainers(engine, ns, 'web-1')).find((c) => c.Id.startsWith(victim!))!.Id;
    await engine.getContainer(full).kill();
    const healed = await waitFor(
      'a replacement after the restart',
      async () => {
        const ids = await runningIds(engine, ns, 'web-1');
        return ids.length === 2 && !ids.includes(victim!) ? ids : undefined;
      },
      20000,
      100,
    );
    await waitFor(
      'the router to serve the replacement',
      async () => (await servedBy(worker!.routerUrl, host)).join() === healed.join(),
      30000,
      100,
    );
    if (process.env.SLIPWAY_TEST_DEBUG)
      console.log(readFileSync(join(engineProcess.root, 'dockerd.log'), 'utf8'));
  },
  300000,
);
