/**
 * A fleet with mixed targets, for real: two `slipway worker` processes (bin/slipway.js,
 * so `npm run build` first) sharing one Redis — one given the cluster (SLIPWAY_KUBECONFIG,
 * a token of README's Role), one without (the local Docker engine). A namespace declared
 * `kubernetes` rolls out only on the cluster (pods read back from the API server) and the
 * Docker worker makes no container for it; a namespace declared `docker` gets containers
 * and no pods. The same DeploymentConfig YAML drives both. Before the namespace record,
 * both workers took rollouts from one shared queue and either could run any of them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import Docker from 'dockerode';
import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import {
  WGET_PROBE,
  adminClients,
  buildTestImages,
  createTestNamespace,
  describeOnCluster,
  listPods,
  nodeRegistry,
  podReady,
  recordRun,
  type AdminClients,
  type TestImages,
  type TestNamespace,
} from '../support/kube-cluster.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';
import { freePort, waitFor, type RegistryHandle } from '../support/stack.js';

interface SlipwayProcess {
  child: ChildProcess;
  output(): string;
  exited(): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * `slipway worker` from bin/slipway.js. MIXED_FLEET_TEST_BIN names another build's
 * bin/slipway.js: how this test was seen failing on the build before namespaces had a
 * recorded target (both workers took DeploymentConfigs of either namespace).
 */
