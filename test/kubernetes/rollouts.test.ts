/**
 * Rollouts on a REAL cluster: Slipway's rollout controller and strategies (with a real
 * Redis for its store) drive ReplicationControllers whose pods the real controller-manager,
 * scheduler and kubelet run, Ready by an exec probe calling the app inside the pod.
 * Every count asserted is sampled from the API server while the rollout runs.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import { createLogger } from '../../src/core/logger.js';
import type { Resource } from '../../src/core/resource.js';
import { RedisBuildLogStore } from '../../src/store/build-logs.js';
import { RedisResourceStore } from '../../src/store/resource-store.js';
import { revisionFor } from '../../src/strategies/deployment-config.js';
import { loadKubeConfig } from '../../src/strategies/kubernetes/kube-client.js';
import { KubernetesTarget } from '../../src/strategies/kubernetes/kubernetes-target.js';
import { DEPLOYMENT_CONFIG, runRollout, type RolloutDeps } from '../../src/strategies/rollout.js';
import { REVISION_ANNOTATIONS } from '../../src/strategies/target.js';
import {
  WGET_PROBE,
  adminClients,
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
import { startRelay } from '../support/relay.js';
import { startRedis, tempDir, waitFor, type RedisHandle, type RegistryHandle } from '../support/stack.js';

const live = (): AbortSignal => new AbortController().signal;

interface Sample {
  /** Ready pods not being deleted, all revisions. */
  ready: number;
  /** Pods not being deleted, all revisions. */
  active: number;
  byRevision: Record<string, number>;
}

