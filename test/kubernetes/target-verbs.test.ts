/**
 * The Kubernetes target's verbs against a REAL cluster (the kit beside the repository, or
 * SLIPWAY_TEST_KUBECONFIG): a real API server, controller-manager, scheduler and kubelet.
 * Slipway holds only the token of README's Role (docs/kubernetes-rbac.yaml); everything
 * asserted is read back from the API server with the admin credentials.
 */
import { randomUUID } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import { ForbiddenError, InputError, NotFoundError } from '../../src/core/errors.js';
import { revisionFor } from '../../src/strategies/deployment-config.js';
import { loadKubeConfig } from '../../src/strategies/kubernetes/kube-client.js';
import { KubernetesTarget } from '../../src/strategies/kubernetes/kubernetes-target.js';
import { REVISION_ANNOTATIONS, type ReplicationController } from '../../src/strategies/target.js';
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
import { waitFor, type RegistryHandle } from '../support/stack.js';

const live = (): AbortSignal => new AbortController().signal;

describeOnCluster('KubernetesTarget verbs on a real cluster', () => {
  let admin: AdminClients;
  let registry: RegistryHandle;
  let images: TestImages;
  let space: TestNamespace;
  let ns: string;
  let target: KubernetesTarget;
  let passed = 0;

  beforeAll(async () => {
    admin = adminClients();
    registry = await nodeRegistry();
    images = buildTestImages(registry);
  }, 300_000);
  afterAll(async () => {
    images?.remove();
    await registry?.stop();
    recordRun('target-verbs', passed);
  });
  beforeEach(async () => {
    space = await createTestNamespace(admin);
    ns = space.name;
    target = new KubernetesTarget({
      kubeConfig: loadKubeConfig({ kubeconfig: space.slipwayKubeconfig }),
      pollIntervalMs: 200,
      terminationSlackMs: 5000,
    });
  });
  afterEach(async () => {
    await target.close();
    await space.delete();
    if (expect.getState().assertionCalls > 0) passed++;
  });

  function webConfig(
    image: string,
    spec: Partial<DeploymentConfig['spec']> = {},
    env = {},
  ): DeploymentConfig {
    return {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'web', namespace: ns, uid: randomUUID(), labels: { app: 'web' } },
      spec: {
        replicas: 2,
        selector: { app: 'web' },
        triggers: [{ type: 'ConfigChange' }],
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'web',
                image,
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: WGET_PROBE,
                env: Object.entries({ MESSAGE: 'hello', ...env }).map(([name, value]) => ({
                  name,
                  value: String(value),
                })),
              },
            ],
          },
        },
        ...spec,
      },
    } as DeploymentConfig;
  }

  function revision(
    image: string,
    version: number,
    spec: Partial<DeploymentConfig['spec']> = {},
    env: Record<string, string> = {},
  ): ReplicationController {
    return revisionFor(webConfig(image, spec, env), version, [{ type: 'ConfigChange' }]);
  }

  const podsOf = async (rev: string): Promise<V1Pod[]> =>
    (await listPods(admin, ns, `deployment=${rev}`)).filter((p) => !p.metadata?.deletionTimestamp);

  test('a revision is a real RC: its pods pull the exact digest, become Ready by the exec probe, and are replaced when deleted', async () => {
    const first = await target.ensureRevision(revision(images.v1, 1), { signal: live() });
    const again = await target.ensureRevision(revision(images.v2, 1, { replicas: 5 }), { signal: live() });
    expect(again.metadata.uid).toBe(first.metadata.uid);
    expect(again.spec.template.spec.containers[0]!.image).toBe(images.v1);

    const rc = await admin.core.readNamespacedReplicationController({ namespace: ns, name: 'web-1' });
    expect(rc.metadata?.labels).toEqual({
      app: 'web',
      'openshift.io/deployment-config.name': 'web',
      'app.kubernetes.io/managed-by': 'slipway',
    });
    expect(rc.metadata?.annotations).toMatchObject({
      [REVISION_ANNOTATIONS.latestVersion]: '1',
      [REVISION_ANNOTATIONS.desiredReplicas]: '2',
    });
    expect(rc.metadata?.ownerReferences).toBeUndefined();

    await target.scaleRevision(ns, 'web-1', 2, { signal: live() });
    expect(await podsOf('web-1')).toHaveLength(2);
    await waitFor(
      '2 pods Ready',
      async () => (await target.revisionStatus(ns, 'web-1')).ready === 2,
      60_000,
      500,
    );

    // Read back: the kubelet runs the digest Slipway asked for, and the probe made them Ready.
    const pods = await podsOf('web-1');
    const digest = images.v1.split('@')[1]!;
    for (const pod of pods) {
      expect(podReady(pod)).toBe(true);
      expect(pod.spec?.containers[0]?.image).toBe(images.v1);
      expect(pod.status?.containerStatuses?.[0]?.imageID).toContain(digest);
      expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({
        kind: 'ReplicationController',
        name: 'web-1',
      });
    }

    // Delete one: the RC controller replaces it, and the new pod becomes Ready on its own.
    const victim = pods[0]!.metadata!.name!;
    await admin.core.deleteNamespacedPod({ namespace: ns, name: victim });
    const replaced = await waitFor(
      'a replacement pod Ready',
      async () => {
        const now = await podsOf('web-1');
        const fresh = now.filter(
          (p) => p.metadata?.name !== victim && p.metadata?.name !== pods[1]!.metadata!.name,
        );
        return fresh.length === 1 && podReady(fresh[0]!) && fresh[0];
      },
      60_000,
      500,
    );
    expect(replaced.status?.containerStatuses?.[0]?.imageID).toContain(digest);
    expect(await target.revisionStatus(ns, 'web-1')).toMatchObject({ desired: 2, ready: 2, failures: [] });

    await target.scaleRevision(ns, 'web-1', 0, { signal: live() });
    expect(await listPods(admin, ns, 'deployment=web-1')).toHaveLength(0);
    await target.deleteRevision(ns, 'web-1', { signal: live() });
    expect(await target.getRevision(ns, 'web-1')).toBeUndefined();
    await expect(target.revisionStatus(ns, 'web-1')).rejects.toThrow(NotFoundError);
  });

  test('listRevisions and annotateRevision on the real API server', async () => {
    for (const v of [10, 2, 1]) await target.ensureRevision(revision(images.v1, v), { signal: live() });
    expect((await target.listRevisions(ns, 'web')).map((r) => r.metadata.name)).toEqual([
      'web-1',
      'web-2',
      'web-10',
    ]);
    await target.annotateRevision(ns, 'web-1', {
      [REVISION_ANNOTATIONS.phase]: 'Running',
      [REVISION_ANNOTATIONS.statusReason]: 'because',
    });
    const updated = await target.annotateRevision(ns, 'web-1', { [REVISION_ANNOTATIONS.statusReason]: null });
    expect(updated.metadata.annotations?.[REVISION_ANNOTATIONS.phase]).toBe('Running');
    expect(updated.metadata.annotations).not.toHaveProperty(REVISION_ANNOTATIONS.statusReason);
  });

  test('the API server refuses a bad label with the field named; an empty image is refused before sending', async () => {
    await expect(target.ensureRevision(revision(' ', 1), { signal: live() })).rejects.toThrow(InputError);
    const bad = revision(images.v1, 1);
    bad.metadata.labels = { ...bad.metadata.labels, team: 'not a valid label value' };
    const err = await target.ensureRevision(bad, { signal: live() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/metadata\.labels/);
  });

  test('revisionStatus from real pods: never ready (probe), crash loop, an image that cannot be pulled', async () => {
    await target.ensureRevision(revision(images.v1, 1, {}, { MODE: 'never-ready' }), { signal: live() });
    await target.ensureRevision(revision(images.v1, 2, {}, { MODE: 'crash' }), { signal: live() });
    const missing = `${registry.host}/slipway-kube-test/no-such-image:1`;
    await target.ensureRevision(revision(missing, 3), { signal: live() });
    for (const name of ['web-1', 'web-2', 'web-3'])
      await target.scaleRevision(ns, name, 1, { signal: live() });

    const never = await waitFor(
      'web-1 running but not ready',
      async () => {
        const s = await target.revisionStatus(ns, 'web-1');
        return s.notReady?.length ? s : undefined;
      },
      60_000,
      500,
    );
    expect(never).toMatchObject({ desired: 1, current: 1, ready: 0, failures: [] });
    expect(never.notReady![0]).toMatch(/containers with unready status: \[web\]/);

    const crash = await waitFor(
      'web-2 in CrashLoopBackOff',
      async () => {
        const s = await target.revisionStatus(ns, 'web-2');
        return s.failures.length ? s : undefined;
      },
      60_000,
      500,
    );
    expect(crash.failures[0]).toMatch(/container "web" CrashLoopBackOff: .*exited 3/);

    const pull = await waitFor(
      'web-3 unable to pull',
      async () => {
        const s = await target.revisionStatus(ns, 'web-3');
        return s.failures.some((f) => /ImagePullBackOff|ErrImagePull/.test(f)) ? s : undefined;
      },
      60_000,
      500,
    );
    expect(pull.failures[0]).toMatch(/no-such-image/);
  }, 120_000);

  test('a quota the RC controller cannot create pods under is a ReplicaFailure, and scaleRevision does not hang', async () => {
    await admin.core.createNamespacedResourceQuota({
      namespace: ns,
      body: { metadata: { name: 'pods' }, spec: { hard: { pods: '1' } } },
    });
    await target.ensureRevision(revision(images.v1, 1), { signal: live() });
    await target.scaleRevision(ns, 'web-1', 2, { signal: AbortSignal.timeout(30_000) });
    const s = await waitFor(
      'FailedCreate',
      async () => {
        const now = await target.revisionStatus(ns, 'web-1');
        return now.failures.length ? now : undefined;
      },
      30_000,
      500,
    );
    expect(s.current).toBe(1);
    expect(s.failures[0]).toMatch(/^web-1: FailedCreate: .*exceeded quota/);
  });

  test('runPod: real one-off pods, exit codes and logs, removed afterwards; a pod that cannot pull fails fast', async () => {
    const ok = await target.runPod(
      {
        namespace: ns,
        name: 'web-1-hook-pre',
        image: images.v1,
        command: ['/bin/sh', '-c', 'echo migrating; echo "ns=$OPENSHIFT_DEPLOYMENT_NAMESPACE"; echo done'],
        env: [{ name: 'OPENSHIFT_DEPLOYMENT_NAMESPACE', value: ns }],
        labels: { deployment: 'web-1' },
      },
      { signal: live() },
    );
    expect(ok).toEqual({ exitCode: 0, logs: `migrating\nns=${ns}\ndone` });
    const failed = await target.runPod(
      {
        namespace: ns,
        name: 'web-1-hook-post',
        image: images.v1,
        command: ['/bin/sh', '-c', 'echo broken >&2; exit 7'],
        env: [],
        labels: { deployment: 'web-1' },
      },
      { signal: live() },
    );
    expect(failed).toEqual({ exitCode: 7, logs: 'broken' });
    await waitFor('hook pods deleted', async () => (await listPods(admin, ns)).length === 0, 30_000, 300);

    const started = Date.now();
    await expect(
      target.runPod(
        {
          namespace: ns,
          name: 'web-1-hook-mid',
          image: `${registry.host}/slipway-kube-test/no-such-image:1`,
          env: [],
          labels: {},
        },
        { signal: live() },
      ),
    ).rejects.toThrow(/ImagePullBackOff|ErrImagePull|not found/);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);

  test('an AbortSignal ends runPod’s wait and the pod is deleted', async () => {
    const ctl = new AbortController();
    const run = target.runPod(
      {
        namespace: ns,
        name: 'web-1-hook-pre',
        image: images.v1,
        command: ['/bin/sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'],
        env: [],
        labels: {},
      },
      { signal: ctl.signal },
    );
    await waitFor(
      'the pod running',
      async () => (await listPods(admin, ns))[0]?.status?.phase === 'Running',
      60_000,
      300,
    );
    ctl.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
    await waitFor('the pod gone', async () => (await listPods(admin, ns)).length === 0, 30_000, 300);
  });

  test('a Service keeps its selector and cluster IP; its Endpoints list only the ready pods', async () => {
    await target.ensureRevision(revision(images.v1, 1), { signal: live() });
    await target.ensureRevision(revision(images.v1, 2, {}, { MODE: 'never-ready' }), { signal: live() });
    await target.scaleRevision(ns, 'web-1', 2, { signal: live() });
    await target.scaleRevision(ns, 'web-2', 1, { signal: live() });
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'web',
        namespace: ns,
        uid: randomUUID(),
        resourceVersion: '7',
        labels: { app: 'web' },
      },
      spec: { selector: { deploymentconfig: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    };
    await target.applyService(service);
    const created = await admin.core.readNamespacedService({ namespace: ns, name: 'web' });
    expect(created.spec?.selector).toEqual({ deploymentconfig: 'web' });
    expect(created.spec?.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    await waitFor(
      'web-1 Ready',
      async () => (await target.revisionStatus(ns, 'web-1')).ready === 2,
      60_000,
      500,
    );
    const readyIps = (await podsOf('web-1')).map((p) => p.status?.podIP).sort();
    const notReadyIps = (await podsOf('web-2')).map((p) => p.status?.podIP);
    // The endpoints controller keeps the never-ready pod out of the ready addresses.
    const endpoints = await waitFor(
      'the Endpoints to list the 2 ready pods',
      async () => {
        const ep = await admin.core.readNamespacedEndpoints({ namespace: ns, name: 'web' });
        const ready = (ep.subsets ?? [])
          .flatMap((s) => s.addresses ?? [])
          .map((a) => a.ip)
          .sort();
        return JSON.stringify(ready) === JSON.stringify(readyIps) && ep;
      },
      30_000,
      500,
    );
    const notReady = (endpoints.subsets ?? []).flatMap((s) => s.notReadyAddresses ?? []).map((a) => a.ip);
    expect(notReady).toEqual(notReadyIps);
    expect(endpoints.subsets?.[0]?.ports?.[0]).toMatchObject({ port: 8080 });

    // Replaced with another port: the cluster IP the cluster allocated stays.
    await target.applyService({
      ...service,
      spec: { ...service.spec, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
    });
    const replaced = await admin.core.readNamespacedService({ namespace: ns, name: 'web' });
    expect(replaced.spec?.clusterIP).toBe(created.spec?.clusterIP);
    expect(replaced.spec?.ports?.[0]?.port).toBe(8080);
    await target.deleteService(ns, 'web');
    await expect(admin.core.readNamespacedService({ namespace: ns, name: 'web' })).rejects.toMatchObject({
      code: 404,
    });
  }, 120_000);

  test('Slipway’s token is README’s Role and no more: reading Secrets or nodes is Forbidden', async () => {
    const err = await target.clients.core.listNamespacedSecret({ namespace: ns }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 403 });
    const nodes = await target.clients.core.listNode().catch((e: unknown) => e);
    expect(nodes).toMatchObject({ code: 403 });
    // And through Slipway's error mapping, pointing at the Role.
    const other = new KubernetesTarget({
      kubeConfig: loadKubeConfig({ kubeconfig: space.slipwayKubeconfig }),
    });
    const forbidden = await other.getRevision('kube-system', 'x').catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(ForbiddenError);
    await other.close();
  });
});
