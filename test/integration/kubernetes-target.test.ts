/**
 * The Kubernetes target against a STAND-IN API server (test/support/fake-kube-apiserver.ts):
 * no Kubernetes API server can run on these machines, so these tests run
 * @kubernetes/client-node over HTTPS against a Kubernetes-API-compatible test server
 * that validates every object against the official schemas and runs a tiny RC
 * controller and kubelet. Nothing here was run against a real cluster.
 *
 * Each test starts its own stand-in on a free loopback port and loads its kubeconfig
 * file the way a user's SLIPWAY_KUBECONFIG is loaded.
 */
import { randomUUID } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import { InputError, NotFoundError, UnauthorizedError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import type { Resource } from '../../src/core/resource.js';
import { RedisBuildLogStore } from '../../src/store/build-logs.js';
import { RedisResourceStore } from '../../src/store/resource-store.js';
import { revisionFor } from '../../src/strategies/deployment-config.js';
import { ReplicaStateStore } from '../../src/strategies/docker/replica-state.js';
import { updateAnnotatedDeployments } from '../../src/strategies/kubernetes/image-triggers.js';
import { MERGE_PATCH, loadKubeConfig } from '../../src/strategies/kubernetes/kube-client.js';
import { KubernetesTarget } from '../../src/strategies/kubernetes/kubernetes-target.js';
import { DEPLOYMENT_CONFIG, runRollout, type RolloutDeps } from '../../src/strategies/rollout.js';
import {
  REVISION_ANNOTATIONS,
  REVISION_LABELS,
  type ReplicationController,
} from '../../src/strategies/target.js';
import { createDeployTarget } from '../../src/strategies/targets.js';
import { FakeKubeApiServer, defaultPodRule, type PodRule } from '../support/fake-kube-apiserver.js';
import type { KObject } from '../support/fake-kube-validation.js';
import { startRedis, waitFor, type RedisHandle } from '../support/stack.js';

let api: FakeKubeApiServer;
let target: KubernetesTarget;
let ns: string;

const live = (): AbortSignal => new AbortController().signal;

beforeEach(async () => {
  ns = `t-${randomUUID().slice(0, 8)}`;
  api = await FakeKubeApiServer.start({ namespaces: [ns] });
  target = new KubernetesTarget({
    kubeConfig: loadKubeConfig({ kubeconfig: api.kubeconfigPath }),
    pollIntervalMs: 50,
    terminationSlackMs: 2000,
  });
});

afterEach(async () => {
  await target.close();
  const errors = api.internalErrors;
  await api.stop();
  expect(errors).toEqual([]);
});

function webConfig(image: string, spec: Partial<DeploymentConfig['spec']> = {}): DeploymentConfig {
  return {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name: 'web', namespace: ns, uid: randomUUID(), labels: { app: 'web' } },
    spec: {
      replicas: 3,
      selector: { app: 'web' },
      triggers: [{ type: 'ConfigChange' }],
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'web',
              image,
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/healthz', port: 8080 } },
              env: [{ name: 'GREETING', value: 'hello' }],
            },
          ],
        },
      },
      ...spec,
    },
  };
}

/** Revision N as the rollout controller makes it (revisionFor), with OpenShift's labels and annotations. */
function revision(
  image: string,
  version: number,
  spec: Partial<DeploymentConfig['spec']> = {},
): ReplicationController {
  return revisionFor(webConfig(image, spec), version, [{ type: 'ConfigChange' }]);
}

function activePods(revisionName: string): KObject[] {
  return api
    .list('pods', ns)
    .filter((p) => p.metadata.labels?.deployment === revisionName && !p.metadata.deletionTimestamp);
}