function spawnWorker(env: Record<string, string>): SlipwayProcess {
  let output = '';
  const bin = process.env.MIXED_FLEET_TEST_BIN ?? 'bin/slipway.js';
  const child = spawn(process.execPath, [bin, 'worker'], {
    env: { ...process.env, SLIPWAY_LOG_LEVEL: 'info', ...env },
  });
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => output,
    exited: () => (child.exitCode === null && child.signalCode === null ? exit : Promise.resolve()),
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

const docker = new Docker();
const PHASE = 'openshift.io/deployment.phase';

describeOnCluster('a fleet with a cluster worker and a Docker worker on one Redis', () => {
  let admin: AdminClients;
  let registry: RegistryHandle;
  let images: TestImages;
  let space: TestNamespace;
  let kubeNs: string;
  const dockerNs = `mixed-d-${randomUUID().slice(0, 8)}`;
  let s: TestSlipway;
  const workers: { kube?: SlipwayProcess; docker?: SlipwayProcess } = {};
  let ran = 0;

  const DC = (ns: string, name = ''): string =>
    `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
  const TARGET = (ns: string): string => `/apis/slipway.dev/v1/namespaces/${ns}/deploytarget`;

  /** One YAML for both targets: Rolling, an exec readiness probe calling the app inside. */
  function webConfig(ns: string, name: string, image: string): DeploymentConfig {
    return {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name, namespace: ns, labels: { app: name } },
      spec: {
        replicas: 2,
        selector: { app: name },
        strategy: { type: 'Rolling', rollingParams: { updatePeriodSeconds: 1, intervalSeconds: 1 } },
        triggers: [{ type: 'ConfigChange' }],
        template: {
          metadata: { labels: { app: name } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              { name: 'web', image, ports: [{ containerPort: 8080 }], readinessProbe: WGET_PROBE },
            ],
          },
        },
      },
    } as unknown as DeploymentConfig;
  }

  async function worker(env: Record<string, string>): Promise<SlipwayProcess> {
    const p = spawnWorker({
      SLIPWAY_REDIS_URL: s.redis.url,
      SLIPWAY_REGISTRY: registry.host,
      SLIPWAY_ROUTER_LISTEN: `127.0.0.1:${await freePort()}`,
      SLIPWAY_KUBECONFIG: '',
      ...env,
    });
    await waitFor('the worker process to start', async () => {
      if (p.child.exitCode !== null) throw new Error(`the worker exited:\n${p.output()}`);
      return p.output().includes('taking builds');
    });
    return p;
  }

  /** Slipway's containers for a namespace on the shared Docker engine, any state. */
  const containersOf = (ns: string): Promise<Docker.ContainerInfo[]> =>
    docker.listContainers({ all: true, filters: { label: [`slipway.dev/namespace=${ns}`] } });

  /** Pods of a DeploymentConfig anywhere on the cluster (admin credentials). */
  async function podsAnywhere(dc: string): Promise<string[]> {
    const list = await admin.core.listPodForAllNamespaces({ labelSelector: `deploymentconfig=${dc}` });
    return list.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
  }

  const logs = (): string =>
    `\n--- cluster worker ---\n${workers.kube?.output() ?? ''}\n--- docker worker ---\n${workers.docker?.output() ?? ''}`;

  beforeAll(async () => {
    expect(existsSync('dist/cli/main.js')).toBe(true); // `npm test` builds first
    admin = adminClients();
    registry = await nodeRegistry();
    images = buildTestImages(registry, `slipway-kube-test/mixed-${randomUUID().slice(0, 6)}`);
    space = await createTestNamespace(admin, 'slipway-mixed');
    kubeNs = space.name;
    // The API answers from a process whose target is the cluster, as a fleet's server would.
    s = await startSlipway({ workers: 0, registry, config: { kubeconfig: space.slipwayKubeconfig } });
    // The Docker worker first, alone: the cluster's DeploymentConfig is there before any
    // worker that could run it, which is when a worker of the wrong kind would take it.
    workers.docker = await worker({});
  }, 300_000);

  afterAll(async () => {
    workers.kube?.kill('SIGTERM');
    workers.docker?.kill('SIGTERM');
    await Promise.all([workers.kube?.exited(), workers.docker?.exited()]);
    for (const c of [...(await containersOf(dockerNs)), ...(kubeNs ? await containersOf(kubeNs) : [])])
      await docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined);
    for (const n of await docker.listNetworks({ filters: { name: [`slipway-${dockerNs}`] } }))
      await docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => undefined);
    await s?.stop();
    await space?.delete();
    images?.remove();
    await registry?.stop();
    recordRun('mixed-fleet', ran);
  }, 120_000);
  afterEach(() => {
    ran++;
  });

  test('each namespace rolls out only on the target it is declared for', async () => {
    expect(
      (await s.apiJson<{ target: string }>('PUT', TARGET(kubeNs), { target: 'kubernetes' })).target,
    ).toBe('kubernetes');
    expect((await s.apiJson<{ target: string }>('PUT', TARGET(dockerNs), { target: 'docker' })).target).toBe(
      'docker',
    );
    await s.apiJson('POST', DC(kubeNs), webConfig(kubeNs, 'kweb', images.v1));
    await s.apiJson('POST', DC(dockerNs), webConfig(dockerNs, 'dweb', images.v1));

    // The Docker namespace: two running containers of dweb-1 on the engine.
    await waitFor(
      'dweb-1 to run 2 containers on the Docker engine',
      async () =>
        (await containersOf(dockerNs)).filter(
          (c) => c.State === 'running' && c.Labels['openshift.io/deployment.name'] === 'dweb-1',
        ).length === 2,
      120_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}${logs()}`);
    });
    // Meanwhile the Docker worker, the only one running, left the cluster's config alone:
    // no rollout started, no container made.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await containersOf(kubeNs)).toEqual([]);
    const waiting = await s.apiJson<{ status?: { latestVersion?: number } }>('GET', DC(kubeNs, 'kweb'));
    expect(waiting.status?.latestVersion ?? 0).toBe(0);

    // The cluster worker joins and takes it.
    workers.kube = await worker({ SLIPWAY_KUBECONFIG: space.slipwayKubeconfig });

    // The cluster's namespace: two Ready pods of kweb-1 on the kubelet, running v1's digest.
    const digest = images.v1.split('@')[1]!;
    await waitFor(
      'kweb-1 to have 2 Ready pods on the cluster',
      async () => {
        const pods = (await listPods(admin, kubeNs, 'deployment=kweb-1')).filter(
          (p) => !p.metadata?.deletionTimestamp,
        );
        return pods.length === 2 && pods.every(podReady) ? pods : undefined;
      },
      150_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}${logs()}`);
    });
    const pods = await listPods(admin, kubeNs, 'deployment=kweb-1');
    for (const p of pods) expect(p.status?.containerStatuses?.[0]?.imageID).toContain(digest);
    const rc = await s.apiJson<{ metadata: { annotations?: Record<string, string> } }>(
      'GET',
      `/api/v1/namespaces/${kubeNs}/replicationcontrollers/kweb-1`,
    );
    await waitFor(
      'kweb-1 to be Complete',
      async () =>
        (
          await s.apiJson<{ metadata: { annotations?: Record<string, string> } }>(
            'GET',
            `/api/v1/namespaces/${kubeNs}/replicationcontrollers/kweb-1`,
          )
        ).metadata.annotations?.[PHASE] === 'Complete',
      60_000,
      500,
    );
    expect(rc.metadata.annotations?.['openshift.io/deployment-config.name']).toBe('kweb');

    await waitFor(
      'dweb to report 2 ready replicas',
      async () => {
        const dc = await s.apiJson<{ status?: { readyReplicas?: number; latestVersion?: number } }>(
          'GET',
          DC(dockerNs, 'dweb'),
        );
        return dc.status?.latestVersion === 1 && dc.status.readyReplicas === 2;
      },
      60_000,
      500,
    );

    // Nothing crossed over: no container for the cluster's namespace, no pod of dweb anywhere.
    expect(await containersOf(kubeNs)).toEqual([]);
    expect(await podsAnywhere('dweb')).toEqual([]);
    expect(await podsAnywhere('kweb')).toHaveLength(2);
  });

  test('a new rollout of each goes to its own target again; the API refuses verbs for another target', async () => {
    // `rollout latest` on the cluster's namespace, through this (cluster) server.
    const started = await s.apiJson<{ status?: { latestVersion?: number } }>(
      'POST',
      `${DC(kubeNs, 'kweb')}/instantiate`,
      {
        kind: 'DeploymentRequest',
        apiVersion: 'apps.openshift.io/v1',
        name: 'kweb',
        latest: true,
        force: true,
      },
    );
    expect(started.status?.latestVersion).toBe(2);
    await waitFor(
      'kweb-2 to have 2 Ready pods',
      async () => {
        const pods = (await listPods(admin, kubeNs, 'deployment=kweb-2')).filter(
          (p) => !p.metadata?.deletionTimestamp,
        );
        return pods.length === 2 && pods.every(podReady);
      },
      150_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}${logs()}`);
    });
    // A change to the Docker namespace's config (the store is shared) rolls out on Docker.
    const dc = await s.apiJson<DeploymentConfig>('GET', DC(dockerNs, 'dweb'));
    await s.apiJson('PUT', DC(dockerNs, 'dweb'), {
      ...dc,
      spec: { ...dc.spec, template: { ...dc.spec.template, metadata: { labels: { app: 'dweb', v: '2' } } } },
    });
    await waitFor(
      'dweb-2 to run 2 containers',
      async () =>
        (await containersOf(dockerNs)).filter(
          (c) => c.State === 'running' && c.Labels['openshift.io/deployment.name'] === 'dweb-2',
        ).length === 2,
      120_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}${logs()}`);
    });
    expect(await containersOf(kubeNs)).toEqual([]);
    expect(await podsAnywhere('dweb')).toEqual([]);

    // This server's target is the cluster: a rollout verb for the Docker namespace is a 409
    // that says where to send it, and starts nothing.
    const refused = await s.api('POST', `${DC(dockerNs, 'dweb')}/instantiate`, {
      kind: 'DeploymentRequest',
      apiVersion: 'apps.openshift.io/v1',
      name: 'dweb',
      latest: true,
      force: true,
    });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { message: string }).message).toMatch(
      /deploys to docker, and this Slipway process deploys to kubernetes/,
    );
    const after = await s.apiJson<{ status?: { latestVersion?: number } }>('GET', DC(dockerNs, 'dweb'));
    expect(after.status?.latestVersion).toBe(2);
    // Moving a namespace that has revisions is refused too.
    expect((await s.api('PUT', TARGET(dockerNs), { target: 'kubernetes' })).status).toBe(409);
  });
});
