/**
 * The Custom strategy on a REAL cluster: the deployer is a real pod, running as the
 * `deployer` ServiceAccount of docs/kubernetes-rbac.yaml with OpenShift's environment
 * (OPENSHIFT_DEPLOYMENT_NAME, OPENSHIFT_DEPLOYMENT_NAMESPACE…), and does the rollout itself
 * through the Kubernetes API (the scale subresource); its success and its failure reach
 * the DeploymentConfig's status.
 *
 * The kit has no pod network: the deployer pod runs with hostNetwork
 * (SLIPWAY_KUBE_DEPLOYER_HOST_NETWORK) and is told the API server's loopback address in
 * its environment. On a real cluster neither is needed (see docs/kubernetes-target.md).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { startDeployments, type DeploymentsHandle } from '../../src/runtime.js';
import {
  WGET_PROBE,
  adminClients,
  buildDeployerImage,
  buildTestImages,
  cluster,
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
import { waitFor, type RegistryHandle } from '../support/stack.js';

describeOnCluster('Custom deployer pods on a real cluster', () => {
  let admin: AdminClients;
  let registry: RegistryHandle;
  let images: TestImages;
  let deployer: { image: string; remove(): void };
  let space: TestNamespace;
  let ns: string;
  let s: TestSlipway;
  let deployments: DeploymentsHandle;
  let ran = 0;

  const DC = (name = ''): string =>
    `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
  const RC = (name: string): string => `/api/v1/namespaces/${ns}/replicationcontrollers/${name}`;

  beforeAll(async () => {
    admin = adminClients();
    registry = await nodeRegistry();
    images = buildTestImages(registry);
    deployer = buildDeployerImage(registry);
    space = await createTestNamespace(admin);
    ns = space.name;
    s = await startSlipway({
      workers: 0,
      registry,
      config: { kubeconfig: space.slipwayKubeconfig, kubeDeployerHostNetwork: cluster?.kind === 'kit' },
    });
    deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  }, 300_000);
  afterAll(async () => {
    await deployments?.close();
    await s?.stop();
    await space?.delete();
    deployer?.remove();
    images?.remove();
    await registry?.stop();
    recordRun('custom-deployer', ran);
  });
  afterEach(() => {
    ran++;
  });

  /** On the kit the deployer reaches the API server on the node's loopback. */
  function apiServerEnv(): { name: string; value: string }[] {
    if (cluster?.kind !== 'kit') return [];
    const server = new URL(admin.kubeConfig.getCurrentCluster()!.server);
    return [
      { name: 'KUBERNETES_SERVICE_HOST', value: server.hostname },
      { name: 'KUBERNETES_SERVICE_PORT', value: server.port || '443' },
    ];
  }

  function config(
    env: { name: string; value: string }[],
    deployerEnv: { name: string; value: string }[] = [],
  ) {
    return {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 2,
        selector: { app: 'web' },
        strategy: {
          type: 'Custom',
          activeDeadlineSeconds: 300,
          customParams: { image: deployer.image, environment: [...apiServerEnv(), ...deployerEnv] },
        },
        triggers: [{ type: 'ConfigChange' }],
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{ name: 'web', image: images.v1, env, readinessProbe: WGET_PROBE }],
          },
        },
      },
    };
  }

  async function finished(version: number): Promise<Record<string, any>> {
    return waitFor(
      `web-${version} to finish`,
      async () => {
        const res = await s.api('GET', RC(`web-${version}`));
        if (!res.ok) return undefined;
        const rc = (await res.json()) as Record<string, any>;
        const phase = rc.metadata.annotations?.['openshift.io/deployment.phase'];
        return phase === 'Complete' || phase === 'Failed' ? rc : undefined;
      },
      180_000,
      500,
    );
  }

  const rolloutLog = async (version: number): Promise<string> =>
    (await s.api('GET', `${DC('web')}/log?version=${version}`)).text();

  const active = async (rev: string): Promise<V1Pod[]> =>
    (await listPods(admin, ns, `deployment=${rev}`)).filter((p) => !p.metadata?.deletionTimestamp);

  test('the deployer pod runs as the deployer ServiceAccount with OpenShift’s env and scales the revisions itself', async () => {
    const seen: V1Pod[] = [];
    let watching = true;
    // The deployer pod as the API server has it while it runs.
    const watcher = (async () => {
      while (watching) {
        const pods = await listPods(admin, ns, 'openshift.io/deployer-pod-for.name').catch(() => []);
        for (const p of pods) if (!seen.some((x) => x.metadata?.uid === p.metadata?.uid)) seen.push(p);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await s.apiJson('POST', DC(), config([{ name: 'MESSAGE', value: 'one' }]));
      const one = await finished(1);
      if (one.metadata.annotations['openshift.io/deployment.phase'] !== 'Complete')
        throw new Error(`web-1 failed:\n${await rolloutLog(1)}`);
      expect((await active('web-1')).filter(podReady)).toHaveLength(2);

      const dc = (await s.apiJson('GET', DC('web'))) as any;
      dc.spec.template.spec.containers[0].env = [{ name: 'MESSAGE', value: 'two' }];
      await s.apiJson('PUT', DC('web'), dc);
      const two = await finished(2);
      const log = await rolloutLog(2);
      if (two.metadata.annotations['openshift.io/deployment.phase'] !== 'Complete')
        throw new Error(`web-2 failed:\n${log}`);
      expect(log).toContain(`deployer: deploying web-2 in ${ns} as system:serviceaccount:${ns}:deployer`);
      expect(log).toContain('deployer: scaled web-2 to 2');
      expect(log).toContain('deployer: web-2 has 2 ready replicas');
      expect(log).toContain('deployer: scaled web-1 to 0');
      expect((await active('web-2')).filter(podReady)).toHaveLength(2);
      await waitFor('web-1 at 0', async () => (await active('web-1')).length === 0, 30_000, 500);
    } finally {
      watching = false;
      await watcher;
    }
    const pod = seen.find((p) => p.metadata?.name === 'web-2-deploy')!;
    expect(pod).toBeDefined();
    expect(pod.spec?.serviceAccountName).toBe('deployer');
    expect(pod.spec?.restartPolicy).toBe('Never');
    const env = Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e]));
    expect(env.OPENSHIFT_DEPLOYMENT_NAME?.value).toBe('web-2');
    expect(env.OPENSHIFT_DEPLOYMENT_NAMESPACE?.value).toBe(ns);
    // Slipway's API token comes from a Secret, never written into the pod spec.
    expect(env.SLIPWAY_TOKEN?.value).toBeUndefined();
    expect(env.SLIPWAY_TOKEN?.valueFrom?.secretKeyRef?.name).toBe('web-2-deploy-slipway-api');
    if (cluster?.kind === 'kit') expect(pod.spec?.hostNetwork).toBe(true);
  }, 420_000);

  test('a deployer that fails fails the rollout with its message; the previous revision keeps serving', async () => {
    const dc = (await s.apiJson('GET', DC('web'))) as any;
    const failing = config(
      [{ name: 'MESSAGE', value: 'three' }],
      [{ name: 'DEPLOYER_FAIL', value: 'cannot migrate' }],
    );
    dc.spec.strategy = failing.spec.strategy;
    dc.spec.template = failing.spec.template;
    await s.apiJson('PUT', DC('web'), dc);
    const three = await finished(3);
    expect(three.metadata.annotations['openshift.io/deployment.phase']).toBe('Failed');
    const status = ((await s.apiJson('GET', DC('web'))) as any).status;
    expect(status.conditions.find((c: any) => c.type === 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'CustomDeployerFailed',
      message: 'the custom deployer for web-3 exited 5: cannot migrate',
    });
    expect((await active('web-2')).filter(podReady)).toHaveLength(2);
    expect(await active('web-3')).toHaveLength(0);
  }, 300_000);
});