describe('KubernetesTarget verbs against the stand-in API server', () => {
  test('ensureRevision creates a ReplicationController with OpenShift labels and annotations, and is idempotent', async () => {
    const first = await target.ensureRevision(revision('registry.example/web@sha256:aaa', 1), {
      signal: live(),
    });
    expect(first.apiVersion).toBe('v1');
    expect(first.kind).toBe('ReplicationController');
    const stored = api.get('replicationcontrollers', ns, 'web-1')!;
    expect(stored.metadata.labels).toEqual({ app: 'web', [REVISION_LABELS.configName]: 'web' });
    expect(stored.metadata.annotations).toMatchObject({
      [REVISION_ANNOTATIONS.configName]: 'web',
      [REVISION_ANNOTATIONS.latestVersion]: '1',
      [REVISION_ANNOTATIONS.phase]: 'New',
      [REVISION_ANNOTATIONS.desiredReplicas]: '3',
    });
    expect(JSON.parse(stored.metadata.annotations![REVISION_ANNOTATIONS.encodedConfig]!).spec.replicas).toBe(
      3,
    );
    expect(stored.spec.selector).toEqual({ app: 'web', deployment: 'web-1', deploymentconfig: 'web' });
    expect(stored.spec.template.metadata.labels).toEqual({
      app: 'web',
      deployment: 'web-1',
      deploymentconfig: 'web',
    });
    // The DeploymentConfig lives in Slipway, not in the cluster: no ownerReference the garbage collector would act on.
    expect(stored.metadata.ownerReferences).toBeUndefined();
    expect(first.metadata.uid).toBe(stored.metadata.uid);

    // Again, even with other replicas: the stored revision comes back unchanged.
    const again = await target.ensureRevision(
      { ...revision('registry.example/web@sha256:aaa', 1), spec: { ...revision('x', 1).spec, replicas: 5 } },
      { signal: live() },
    );
    expect(again.metadata.uid).toBe(first.metadata.uid);
    expect(again.spec.replicas).toBe(0);
    expect(again.spec.template).toEqual(first.spec.template);
    const posts = api.requests.filter((r) => r.method === 'POST' && r.plural === 'replicationcontrollers');
    expect(posts.map((r) => r.status)).toEqual([201, 409]);
  });

  test('ensureRevision refuses a container without an image before sending anything', async () => {
    await expect(target.ensureRevision(revision(' ', 1), { signal: live() })).rejects.toThrow(InputError);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  test('the stand-in refuses what the API server refuses: schema, unknown fields, selector/label mismatch', async () => {
    // A label value the API server rejects, from the DeploymentConfig's own labels.
    const bad = revision('web:1', 1);
    bad.metadata.labels = { ...bad.metadata.labels, team: 'not a valid label value' };
    const err = await target.ensureRevision(bad, { signal: live() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/is invalid: metadata\.labels/);
    expect((err as InputError).causes[0]?.field).toBe('metadata.labels');

    await target.ensureRevision(revision('web:1', 1), { signal: live() });
    const core = target.clients.core;
    // The official schema: replicas must be an integer.
    await expect(
      core.createNamespacedReplicationController({
        namespace: ns,
        body: { ...revision('web:1', 2), spec: { ...revision('web:1', 2).spec, replicas: 'two' } } as never,
      }),
    ).rejects.toMatchObject({ code: 422, body: expect.stringContaining('spec.replicas') });
    // The selector must match the template's labels.
    const mismatch = revision('web:1', 3);
    mismatch.spec.template.metadata = { labels: { app: 'web' } };
    await expect(
      core.createNamespacedReplicationController({ namespace: ns, body: mismatch as never }),
    ).rejects.toMatchObject({
      code: 422,
      body: expect.stringContaining('`selector` does not match template `labels`'),
    });
    // Strict field validation: a misspelt field in a merge patch.
    const typo = await target.clients.core
      .patchNamespacedReplicationController(
        { namespace: ns, name: 'web-1', body: { spec: { replica: 2 } } },
        MERGE_PATCH,
      )
      .catch((e: unknown) => e);
    expect(typo).toMatchObject({
      code: 400,
      body: expect.stringContaining('unknown field \\"spec.replica\\"'),
    });
  });

  test('listRevisions returns one DeploymentConfig’s revisions, oldest first', async () => {
    for (const v of [10, 2, 1]) await target.ensureRevision(revision(`web:${v}`, v), { signal: live() });
    const other = revisionFor({ ...webConfig('api:1'), metadata: { name: 'api', namespace: ns } }, 1, []);
    await target.ensureRevision(other, { signal: live() });
    const list = await target.listRevisions(ns, 'web');
    expect(list.map((r) => r.metadata.name)).toEqual(['web-1', 'web-2', 'web-10']);
    expect(list.every((r) => r.apiVersion === 'v1' && r.kind === 'ReplicationController')).toBe(true);
    expect(
      api.requests.find((r) => r.method === 'GET' && r.plural === 'replicationcontrollers' && !r.name)?.query
        .labelSelector,
    ).toBe('openshift.io/deployment-config.name=web');
  });

  test('annotateRevision merges annotations and removes those set to null, by merge patch', async () => {
    await target.ensureRevision(revision('web:1', 1), { signal: live() });
    await target.annotateRevision(ns, 'web-1', {
      [REVISION_ANNOTATIONS.phase]: 'Running',
      [REVISION_ANNOTATIONS.statusReason]: 'because',
    });
    const updated = await target.annotateRevision(ns, 'web-1', { [REVISION_ANNOTATIONS.statusReason]: null });
    expect(updated.metadata.annotations?.[REVISION_ANNOTATIONS.phase]).toBe('Running');
    expect(updated.metadata.annotations).not.toHaveProperty(REVISION_ANNOTATIONS.statusReason);
    expect(updated.metadata.annotations?.[REVISION_ANNOTATIONS.configName]).toBe('web');
    expect(api.requests.filter((r) => r.method === 'PATCH').map((r) => r.contentType)).toEqual([
      'application/merge-patch+json',
      'application/merge-patch+json',
    ]);
  });

  test('scaleRevision resolves once the pods exist, and once removed pods are gone', async () => {
    await target.ensureRevision(revision('web:1', 1), { signal: live() });
    await target.scaleRevision(ns, 'web-1', 3, { signal: live() });
    expect(activePods('web-1')).toHaveLength(3);
    expect(api.get('replicationcontrollers', ns, 'web-1')!.spec.replicas).toBe(3);
    await target.scaleRevision(ns, 'web-1', 1, { signal: live() });
    expect(api.list('pods', ns)).toHaveLength(1);
    await target.scaleRevision(ns, 'web-1', 0, { signal: live() });
    expect(api.list('pods', ns)).toHaveLength(0);
  });

  test('revisionStatus reads readiness from pod conditions and failures from waiting reasons', async () => {
    const cases: [string, number, (s: Awaited<ReturnType<KubernetesTarget['revisionStatus']>>) => void][] = [
      [
        'registry.example/web:1',
        1,
        (s) => expect(s).toMatchObject({ desired: 2, current: 2, ready: 2, available: 2, failures: [] }),
      ],
      [
        'registry.example/never-ready:1',
        2,
        (s) => {
          expect(s).toMatchObject({ desired: 2, current: 2, ready: 0, available: 0, failures: [] });
          expect(s.notReady).toEqual([
            expect.stringMatching(/^pod web-2-\w+: containers with unready status: \[web\]$/),
            expect.any(String),
          ]);
        },
      ],
      [
        'registry.example/crash:1',
        3,
        (s) => {
          expect(s).toMatchObject({ current: 2, ready: 0 });
          expect(s.failures[0]).toMatch(
            /container "web" CrashLoopBackOff: back-off 10s restarting failed container=web .*\(exited 1 Error, restarted \d+ time\(s\)\)/,
          );
        },
      ],
      [
        'registry.example/no-such-image:1',
        4,
        (s) => {
          expect(s).toMatchObject({ current: 2, ready: 0 });
          expect(s.failures[0]).toMatch(
            /container "web" ImagePullBackOff: Back-off pulling image "registry.example\/no-such-image:1"/,
          );
        },
      ],
    ];
    for (const [image, version, check] of cases) {
      const name = `web-${version}`;
      await target.ensureRevision(revision(image, version, { replicas: 2 }), { signal: live() });
      await target.scaleRevision(ns, name, 2, { signal: live() });
      // Let the stand-in's kubelet move the pods past ContainerCreating.
      await waitFor(`${name} pods started`, async () =>
        activePods(name).every(
          (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason !== 'ContainerCreating',
        ),
      );
      check(await target.revisionStatus(ns, name));
    }
  });

  test('available counts only pods ready for minReadySeconds', async () => {
    // Condition times have one-second precision (as Kubernetes keeps them): 3 s leaves at least 2 s unavailable.
    await target.ensureRevision(revision('web:1', 1, { minReadySeconds: 3 }), { signal: live() });
    await target.scaleRevision(ns, 'web-1', 2, { signal: live() });
    const early = await waitFor('ready', async () => {
      const s = await target.revisionStatus(ns, 'web-1');
      return s.ready === 2 && s;
    });
    expect(early.available).toBe(0);
    await waitFor('available', async () => (await target.revisionStatus(ns, 'web-1')).available === 2, 8000);
  });

  test('a ReplicaFailure (pods the RC controller cannot create) is reported, and scaleRevision does not hang on it', async () => {
    api.setCreateError(
      () =>
        'pods "web-1-x" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=10, limited: pods=10',
    );
    await target.ensureRevision(revision('web:1', 1), { signal: live() });
    await target.scaleRevision(ns, 'web-1', 2, { signal: AbortSignal.timeout(5000) });
    const s = await target.revisionStatus(ns, 'web-1');
    expect(s.current).toBe(0);
    expect(s.failures).toEqual([
      expect.stringMatching(/^web-1: FailedCreate: pods "web-1-x" is forbidden: exceeded quota/),
    ]);
  });

  test('runPod runs a pod with restartPolicy Never to completion: exit codes and logs, then deletes it', async () => {
    const seen: KObject[] = [];
    api.setPodRule((pod, env) => {
      seen.push(pod);
      return defaultPodRule(pod, env);
    });
    const ok = await target.runPod(
      {
        namespace: ns,
        name: 'web-1-hook-pre',
        image: 'web:1',
        command: ['/bin/migrate'],
        env: [{ name: 'FAKE_LOG', value: 'migrating\ndone' }],
        labels: { deployment: 'web-1' },
      },
      { signal: live() },
    );
    expect(ok).toEqual({ exitCode: 0, logs: 'migrating\ndone' });
    const failed = await target.runPod(
      {
        namespace: ns,
        name: 'web-1-hook-post',
        image: 'web:1',
        env: [
          { name: 'FAKE_EXIT_CODE', value: '3' },
          { name: 'FAKE_LOG', value: 'cannot reach the database' },
        ],
        labels: {},
      },
      { signal: live() },
    );
    expect(failed).toEqual({ exitCode: 3, logs: 'cannot reach the database' });
    expect(seen[0]!.spec).toMatchObject({
      restartPolicy: 'Never',
      containers: [{ name: 'lifecycle', image: 'web:1', command: ['/bin/migrate'] }],
    });
    expect(seen[0]!.metadata.labels).toEqual({ deployment: 'web-1' });
    await waitFor('hook pods removed', async () => api.list('pods', ns).length === 0, 5000);
    expect(
      api.requests.filter((r) => r.method === 'DELETE' && r.plural === 'pods').map((r) => r.name),
    ).toEqual(['web-1-hook-pre', 'web-1-hook-post']);
  });

  test('a Custom deployer pod runs as its service account and reads its Slipway token from a Secret, not its spec', async () => {
    const seen: { pod: KObject; env: Record<string, string> }[] = [];
    api.setPodRule((pod, env) => {
      seen.push({ pod, env });
      return { kind: 'exit', exitCode: 0, logs: `deploying with ${env.SLIPWAY_API_URL}` };
    });
    const token = `tok-${randomUUID()}`;
    const result = await target.runPod(
      {
        namespace: ns,
        name: 'web-2-deploy',
        image: 'deployer:1',
        env: [{ name: 'OPENSHIFT_DEPLOYMENT_NAME', value: 'web-2' }],
        labels: { deployment: 'web-2' },
        apiAccess: { url: 'https://slipway.example', token, serviceAccountName: 'deployer' },
      },
      { signal: live() },
    );
    expect(result).toEqual({ exitCode: 0, logs: 'deploying with https://slipway.example' });
    const { pod, env } = seen[0]!;
    expect(pod.spec.serviceAccountName).toBe('deployer');
    expect(pod.spec.containers[0].name).toBe('deployment');
    expect(env).toMatchObject({
      SLIPWAY_TOKEN: token,
      SLIPWAY_API_URL: 'https://slipway.example',
      OPENSHIFT_DEPLOYMENT_NAME: 'web-2',
    });
    expect(JSON.stringify(pod)).not.toContain(token);
    // The Secret is owned by the pod (garbage-collected if Slipway dies) and deleted afterwards.
    expect(api.requests.some((r) => r.method === 'PATCH' && r.plural === 'secrets')).toBe(true);
    await waitFor('secret removed', async () => api.list('secrets', ns).length === 0, 5000);
  });

  test('runPod replaces a pod of the same name left by an interrupted attempt, after it has stopped', async () => {
    api.seed({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-1-hook-pre', namespace: ns },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'lifecycle', image: 'web:1', env: [{ name: 'FAKE_RUN_MS', value: '60000' }] }],
      },
    });
    const result = await target.runPod(
      {
        namespace: ns,
        name: 'web-1-hook-pre',
        image: 'web:1',
        env: [{ name: 'FAKE_LOG', value: 'fresh run' }],
        labels: {},
      },
      { signal: live() },
    );
    expect(result).toEqual({ exitCode: 0, logs: 'fresh run' });
    expect(
      api.requests.filter((r) => r.method === 'POST' && r.plural === 'pods').map((r) => r.status),
    ).toEqual([409, 201]);
    const deletes = api.requests.filter((r) => r.method === 'DELETE' && r.name === 'web-1-hook-pre');
    expect(deletes[0]!.query.gracePeriodSeconds).toBeUndefined(); // stopped gracefully, not force-deleted
    // The new run started only once the leftover was gone.
    const created = api.requests.findIndex(
      (r) => r.method === 'POST' && r.plural === 'pods' && r.status === 201,
    );
    const goneSeen = api.requests.findIndex(
      (r, idx) =>
        idx > api.requests.indexOf(deletes[0]!) &&
        r.method === 'GET' &&
        r.name === 'web-1-hook-pre' &&
        r.status === 404,
    );
    expect(goneSeen).toBeGreaterThan(0);
    expect(goneSeen).toBeLessThan(created);
  });

  test('runPod fails fast when the pod cannot start (ImagePullBackOff)', async () => {
    await expect(
      target.runPod(
        {
          namespace: ns,
          name: 'web-1-hook-pre',
          image: 'registry.example/no-such-image:1',
          env: [],
          labels: {},
        },
        { signal: live() },
      ),
    ).rejects.toThrow(/pod web-1-hook-pre cannot start: ImagePullBackOff: Back-off pulling image/);
    await waitFor('pod removed', async () => api.list('pods', ns).length === 0, 5000);
  });

  test('an AbortSignal ends runPod’s wait and deletes the pod', async () => {
    const controller = new AbortController();
    const running = target.runPod(
      {
        namespace: ns,
        name: 'web-1-hook-pre',
        image: 'web:1',
        env: [{ name: 'FAKE_RUN_MS', value: '60000' }],
        labels: {},
      },
      { signal: controller.signal },
    );
    await waitFor(
      'pod running',
      async () => api.get('pods', ns, 'web-1-hook-pre')?.status?.phase === 'Running',
    );
    const started = Date.now();
    controller.abort(new Error('rollout cancelled'));
    await expect(running).rejects.toThrow('rollout cancelled');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(api.requests.some((r) => r.method === 'DELETE' && r.name === 'web-1-hook-pre')).toBe(true);
    await waitFor('pod removed', async () => !api.get('pods', ns, 'web-1-hook-pre'), 5000);
  });

  test('an AbortSignal ends scaleRevision’s wait', async () => {
    await api.stop();
    api = await FakeKubeApiServer.start({ namespaces: [ns], terminationMs: 60_000 }); // pods stay Terminating
    target = new KubernetesTarget({
      kubeConfig: loadKubeConfig({ kubeconfig: api.kubeconfigPath }),
      pollIntervalMs: 50,
    });
    await target.ensureRevision(revision('web:1', 1), { signal: live() });
    await target.scaleRevision(ns, 'web-1', 1, { signal: live() });
    const controller = new AbortController();
    const scaling = target.scaleRevision(ns, 'web-1', 0, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('worker shutting down')), 300);
    await expect(scaling).rejects.toThrow('worker shutting down');
  });

  test('runPod survives the server closing its watch', async () => {
    const running = target.runPod(
      {
        namespace: ns,
        name: 'web-1-hook-mid',
        image: 'web:1',
        env: [
          { name: 'FAKE_RUN_MS', value: '600' },
          { name: 'FAKE_EXIT_CODE', value: '7' },
        ],
        labels: {},
      },
      { signal: live() },
    );
    await waitFor(
      'pod running',
      async () => api.get('pods', ns, 'web-1-hook-mid')?.status?.phase === 'Running',
    );
    api.closeWatches();
    expect((await running).exitCode).toBe(7);
    const watches = api.requests.filter((r) => r.plural === 'pods' && r.query.watch === 'true');
    expect(watches.length).toBeGreaterThanOrEqual(2);
    expect(watches.every((w) => w.query.fieldSelector === 'metadata.name=web-1-hook-mid')).toBe(true);
  });

  test('applyService creates a Service, then replaces it keeping the cluster IP, without Slipway’s store metadata', async () => {
    const service: Resource = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'web',
        namespace: ns,
        uid: 'slipway-store-uid',
        resourceVersion: '42',
        creationTimestamp: '2020-01-01T00:00:00Z',
        labels: { app: 'web' },
      },
      spec: { selector: { deploymentconfig: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    };
    await target.applyService(service);
    const created = api.get('services', ns, 'web')!;
    expect(created.metadata.uid).not.toBe('slipway-store-uid');
    expect(created.spec.clusterIP).toMatch(/^10\.96\./);
    await target.applyService({
      ...service,
      spec: {
        selector: { deploymentconfig: 'web' },
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
      },
    });
    const replaced = api.get('services', ns, 'web')!;
    expect(replaced.spec.ports[0].targetPort).toBe('http');
    expect(replaced.spec.clusterIP).toBe(created.spec.clusterIP);
    expect(replaced.metadata.uid).toBe(created.metadata.uid);
    expect(
      api.requests
        .filter((r) => r.plural === 'services' && r.method !== 'GET')
        .map((r) => `${r.method} ${r.status}`),
    ).toEqual(['POST 201', 'PUT 200']);
    await target.deleteService(ns, 'web');
    expect(api.get('services', ns, 'web')).toBeUndefined();
    await target.deleteService(ns, 'web'); // already gone: not an error
  });

  test('applyService retries a 409 Conflict', async () => {
    const service: Resource = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: ns },
      spec: { ports: [{ port: 80 }] },
    };
    await target.applyService(service);
    api.failNext({ method: 'PUT', plural: 'services', name: 'web' }, 409);
    await target.applyService({ ...service, spec: { ports: [{ port: 81 }] } });
    expect(api.get('services', ns, 'web')!.spec.ports[0].port).toBe(81);
    expect(api.requests.filter((r) => r.method === 'PUT').map((r) => r.status)).toEqual([409, 200]);
  });

  test('404s: getRevision answers undefined, revisionStatus throws NotFoundError, a missing namespace says so', async () => {
    expect(await target.getRevision(ns, 'web-9')).toBeUndefined();
    await expect(target.revisionStatus(ns, 'web-9')).rejects.toThrow(NotFoundError);
    await expect(target.scaleRevision(ns, 'web-9', 1, { signal: live() })).rejects.toThrow(
      /replicationcontrollers "web-9" not found/,
    );
    const elsewhere = {
      ...revision('web:1', 1),
      metadata: { ...revision('web:1', 1).metadata, namespace: 'nowhere' },
    };
    await expect(target.ensureRevision(elsewhere, { signal: live() })).rejects.toThrow(
      /namespaces "nowhere" not found/,
    );
    await target.deleteRevision(ns, 'web-9', { signal: live() }); // nothing to delete: not an error
  });

  test('a revision scaled through the scale subresource (as a Custom deployer may) is seen by the target', async () => {
    await target.ensureRevision(revision('web:1', 1), { signal: live() });
    const core = target.clients.core;
    const scale = await core.readNamespacedReplicationControllerScale({ namespace: ns, name: 'web-1' });
    expect(scale.status?.selector).toBe('app=web,deployment=web-1,deploymentconfig=web');
    await core.replaceNamespacedReplicationControllerScale({
      namespace: ns,
      name: 'web-1',
      body: {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name: 'web-1', namespace: ns },
        spec: { replicas: 2 },
      },
    });
    await waitFor('2 ready', async () => (await target.revisionStatus(ns, 'web-1')).ready === 2);
    const status = await core.readNamespacedReplicationControllerStatus({ namespace: ns, name: 'web-1' });
    expect(status.status).toMatchObject({ replicas: 2, readyReplicas: 2, observedGeneration: 2 });
  });

  test('deleteRevision scales to 0, then deletes the ReplicationController', async () => {
    await target.ensureRevision(revision('web:1', 1), { signal: live() });
    await target.scaleRevision(ns, 'web-1', 2, { signal: live() });
    await target.deleteRevision(ns, 'web-1', { signal: live() });
    expect(api.get('replicationcontrollers', ns, 'web-1')).toBeUndefined();
    expect(api.list('pods', ns)).toHaveLength(0);
  });

  test('credentials the server refuses are an UnauthorizedError naming the kubeconfig', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 'wrong' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const stranger = new KubernetesTarget({ kubeConfig: kc });
    await expect(stranger.listRevisions(ns, 'web')).rejects.toThrow(UnauthorizedError);
    await expect(stranger.listRevisions(ns, 'web')).rejects.toThrow(
      /refused Slipway's credentials; check the user in SLIPWAY_KUBECONFIG/,
    );
  });

  test('an apps/v1 Deployment with the image.openshift.io/triggers annotation gets the new image', async () => {
    const deployment = (name: string, triggers: unknown[] | undefined): KObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name,
        namespace: ns,
        ...(triggers ? { annotations: { 'image.openshift.io/triggers': JSON.stringify(triggers) } } : {}),
      },
      spec: {
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [
              { name: 'web', image: 'web:old' },
              { name: 'sidecar', image: 'proxy:1' },
            ],
          },
        },
      },
    });
    api.seed(
      deployment('shop', [
        {
          from: { kind: 'ImageStreamTag', name: 'web:latest' },
          fieldPath: 'spec.template.spec.containers[?(@.name=="web")].image',
        },
        {
          from: { kind: 'ImageStreamTag', name: 'web:latest' },
          fieldPath: 'spec.template.spec.containers[1].image',
          paused: true,
        },
      ]),
    );
    api.seed(
      deployment('blog', [
        {
          from: { kind: 'ImageStreamTag', name: 'blog:latest' },
          fieldPath: 'spec.template.spec.containers[0].image',
        },
      ]),
    );
    api.seed(deployment('plain', undefined));
    api.seed(
      deployment('broken', [
        { from: { kind: 'ImageStreamTag', name: 'web' }, fieldPath: 'spec.containers[0].image' },
      ]),
    );
    api.failNext({ method: 'PATCH', plural: 'deployments', name: 'shop' }, 409);

    const image = `127.0.0.1:5000/${ns}/web@sha256:${'b'.repeat(64)}`;
    const result = await updateAnnotatedDeployments({
      kubeConfig: target.clients.kubeConfig,
      namespace: ns,
      imageStreamTag: 'web:latest',
      image,
    });
    expect(result.updated).toEqual([
      {
        namespace: ns,
        name: 'shop',
        changes: [{ init: false, container: 'web', from: 'web:old', to: image }],
      },
    ]);
    expect(result.errors).toEqual([
      expect.stringMatching(/Deployment .*\/broken: fieldPath "spec.containers\[0\].image" is not valid/),
    ]);
    const shop = api.get('deployments', ns, 'shop')!;
    expect(shop.spec.template.spec.containers).toEqual([
      { name: 'web', image },
      { name: 'sidecar', image: 'proxy:1' },
    ]);
    expect(shop.metadata.generation).toBe(2);
    expect(api.get('deployments', ns, 'blog')!.spec.template.spec.containers[0].image).toBe('web:old');
    const patches = api.requests.filter((r) => r.method === 'PATCH' && r.plural === 'deployments');
    expect(patches.map((r) => `${r.contentType} ${r.status}`)).toEqual([
      'application/strategic-merge-patch+json 409',
      'application/strategic-merge-patch+json 200',
    ]);
    // Current already: nothing to do.
    expect(
      (
        await updateAnnotatedDeployments({
          kubeConfig: target.clients.kubeConfig,
          namespace: ns,
          imageStreamTag: 'web',
          image,
        })
      ).updated,
    ).toEqual([]);
  });
});