describeOnCluster('rollouts on a real cluster', () => {
  let admin: AdminClients;
  let registry: RegistryHandle;
  let images: TestImages;
  let redis: RedisHandle;
  let client: Redis;
  let space: TestNamespace;
  let ns: string;
  let target: KubernetesTarget;
  let store: RedisResourceStore;
  let logs: RedisBuildLogStore;
  let ran = 0;

  beforeAll(async () => {
    admin = adminClients();
    registry = await nodeRegistry();
    images = buildTestImages(registry);
    redis = await startRedis();
    client = new Redis(redis.url);
  }, 300_000);
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
    images?.remove();
    await registry?.stop();
    recordRun('rollouts', ran);
  });
  beforeEach(async () => {
    space = await createTestNamespace(admin);
    ns = space.name;
    target = new KubernetesTarget({
      kubeConfig: loadKubeConfig({ kubeconfig: space.slipwayKubeconfig }),
      pollIntervalMs: 200,
      terminationSlackMs: 5000,
    });
    const prefix = `k8s-${randomUUID()}`;
    store = new RedisResourceStore(client, prefix);
    logs = new RedisBuildLogStore(client, prefix);
  });
  afterEach(async () => {
    await target.close();
    await space.delete();
    ran++;
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

  function webConfig(
    image: string,
    spec: Partial<DeploymentConfig['spec']> = {},
    env: Record<string, string> = {},
    extra: { volumes?: unknown[]; volumeMounts?: unknown[] } = {},
  ): DeploymentConfig {
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
            terminationGracePeriodSeconds: 1,
            ...(extra.volumes ? { volumes: extra.volumes } : {}),
            containers: [
              {
                name: 'web',
                image,
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: WGET_PROBE,
                env: Object.entries(env).map(([name, value]) => ({ name, value })),
                ...(extra.volumeMounts ? { volumeMounts: extra.volumeMounts } : {}),
              },
            ],
          },
        },
        ...spec,
      },
    } as DeploymentConfig;
  }

  /** What the DeploymentConfig controller does for rollout N, without the queue. */
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

  /** Samples the namespace's pods from the API server (admin credentials) while `work` runs. */
  async function sampling<T>(work: () => Promise<T>): Promise<{ result: T; samples: Sample[] }> {
    const samples: Sample[] = [];
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const pods = await listPods(admin, ns, 'deploymentconfig=web');
        const active = pods.filter((p) => !p.metadata?.deletionTimestamp);
        const byRevision: Record<string, number> = {};
        for (const p of active) {
          const rev = p.metadata?.labels?.deployment ?? '?';
          byRevision[rev] = (byRevision[rev] ?? 0) + 1;
        }
        samples.push({ ready: active.filter(podReady).length, active: active.length, byRevision });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      return { result: await work(), samples };
    } finally {
      stop = true;
      await loop;
    }
  }

  const rolling = {
    type: 'Rolling' as const,
    rollingParams: { updatePeriodSeconds: 1, intervalSeconds: 1, timeoutSeconds: 90 },
  };

  async function digestsServing(rev: string): Promise<string[]> {
    const pods = (await listPods(admin, ns, `deployment=${rev}`)).filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
    return pods.map((p) => `${podReady(p)} ${p.status?.containerStatuses?.[0]?.imageID ?? ''}`);
  }

  test('Rolling 1 → 2 with 3 replicas: never fewer than 3 ready pods, never more than 4, from real readiness', async () => {
    expect(await rollout(webConfig(images.v1, { strategy: rolling }), 1)).toBe('Complete');
    expect(await target.revisionStatus(ns, 'web-1')).toMatchObject({ desired: 3, ready: 3 });
    const { result, samples } = await sampling(() => rollout(webConfig(images.v2, { strategy: rolling }), 2));
    expect(result).toBe('Complete');
    expect(samples.length).toBeGreaterThan(10);
    // maxUnavailable 25% of 3 rounds down to 0, maxSurge 25% of 3 rounds up to 1.
    expect(Math.min(...samples.map((s) => s.ready))).toBeGreaterThanOrEqual(3);
    expect(Math.max(...samples.map((s) => s.active))).toBeLessThanOrEqual(4);
    // It really rolled: both revisions had pods at once, one step at a time.
    expect(samples.some((s) => (s.byRevision['web-1'] ?? 0) > 0 && (s.byRevision['web-2'] ?? 0) > 0)).toBe(
      true,
    );
    const [one, two] = await target.listRevisions(ns, 'web');
    expect(one!.spec.replicas).toBe(0);
    expect(two!.spec.replicas).toBe(3);
    expect(two!.metadata.annotations?.[REVISION_ANNOTATIONS.phase]).toBe('Complete');
    const v2 = images.v2.split('@')[1]!;
    const serving = await digestsServing('web-2');
    expect(serving).toHaveLength(3);
    for (const line of serving) expect(line).toMatch(new RegExp(`^true .*${v2}$`));
    expect(await listPods(admin, ns, 'deployment=web-1')).toHaveLength(0);
  }, 240_000);

  test('Recreate with pre, mid and post hooks as real pods: revision 1 gone before revision 2 has a pod', async () => {
    const hook = (stage: string, failurePolicy: 'Abort' | 'Ignore' = 'Abort', fail = false) => ({
      failurePolicy,
      execNewPod: {
        containerName: 'web',
        command: [
          'sh',
          '-c',
          `echo "${stage} $OPENSHIFT_DEPLOYMENT_NAME in $OPENSHIFT_DEPLOYMENT_NAMESPACE"${fail ? '; exit 9' : ''}`,
        ],
      },
    });
    const recreate = {
      type: 'Recreate' as const,
      recreateParams: {
        timeoutSeconds: 90,
        pre: hook('pre'),
        mid: hook('mid'),
        post: hook('post', 'Ignore', true),
      },
    };
    expect(await rollout(webConfig(images.v1, { strategy: recreate, replicas: 2 }), 1)).toBe('Complete');
    const { result, samples } = await sampling(() =>
      rollout(webConfig(images.v2, { strategy: recreate, replicas: 2 }), 2),
    );
    expect(result).toBe('Complete');
    expect(samples.some((s) => (s.byRevision['web-1'] ?? 0) > 0 && (s.byRevision['web-2'] ?? 0) > 0)).toBe(
      false,
    );
    expect(await target.revisionStatus(ns, 'web-2')).toMatchObject({ desired: 2, ready: 2 });
    const log = (await logs.readLog(ns, 'web-2')).lines.join('\n');
    // The hooks' own output, from their pods' logs, in order around the scale-down.
    expect(log).toContain(`pre web-2 in ${ns}`);
    expect(log).toContain(`mid web-2 in ${ns}`);
    expect(log.indexOf(`pre web-2`)).toBeLessThan(log.indexOf('Scaling web-1 down to 0'));
    expect(log.indexOf('Scaling web-1 down to 0')).toBeLessThan(log.indexOf(`mid web-2`));
    expect(log.indexOf(`mid web-2`)).toBeLessThan(log.indexOf('Scaling web-2 to 2'));
    // The post hook failed with Ignore: said, and the rollout still completed.
    expect(log).toMatch(/post hook for web-2 failed: exit code 9.*ignor/i);
    // Hook pods are removed afterwards.
    expect((await listPods(admin, ns)).filter((p) => p.metadata?.name?.includes('-hook-'))).toEqual([]);
  }, 240_000);

  test('a pre hook with Retry that fails once succeeds on its second pod; one with Abort fails the rollout and revision 1 keeps serving', async () => {
    if (cluster?.kind !== 'kit') {
      // The first attempt leaves a mark on the node's disk; only on the kit is the node this machine.
      return;
    }
    const marks = `/tmp/slipway-kube-hooks-${ns}`;
    const volumes = [{ name: 'marks', hostPath: { path: marks, type: 'DirectoryOrCreate' } }];
    const volumeMounts = [{ name: 'marks', mountPath: '/marks' }];
    try {
      const retry = {
        type: 'Rolling' as const,
        rollingParams: {
          ...rolling.rollingParams,
          pre: {
            failurePolicy: 'Retry' as const,
            execNewPod: {
              containerName: 'web',
              volumes: ['marks'],
              command: [
                'sh',
                '-c',
                'echo "attempt by $(hostname)" >> /marks/log; if [ ! -f /marks/tried ]; then touch /marks/tried; exit 7; fi',
              ],
            },
          },
        },
      };
      const cfg = (image: string, strategy: DeploymentConfig['spec']['strategy']) =>
        webConfig(image, { strategy, replicas: 2 }, {}, { volumes, volumeMounts });
      expect(await rollout(cfg(images.v1, retry), 1)).toBe('Complete');
      expect(readFileSync(`${marks}/log`, 'utf8').trim().split('\n')).toHaveLength(2);
      const log1 = (await logs.readLog(ns, 'web-1')).lines.join('\n');
      expect(log1).toContain('pre hook for web-1 failed: exit code 7; retrying');
      expect(log1).toContain('Running pre hook (attempt 2/5)');

      const abort = {
        type: 'Rolling' as const,
        rollingParams: {
          ...rolling.rollingParams,
          pre: {
            failurePolicy: 'Abort' as const,
            execNewPod: { containerName: 'web', command: ['sh', '-c', 'echo migration failed >&2; exit 3'] },
          },
        },
      };
      const before = (await listPods(admin, ns, 'deployment=web-1')).map((p) => p.metadata?.uid).sort();
      expect(await rollout(cfg(images.v2, abort), 2)).toBe('Failed');
      const two = (await target.getRevision(ns, 'web-2'))!;
      expect(two.metadata.annotations?.[REVISION_ANNOTATIONS.failureReason]).toBe('HookFailed');
      const dc = (await store.get(DEPLOYMENT_CONFIG, ns, 'web')) as unknown as DeploymentConfig;
      expect(dc.status?.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({
        status: 'False',
        reason: 'HookFailed',
        message: 'pre hook for web-2 failed: exit code 3: migration failed',
      });
      // The serving pods are the same pods, untouched; revision 2 never had one.
      expect((await listPods(admin, ns, 'deployment=web-1')).map((p) => p.metadata?.uid).sort()).toEqual(
        before,
      );
      expect(await listPods(admin, ns, 'deployment=web-2')).toHaveLength(0);
    } finally {
      if (existsSync(marks)) rmSync(marks, { recursive: true, force: true });
    }
  }, 240_000);

  test('a revision that never becomes ready fails on its deadline and revision 1 is scaled back: 3 ready pods throughout', async () => {
    const quick = {
      type: 'Rolling' as const,
      rollingParams: { updatePeriodSeconds: 1, intervalSeconds: 1, timeoutSeconds: 10 },
    };
    expect(await rollout(webConfig(images.v1, { strategy: quick }), 1)).toBe('Complete');
    const { result, samples } = await sampling(() =>
      rollout(webConfig(images.v2, { strategy: quick }, { MODE: 'never-ready' }), 2),
    );
    expect(result).toBe('Failed');
    expect(Math.min(...samples.map((s) => s.ready))).toBeGreaterThanOrEqual(3);
    // The never-ready pod really ran: the kubelet started it and its probe failed.
    expect(samples.some((s) => (s.byRevision['web-2'] ?? 0) > 0)).toBe(true);
    const two = (await target.getRevision(ns, 'web-2'))!;
    expect(two.metadata.annotations).toMatchObject({
      [REVISION_ANNOTATIONS.phase]: 'Failed',
      [REVISION_ANNOTATIONS.failureReason]: 'ProgressDeadlineExceeded',
    });
    expect(two.spec.replicas).toBe(0);
    expect(await target.revisionStatus(ns, 'web-1')).toMatchObject({ desired: 3, current: 3, ready: 3 });
    const dc = (await store.get(DEPLOYMENT_CONFIG, ns, 'web')) as unknown as DeploymentConfig;
    const progressing = dc.status?.conditions?.find((c) => c.type === 'Progressing');
    expect(progressing).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect(progressing?.message).toMatch(/containers with unready status: \[web\]/);
  }, 240_000);

  test('the API server out of reach for 4 s while the rollout waits for readiness: the rollout waits, then completes', async () => {
    // Slipway reaches the API server through the relay only.
    const direct = loadKubeConfig({ kubeconfig: space.slipwayKubeconfig });
    const server = new URL(direct.getCurrentCluster()!.server);
    // The API server out of reach, as in an upgrade, without touching the shared cluster.
    const relay = await startRelay({ host: server.hostname, port: Number(server.port || 443) });
    const relayUrl = `https://127.0.0.1:${relay.port}`;
    const relayed = join(tempDir('slipway-relayed-'), 'kubeconfig');
    writeFileSync(
      relayed,
      readFileSync(space.slipwayKubeconfig, 'utf8').split(server.origin).join(relayUrl),
      { mode: 0o600 },
    );
    await target.close();
    target = new KubernetesTarget({
      kubeConfig: loadKubeConfig({ kubeconfig: relayed }),
      pollIntervalMs: 200,
      terminationSlackMs: 5000,
    });
    const dc = webConfig(images.v1, { replicas: 2, strategy: rolling });
    // Ready 10 s after start: the outage lands while the rollout waits for readiness.
    dc.spec.template!.spec!.containers[0]!.readinessProbe = { ...WGET_PROBE, initialDelaySeconds: 10 };
    const done = rollout(dc, 1);
    await waitFor(
      'a running, unready pod of web-1',
      async () => {
        const pods = await listPods(admin, ns, 'deployment=web-1');
        return pods.some((p) => p.status?.phase === 'Running' && !podReady(p));
      },
      90_000,
      200,
    );
    await relay.cut();
    await new Promise((r) => setTimeout(r, 4000));
    await relay.restore();

    try {
      expect(await done).toBe('Complete');
      expect(await target.revisionStatus(ns, 'web-1')).toMatchObject({ desired: 2, ready: 2 });
    } finally {
      await target.close();
      await relay.close();
    }
    const log = (await logs.readLog(ns, 'web-1')).lines.join('\n');
    expect(log).toMatch(/The kubernetes target is not answering \(.*\); waiting up to 90 s for it/);
    expect(log).toMatch(/The kubernetes target answers again after \d+\.\d s/);
  }, 240_000);
});
