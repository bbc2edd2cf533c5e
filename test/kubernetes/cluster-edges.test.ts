/**
 * The Kubernetes target's edges on a REAL cluster: a leftover pod of the same name, refused
 * credentials, revisions scaled by someone else through the scale subresource, a pod held
 * Terminating (by a finalizer) while a scale-down is aborted, 404s, the runtime choosing the
 * target from SLIPWAY_KUBECONFIG, and apps/v1 Deployments following ImageStream tags through
 * `image.openshift.io/triggers` rolled out by the cluster's Deployment controller, and a
 * project deleted through Slipway leaving nothing Slipway made in its cluster namespace.
 */
import { randomUUID } from 'node:crypto';
import { KubeConfig, PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import { NotFoundError, UnauthorizedError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import { RedisResourceStore } from '../../src/store/resource-store.js';
import { revisionFor } from '../../src/strategies/deployment-config.js';
import { ReplicaStateStore } from '../../src/strategies/docker/replica-state.js';
import { updateAnnotatedDeployments } from '../../src/strategies/kubernetes/image-triggers.js';
import { loadKubeConfig } from '../../src/strategies/kubernetes/kube-client.js';
import { KubernetesTarget } from '../../src/strategies/kubernetes/kubernetes-target.js';
import type { ReplicationController } from '../../src/strategies/target.js';
import { createDeployTarget } from '../../src/strategies/targets.js';
import { startDeployments } from '../../src/runtime.js';
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
import { startSlipway } from '../support/slipway.js';
import { startRedis, waitFor, type RegistryHandle } from '../support/stack.js';

const live = (): AbortSignal => new AbortController().signal;
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describeOnCluster('Kubernetes target edges on a real cluster', () => {
  let admin: AdminClients;
  let registry: RegistryHandle;
  let images: TestImages;
  let space: TestNamespace;
  let ns: string;
  let target: KubernetesTarget;
  let ran = 0;

  beforeAll(async () => {
    admin = adminClients();
    registry = await nodeRegistry();
    images = buildTestImages(registry);
  }, 300_000);
  afterAll(async () => {
    images?.remove();
    await registry?.stop();
    recordRun('cluster-edges', ran);
  });
  beforeEach(async () => {
    space = await createTestNamespace(admin);
    ns = space.name;
    target = new KubernetesTarget({
      kubeConfig: loadKubeConfig({ kubeconfig: space.slipwayKubeconfig }),
      pollIntervalMs: 200,
      terminationSlackMs: 60_000,
    });
  });
  afterEach(async () => {
    await target.close();
    await space.delete();
    ran++;
  });

  /** DeploymentConfig `web` of images.v1, Ready through WGET_PROBE. */
  function webConfig(replicas = 1): DeploymentConfig {
    return {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'web', namespace: ns, uid: randomUUID(), labels: { app: 'web' } },
      spec: {
        replicas,
        selector: { app: 'web' },
        triggers: [{ type: 'ConfigChange' }],
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{ name: 'web', image: images.v1, readinessProbe: WGET_PROBE }],
          },
        },
      },
    } as DeploymentConfig;
  }

  /** A ReplicationController another tool made with OpenShift's label for DeploymentConfig `web`. */
  function foreignRevision(name: string) {
    return admin.core.createNamespacedReplicationController({
      namespace: ns,
      body: {
        metadata: { name, labels: { 'openshift.io/deployment-config.name': 'web' } },
        spec: {
          replicas: 0,
          selector: { app: 'other-tool' },
          template: {
            metadata: { labels: { app: 'other-tool' } },
            spec: { containers: [{ name: 'web', image: images.v1 }] },
          },
        },
      },
    });
  }

  function revision(version: number, replicas = 1): ReplicationController {
    return revisionFor(webConfig(replicas), version, [{ type: 'ConfigChange' }]);
  }

  test('runPod stops a leftover pod of the same name (gracefully) before its own run starts', async () => {
    const leftover = await admin.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'web-1-hook-pre' },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'lifecycle',
              image: images.v1,
              command: [
                '/bin/sh',
                '-c',
                'trap "echo stopped; exit 0" TERM; while :; do sleep 1 & wait $!; done',
              ],
            },
          ],
        },
      },
    });
    await waitFor(
      'the leftover running',
      async () =>
        (await admin.core.readNamespacedPod({ namespace: ns, name: 'web-1-hook-pre' })).status?.phase ===
        'Running',
      60_000,
      300,
    );
    const result = await target.runPod(
      {
        namespace: ns,
        name: 'web-1-hook-pre',
        image: images.v1,
        command: ['/bin/sh', '-c', 'echo fresh run'],
        env: [],
        labels: {},
      },
      { signal: live() },
    );
    expect(result).toEqual({ exitCode: 0, logs: 'fresh run' });
    // The leftover is gone, and it was not the pod that ran.
    const now = await listPods(admin, ns);
    expect(now.map((p) => p.metadata?.uid)).not.toContain(leftover.metadata?.uid);
  }, 120_000);

  test('credentials the API server refuses are an UnauthorizedError naming SLIPWAY_KUBECONFIG', async () => {
    const good = loadKubeConfig({ kubeconfig: space.slipwayKubeconfig });
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: good.clusters,
      users: [{ name: 'stranger', token: `not-a-token-${randomUUID()}` }],
      contexts: [{ name: 'x', cluster: good.clusters[0]!.name, user: 'stranger' }],
      currentContext: 'x',
    });
    const stranger = new KubernetesTarget({ kubeConfig: kc });
    await expect(stranger.listRevisions(ns, 'web')).rejects.toThrow(UnauthorizedError);
    await expect(stranger.listRevisions(ns, 'web')).rejects.toThrow(
      /refused Slipway's credentials; check the user in SLIPWAY_KUBECONFIG/,
    );
    await stranger.close();
  });

  test('404s: getRevision answers undefined, revisionStatus and scaleRevision say what is missing', async () => {
    expect(await target.getRevision(ns, 'web-9')).toBeUndefined();
    await expect(target.revisionStatus(ns, 'web-9')).rejects.toThrow(NotFoundError);
    await expect(target.scaleRevision(ns, 'web-9', 1, { signal: live() })).rejects.toThrow(
      /replicationcontrollers "web-9" not found/,
    );
    await target.deleteRevision(ns, 'web-9', { signal: live() }); // nothing to delete: not an error
  });

  test("a ReplicationController another tool made with OpenShift's labels is not a revision: not listed, not taken over", async () => {
    await foreignRevision('web-2');
    await foreignRevision('web-7');
    await target.ensureRevision(revision(1), { signal: live() });
    expect((await target.listRevisions(ns, 'web')).map((rc) => rc.metadata.name)).toEqual(['web-1']);
    // Its name is the next revision's: refused, naming it, and it is left as it was.
    await expect(target.ensureRevision(revision(2), { signal: live() })).rejects.toThrow(
      /ReplicationController .*\/web-2 already exists in the cluster and was not made by Slipway/,
    );
    const kept = await admin.core.readNamespacedReplicationController({ namespace: ns, name: 'web-2' });
    expect(kept.spec?.selector).toEqual({ app: 'other-tool' });
  });

  test('a revision scaled through the scale subresource (as a deployer does) is seen by the target', async () => {
    await target.ensureRevision(revision(1), { signal: live() });
    const scale = await admin.core.readNamespacedReplicationControllerScale({ namespace: ns, name: 'web-1' });
    expect(scale.status?.selector).toBe('app=web,deployment=web-1,deploymentconfig=web');
    await admin.core.replaceNamespacedReplicationControllerScale({
      namespace: ns,
      name: 'web-1',
      body: {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name: 'web-1', namespace: ns },
        spec: { replicas: 2 },
      },
    });
    await waitFor('2 ready', async () => (await target.revisionStatus(ns, 'web-1')).ready === 2, 60_000, 500);
    const rc = await admin.core.readNamespacedReplicationControllerStatus({ namespace: ns, name: 'web-1' });
    expect(rc.status).toMatchObject({ replicas: 2, readyReplicas: 2 });
  }, 120_000);

  test('a scale-down waits for a pod held Terminating, and an AbortSignal ends that wait', async () => {
    await target.ensureRevision(revision(1), { signal: live() });
    await target.scaleRevision(ns, 'web-1', 1, { signal: live() });
    const [pod] = await listPods(admin, ns, 'deployment=web-1');
    const name = pod!.metadata!.name!;
    // A finalizer keeps the pod object after its container stopped: it stays Terminating.
    await admin.core.patchNamespacedPod(
      { namespace: ns, name, body: { metadata: { finalizers: ['slipway.dev/test-hold'] } } },
      MERGE,
    );
    try {
      const controller = new AbortController();
      const scaling = target.scaleRevision(ns, 'web-1', 0, { signal: controller.signal });
      await waitFor(
        'the pod Terminating',
        async () =>
          Boolean((await admin.core.readNamespacedPod({ namespace: ns, name })).metadata?.deletionTimestamp),
        30_000,
        200,
      );
      let settled = false;
      void scaling.then(
        () => (settled = true),
        () => (settled = true),
      );
      await new Promise((r) => setTimeout(r, 3000));
      expect(settled).toBe(false);
      controller.abort(new Error('worker shutting down'));
      await expect(scaling).rejects.toThrow('worker shutting down');
    } finally {
      await admin.core.patchNamespacedPod(
        { namespace: ns, name, body: { metadata: { finalizers: null } } },
        MERGE,
      );
    }
  }, 120_000);

  test('createDeployTarget picks Kubernetes for SLIPWAY_KUBECONFIG and makes revisions in the cluster', async () => {
    const redis = await startRedis();
    const client = new Redis(redis.url);
    try {
      const localDeps = {
        docker: new Docker(),
        store: new RedisResourceStore(client, 'edges'),
        states: new ReplicaStateStore(client, 'edges'),
        logger: createLogger('silent'),
        env: {},
      };
      const kube = createDeployTarget({ kubeconfig: space.slipwayKubeconfig }, localDeps);
      expect(kube.name).toBe('kubernetes');
      await kube.ensureRevision(revision(1), { signal: live() });
      expect(
        (await admin.core.readNamespacedReplicationController({ namespace: ns, name: 'web-1' })).metadata
          ?.name,
      ).toBe('web-1');
      await kube.close();
    } finally {
      client.disconnect();
      await redis.stop();
    }
  });

  function annotated(name: string, image: string, triggers: unknown[] | undefined): V1Deployment {
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name,
        ...(triggers ? { annotations: { 'image.openshift.io/triggers': JSON.stringify(triggers) } } : {}),
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              { name: 'web', image, readinessProbe: WGET_PROBE },
              { name: 'sidecar', image, env: [{ name: 'MODE', value: 'never-ready' }] },
            ],
          },
        },
      },
    };
  }

  async function readyWith(name: string, image: string): Promise<void> {
    const digest = image.split('@')[1]!;
    await waitFor(
      `Deployment ${name}'s pods Ready with ${digest.slice(0, 19)}`,
      async () => {
        const pods = (await listPods(admin, ns, `app=${name}`)).filter((p) => !p.metadata?.deletionTimestamp);
        return (
          pods.length === 1 &&
          podReady(pods[0]!) &&
          pods[0]!.status?.containerStatuses?.find((c) => c.name === 'web')?.imageID?.includes(digest)
        );
      },
      90_000,
      500,
    );
  }

  test('an apps/v1 Deployment with image.openshift.io/triggers gets the new image and the cluster rolls it out', async () => {
    const web = (fieldPath: string, paused = false) => ({
      from: { kind: 'ImageStreamTag', name: 'web:latest' },
      fieldPath,
      ...(paused ? { paused: true } : {}),
    });
    await admin.apps.createNamespacedDeployment({
      namespace: ns,
      body: annotated('shop', images.v1, [
        web('spec.template.spec.containers[?(@.name=="web")].image'),
        web('spec.template.spec.containers[1].image', true),
      ]),
    });
    await admin.apps.createNamespacedDeployment({
      namespace: ns,
      body: annotated('plain', images.v1, undefined),
    });
    await admin.apps.createNamespacedDeployment({
      namespace: ns,
      body: annotated('broken', images.v1, [
        { from: { kind: 'ImageStreamTag', name: 'web' }, fieldPath: 'nope' },
      ]),
    });
    await readyWith('shop', images.v1);

    const result = await updateAnnotatedDeployments({
      kubeConfig: target.clients.kubeConfig,
      namespace: ns,
      imageStreamTag: 'web:latest',
      image: images.v2,
    });
    expect(result.updated).toEqual([
      {
        namespace: ns,
        name: 'shop',
        changes: [{ init: false, container: 'web', from: images.v1, to: images.v2 }],
      },
    ]);
    expect(result.errors).toEqual([
      expect.stringMatching(/Deployment .*\/broken: fieldPath "nope" is not valid/),
    ]);
    // The cluster's Deployment controller did the rollout: a new ReplicaSet, its pod Ready with v2.
    await readyWith('shop', images.v2);
    const shop = await admin.apps.readNamespacedDeployment({ namespace: ns, name: 'shop' });
    expect(shop.spec?.template.spec?.containers.map((c) => c.image)).toEqual([images.v2, images.v1]);
    const plain = await admin.apps.readNamespacedDeployment({ namespace: ns, name: 'plain' });
    expect(plain.spec?.template.spec?.containers[0]?.image).toBe(images.v1);
    // Current already: nothing to do.
    const again = await updateAnnotatedDeployments({
      kubeConfig: target.clients.kubeConfig,
      namespace: ns,
      imageStreamTag: 'web',
      image: images.v2,
    });
    expect(again.updated).toEqual([]);
  }, 180_000);

  test('Slipway configured with SLIPWAY_KUBECONFIG: an ImageStreamTag update rolls an annotated Deployment out', async () => {
    const s = await startSlipway({ workers: 0, registry, config: { kubeconfig: space.slipwayKubeconfig } });
    try {
      expect(s.rt.deployTarget.name).toBe('kubernetes');
      await admin.apps.createNamespacedDeployment({
        namespace: ns,
        body: annotated('shop', images.v1, [
          {
            from: { kind: 'ImageStreamTag', name: 'web:latest' },
            fieldPath: 'spec.template.spec.containers[?(@.name=="web")].image',
          },
        ]),
      });
      await readyWith('shop', images.v1);
      await s.rt.dispatchImageChange({
        namespace: ns,
        stream: 'web',
        tag: 'latest',
        image: images.v2.split('@')[1]!,
        dockerImageReference: images.v2,
      });
      await readyWith('shop', images.v2);
    } finally {
      await s.stop();
    }
  }, 180_000);

  /** Names of what Slipway may make in a namespace, by kind, as the API server has them. */
  async function madeObjects(): Promise<
    Record<'replicationcontrollers' | 'pods' | 'services' | 'secrets' | 'ingresses', string[]>
  > {
    const names = (list: { items: { metadata?: { name?: string; deletionTimestamp?: Date } }[] }) =>
      list.items.map((o) => o.metadata?.name ?? '').sort();
    return {
      replicationcontrollers: names(await admin.core.listNamespacedReplicationController({ namespace: ns })),
      pods: names(await admin.core.listNamespacedPod({ namespace: ns })),
      services: names(await admin.core.listNamespacedService({ namespace: ns })),
      secrets: names(await admin.core.listNamespacedSecret({ namespace: ns })),
      ingresses: names(await admin.networking.listNamespacedIngress({ namespace: ns })),
    };
  }

  test('deleting a project removes what Slipway made in the cluster namespace, and leaves the namespace to its owner', async () => {
    const before = await madeObjects();
    const s = await startSlipway({ workers: 0, registry, config: { kubeconfig: space.slipwayKubeconfig } });
    const deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
    try {
      await s.apiJson('POST', '/apis/project.openshift.io/v1/projectrequests', {
        apiVersion: 'project.openshift.io/v1',
        kind: 'ProjectRequest',
        metadata: { name: ns },
      });
      const { metadata, ...rest } = webConfig();
      await s.apiJson('POST', `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs`, {
        ...rest,
        metadata: { name: metadata.name, labels: metadata.labels },
      });
      await s.apiJson('POST', `/api/v1/namespaces/${ns}/services`, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web' },
        spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      });
      await s.apiJson('POST', `/apis/route.openshift.io/v1/namespaces/${ns}/routes`, {
        apiVersion: 'route.openshift.io/v1',
        kind: 'Route',
        metadata: { name: 'web' },
        spec: { host: 'web.example.test', to: { kind: 'Service', name: 'web' } },
      });
      await waitFor(
        'the replica Ready, the Service and the Ingress in the cluster',
        async () => {
          const pods = await listPods(admin, ns, 'app=web');
          const made = await madeObjects();
          return (
            pods.length === 1 &&
            podReady(pods[0]!) &&
            made.services.includes('web') &&
            made.ingresses.includes('web') &&
            made.replicationcontrollers.includes('web-1')
          );
        },
        120_000,
        500,
      );

      // A hook pod a killed worker left running, and a pod that is not Slipway's.
      const sleeper = (name: string, labels: Record<string, string>) =>
        admin.core.createNamespacedPod({
          namespace: ns,
          body: {
            metadata: { name, labels },
            spec: {
              restartPolicy: 'Never',
              terminationGracePeriodSeconds: 1,
              containers: [{ name: 'lifecycle', image: images.v1, command: ['/bin/sh', '-c', 'sleep 600'] }],
            },
          },
        });
      await sleeper('web-1-hook-pre', {
        deployment: 'web-1',
        'openshift.io/deployment.hook': 'pre',
        'app.kubernetes.io/managed-by': 'slipway',
      });
      await sleeper('someone-else', { app: 'other' });
      // Another tool's objects with OpenShift's labels, but not Slipway's: they stay.
      await sleeper('other-tool-hook', { deployment: 'web-1', 'openshift.io/deployment.hook': 'pre' });
      await foreignRevision('web-9');

      const res = await s.api('DELETE', `/apis/project.openshift.io/v1/projects/${ns}`);
      expect(res.status).toBe(200);
      // Pods end on their own grace period: the rest is gone when the answer comes.
      const others = {
        ...before,
        pods: [...before.pods, 'other-tool-hook', 'someone-else'].sort(),
        replicationcontrollers: [...before.replicationcontrollers, 'web-9'].sort(),
      };
      expect({ ...(await madeObjects()), pods: [] }).toEqual({ ...others, pods: [] });
      await waitFor(
        "Slipway's pods gone",
        async () => (await madeObjects()).pods.length === others.pods.length,
        60_000,
        500,
      );
      expect(await madeObjects()).toEqual(others);
      // The namespace is the cluster owner's (Slipway never creates one): it stays.
      expect((await admin.core.readNamespace({ name: ns })).metadata?.name).toBe(ns);
    } finally {
      await deployments.close();
      await s.stop();
    }
  }, 240_000);
});