describe('rollouts on the Kubernetes target (stand-in API server; a real Redis for Slipway’s store)', () => {
  let redis: RedisHandle;
  let client: Redis;
  let store: RedisResourceStore;
  let logs: RedisBuildLogStore;
  let prefix: string;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });
  beforeEach(() => {
    prefix = `k8s-${randomUUID()}`;
    store = new RedisResourceStore(client, prefix);
    logs = new RedisBuildLogStore(client, prefix);
  });

  const deps = (): RolloutDeps => ({
    store,
    target,
    logs,
    logger: createLogger('silent'),
    issueToken: async () => `tok-${randomUUID()}`,
    apiUrl: () => 'http://127.0.0.1:8080',
    cancelPollMs: 200,
    hookRetryDelayMs: () => 10,
  });

  /** What the DeploymentConfig controller does for rollout N, without the queue: latestVersion, revision, run. */
  async function rollout(dc: DeploymentConfig, version: number): Promise<string> {
    if (!(await store.get(DEPLOYMENT_CONFIG, ns, 'web')))
      await store.create(DEPLOYMENT_CONFIG, dc as unknown as Resource);
    const stored = (await store.update(DEPLOYMENT_CONFIG, ns, 'web', (cur) => ({
      ...cur,
      spec: dc.spec as unknown as Record<string, unknown>,
      status: { ...(cur.status ?? {}), latestVersion: version },
    }))) as unknown as DeploymentConfig;
    await target.ensureRevision(revisionFor(stored, version, [{ type: 'ConfigChange' }]), { signal: live() });
    const outcome = await runRollout(deps(), { namespace: ns, name: 'web', version, signal: live() });
    expect(outcome.kind).toBe('finished');
    return outcome.kind === 'finished' ? outcome.phase : 'waiting';
  }

  /** Samples the stand-in's pods while `work` runs: ready and existing pods per revision. */
  async function sampling<T>(work: () => Promise<T>): Promise<{
    result: T;
    samples: { ready: number; active: number; byRevision: Record<string, number> }[];
  }> {
    const samples: { ready: number; active: number; byRevision: Record<string, number> }[] = [];
    const timer = setInterval(() => {
      const pods = api.list('pods', ns);
      const active = pods.filter((p) => !p.metadata.deletionTimestamp);
      const byRevision: Record<string, number> = {};
      for (const p of pods)
        byRevision[p.metadata.labels!.deployment!] = (byRevision[p.metadata.labels!.deployment!] ?? 0) + 1;
      const ready = active.filter((p) =>
        p.status?.conditions?.some(
          (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
        ),
      ).length;
      samples.push({ ready, active: active.length, byRevision });
    }, 25);
    try {
      return { result: await work(), samples };
    } finally {
      clearInterval(timer);
    }
  }

  const rolling = {
    type: 'Rolling' as const,
    rollingParams: { updatePeriodSeconds: 1, intervalSeconds: 1, timeoutSeconds: 30 },
  };

  test('Rolling from revision 1 to 2 never drops below full readiness (maxUnavailable 25% of 3 = 0) nor surges past 4', async () => {
    expect(await rollout(webConfig('registry.example/web@sha256:1111', { strategy: rolling }), 1)).toBe(
      'Complete',
    );
    expect((await target.revisionStatus(ns, 'web-1')).ready).toBe(3);
    const { result, samples } = await sampling(() =>
      rollout(webConfig('registry.example/web@sha256:2222', { strategy: rolling }), 2),
    );
    expect(result).toBe('Complete');
    expect(samples.length).toBeGreaterThan(20);
    expect(Math.min(...samples.map((s) => s.ready))).toBeGreaterThanOrEqual(3);
    expect(Math.max(...samples.map((s) => s.active))).toBeLessThanOrEqual(4);
    // Both revisions served side by side at some point: it really rolled.
    expect(samples.some((s) => (s.byRevision['web-1'] ?? 0) > 0 && (s.byRevision['web-2'] ?? 0) > 0)).toBe(
      true,
    );
    const [one, two] = await target.listRevisions(ns, 'web');
    expect(one!.spec.replicas).toBe(0);
    expect(two!.spec.replicas).toBe(3);
    expect(two!.metadata.annotations?.[REVISION_ANNOTATIONS.phase]).toBe('Complete');
    expect(
      activePods('web-2').every((p) => p.spec.containers[0].image === 'registry.example/web@sha256:2222'),
    ).toBe(true);
  });

  test('Recreate: revision 1 is gone before any pod of revision 2 exists', async () => {
    const recreate = { type: 'Recreate' as const, recreateParams: { timeoutSeconds: 30 } };
    expect(await rollout(webConfig('web:1', { strategy: recreate }), 1)).toBe('Complete');
    const { result, samples } = await sampling(() => rollout(webConfig('web:2', { strategy: recreate }), 2));
    expect(result).toBe('Complete');
    expect(samples.some((s) => (s.byRevision['web-1'] ?? 0) > 0 && (s.byRevision['web-2'] ?? 0) > 0)).toBe(
      false,
    );
    expect(activePods('web-2')).toHaveLength(3);
    expect(api.list('pods', ns).filter((p) => p.metadata.labels?.deployment === 'web-1')).toHaveLength(0);
  });

  test('a revision 3 that never becomes ready fails, and revision 2 keeps serving at full scale', async () => {
    const quick = {
      type: 'Rolling' as const,
      rollingParams: { updatePeriodSeconds: 1, intervalSeconds: 1, timeoutSeconds: 2 },
    };
    expect(await rollout(webConfig('web:1', { strategy: quick }), 1)).toBe('Complete');
    expect(await rollout(webConfig('web:2', { strategy: quick }), 2)).toBe('Complete');
    const { result, samples } = await sampling(() =>
      rollout(webConfig('registry.example/never-ready:3', { strategy: quick }), 3),
    );
    expect(result).toBe('Failed');
    expect(Math.min(...samples.map((s) => s.ready))).toBeGreaterThanOrEqual(3);
    const three = (await target.getRevision(ns, 'web-3'))!;
    expect(three.metadata.annotations).toMatchObject({
      [REVISION_ANNOTATIONS.phase]: 'Failed',
      [REVISION_ANNOTATIONS.failureReason]: 'ProgressDeadlineExceeded',
    });
    expect(three.spec.replicas).toBe(0);
    expect(await target.revisionStatus(ns, 'web-2')).toMatchObject({ desired: 3, current: 3, ready: 3 });
    const dc = (await store.get(DEPLOYMENT_CONFIG, ns, 'web')) as unknown as DeploymentConfig;
    const progressing = dc.status?.conditions?.find((c) => c.type === 'Progressing');
    expect(progressing).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect(progressing?.message).toMatch(/containers with unready status: \[web\]/);
  });

  test('Custom: the deployer pod runs as the deployer service account and does the rollout through the cluster', async () => {
    const seen: { pod: KObject; env: Record<string, string> }[] = [];
    const scaling: Promise<void>[] = [];
    const rule: PodRule = (pod, env) => {
      if (!pod.metadata.labels?.['openshift.io/deployer-pod-for.name']) return defaultPodRule(pod, env);
      seen.push({ pod, env });
      // The deployer scales its revision itself, as a real one would through the cluster's API.
      scaling.push(
        target.scaleRevision(ns, env.OPENSHIFT_DEPLOYMENT_NAME!, Number(env.SLIPWAY_DESIRED_REPLICAS), {
          signal: live(),
        }),
      );
      return { kind: 'exit', exitCode: 0, logs: 'scaled', runMs: 500 };
    };
    api.setPodRule(rule);
    const custom = {
      type: 'Custom' as const,
      customParams: { image: 'registry.example/deployer:1', command: ['/deploy'] },
    };
    expect(await rollout(webConfig('web:1', { strategy: custom, replicas: 2 }), 1)).toBe('Complete');
    await Promise.all(scaling);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.pod.metadata.name).toBe('web-1-deploy');
    expect(seen[0]!.pod.spec.serviceAccountName).toBe('deployer');
    expect(seen[0]!.env.SLIPWAY_TOKEN).toMatch(/^tok-/);
    expect(activePods('web-1')).toHaveLength(2);
  });

  test('createDeployTarget picks Kubernetes when SLIPWAY_KUBECONFIG is set, Docker otherwise', async () => {
    const localDeps = {
      docker: new Docker(),
      store,
      states: new ReplicaStateStore(client, prefix),
      logger: createLogger('silent'),
      env: {},
    };
    const kube = createDeployTarget({ kubeconfig: api.kubeconfigPath }, localDeps);
    expect(kube.name).toBe('kubernetes');
    await kube.ensureRevision(revision('web:1', 1), { signal: live() });
    expect(api.get('replicationcontrollers', ns, 'web-1')).toBeDefined();
    await kube.close();
    expect(createDeployTarget({}, localDeps).name).toBe('docker');
    expect(() => createDeployTarget({ kubeconfig: '/nonexistent/kubeconfig' }, localDeps)).toThrow(
      /SLIPWAY_KUBECONFIG: \/nonexistent\/kubeconfig does not exist/,
    );
  });
});
