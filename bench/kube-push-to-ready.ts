/**
 * Push to Ready on a real Kubernetes cluster (issue 11), and a Rolling rollout of 3
 * replicas there. Everything real: Redis, the registry, the API server and a build worker
 * and rollout worker wired by src/runtime.ts in this process; a git daemon; the kit's
 * API server, controller-manager, scheduler and kubelet (or SLIPWAY_TEST_KUBECONFIG's
 * cluster, with SLIPWAY_TEST_REGISTRY). Slipway holds only the Role of
 * docs/kubernetes-rbac.yaml.
 *
 * The app is the cluster tests' busybox httpd (Docker strategy, one RUN line per push),
 * deployed by a DeploymentConfig (Rolling, 3 replicas, exec readiness probe every second)
 * that follows `app:latest`. A first push is deployed and not measured. Then BENCH_RUNS
 * times (default 3): commit, POST a signed GitHub push to the BuildConfig's webhook, and
 * sample the store and the API server every 100 ms: build Complete, revision made, all 3
 * pods of the new revision Ready with the new digest (read from the API server), and the
 * revision Complete. Then BENCH_RUNS `rollout latest` of the same image: from the request
 * to the revision Complete, with the fewest ready and most existing pods seen meanwhile.
 *
 *   bash ../shared/k8s/up.sh && npm run bench:kube        # BENCH_RUNS=5 npm run bench:kube
 */
import { performance } from 'node:perf_hooks';
import type { Resource } from '../src/core/resource.js';
import { startDeployments, type DeploymentsHandle } from '../src/runtime.js';
import {
  WGET_PROBE,
  adminClients,
  buildTestImages,
  cluster,
  createTestNamespace,
  listPods,
  nodeRegistry,
  podReady,
  removeBuildImages,
} from '../test/support/kube-cluster.js';
import { stopSharedRegistry } from '../test/support/kube-teardown.js';
import { BC_PATH, IS_PATH, startSlipway } from '../test/support/slipway.js';
import { startGitDaemon, waitFor } from '../test/support/stack.js';
import { githubHeaders, post, pushPayload } from '../test/support/webhooks.js';

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const SECRET = `bench-${Math.random().toString(36).slice(2)}`;
const SAMPLE_MS = 100;

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const secs = (ms: number | undefined): string => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

async function main(): Promise<void> {
  if (!cluster) {
    throw new Error('no cluster: start the kit (bash ../shared/k8s/up.sh) or set SLIPWAY_TEST_KUBECONFIG');
  }
  process.env.SLIPWAY_KUBE_RUN_ID ??= `bench-${process.pid}`;
  const admin = adminClients();
  const registry = await nodeRegistry();
  const images = buildTestImages(registry);
  const space = await createTestNamespace(admin, 'slipway-bench');
  const ns = space.name;
  const git = await startGitDaemon();
  const s = await startSlipway({ workers: 1, registry, config: { kubeconfig: space.slipwayKubeconfig } });
  let deployments: DeploymentsHandle | undefined;
  const DC = `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs`;
  const RC = (name: string): string => `/api/v1/namespaces/${ns}/replicationcontrollers/${name}`;
  try {
    deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
    await s.apiJson('POST', BC_PATH(ns), {
      apiVersion: 'build.openshift.io/v1',
      kind: 'BuildConfig',
      metadata: { name: 'app', namespace: ns },
      spec: {
        source: { git: { uri: git.url('app'), ref: 'main' } },
        strategy: { type: 'Docker', dockerStrategy: {} },
        output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } },
        triggers: [{ type: 'GitHub', github: { secret: SECRET } }],
      },
    });
    await s.apiJson('POST', DC, {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 3,
        selector: { app: 'web' },
        strategy: { type: 'Rolling', rollingParams: { timeoutSeconds: 120 } },
        triggers: [
          { type: 'ConfigChange' },
          {
            type: 'ImageChange',
            imageChangeParams: {
              automatic: true,
              containerNames: ['web'],
              from: { kind: 'ImageStreamTag', name: 'app:latest' },
            },
          },
        ],
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{ name: 'web', image: ' ', readinessProbe: WGET_PROBE }],
          },
        },
      },
    });

    const push = async (n: number): Promise<void> => {
      const sha = git.commit('app', {
        Dockerfile: `FROM ${images.localTags[0]}\nRUN echo push-${n} > /version\n`,
      });
      const body = JSON.stringify(
        pushPayload({ cloneUrl: git.url('app'), ref: 'refs/heads/main', after: sha }),
      );
      const res = await post(
        `${s.http.url}${BC_PATH(ns, 'app')}/webhooks/${SECRET}/github`,
        body,
        await githubHeaders('push', body),
      );
      if (res.status !== 200) throw new Error(`push ${n}: ${res.status} ${JSON.stringify(res.body)}`);
    };
    const dc = async (): Promise<Resource & { status: { latestVersion: number } }> =>
      (await s.apiJson('GET', `${DC}/web`)) as Resource & { status: { latestVersion: number } };
    const phaseOf = async (rev: string): Promise<string | undefined> => {
      const res = await s.api('GET', RC(rev));
      return res.ok
        ? ((await res.json()) as Resource).metadata.annotations?.['openshift.io/deployment.phase']
        : undefined;
    };
    const readyWith = async (rev: string, digest: string | undefined): Promise<boolean> => {
      const pods = (await listPods(admin, ns, `deployment=${rev}`)).filter(
        (p) => !p.metadata?.deletionTimestamp,
      );
      return (
        pods.length === 3 &&
        pods.every(
          (p) =>
            podReady(p) && (!digest || p.status?.containerStatuses?.[0]?.imageID?.includes(digest) === true),
        )
      );
    };

    // Warm-up: the first build and rollout (the kubelet pulls the base layers once).
    await push(0);
    await waitFor(
      'the first revision Complete',
      async () => (await phaseOf('web-1')) === 'Complete',
      300_000,
      250,
    );
    process.stderr.write('web-1 is Complete; measuring\n');

    const pushes: Record<string, number | undefined>[] = [];
    for (let i = 1; i <= RUNS; i++) {
      const revision = `web-${(await dc()).status.latestVersion + 1}`;
      const t0 = performance.now();
      await push(i);
      const seen: Record<string, number | undefined> = { webhook: performance.now() - t0 };
      let digest: string | undefined;
      const deadline = Date.now() + 300_000;
      while ((seen.ready === undefined || seen.complete === undefined) && Date.now() < deadline) {
        const at = performance.now() - t0;
        if (seen.build === undefined) {
          const stream = (await s.apiJson('GET', IS_PATH(ns, 'app'))) as {
            status?: { tags?: { tag: string; items: { image: string }[] }[] };
          };
          const latest = stream.status?.tags?.find((t) => t.tag === 'latest')?.items.length ?? 0;
          if (latest > i) seen.build = at;
        }
        const phase = await phaseOf(revision);
        if (phase && seen.revision === undefined) seen.revision = at;
        if (phase === 'Failed') throw new Error(`${revision} failed`);
        if (phase && !digest) {
          const rc = (await s.apiJson('GET', RC(revision))) as {
            spec: { template: { spec: { containers: { image: string }[] } } };
          };
          digest = rc.spec.template.spec.containers[0]!.image.split('@')[1];
        }
        if (phase && seen.ready === undefined && (await readyWith(revision, digest))) seen.ready = at;
        if (phase === 'Complete' && seen.complete === undefined) seen.complete = at;
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
      pushes.push(seen);
      process.stderr.write(`push ${i}: ${JSON.stringify(seen)}\n`);
    }

    const rolls: { complete: number; minReady: number; maxActive: number }[] = [];
    for (let i = 1; i <= RUNS; i++) {
      const revision = `web-${(await dc()).status.latestVersion + 1}`;
      let minReady = Infinity;
      let maxActive = 0;
      const t0 = performance.now();
      const res = await s.api('POST', `${DC}/web/instantiate`, {
        kind: 'DeploymentRequest',
        apiVersion: 'apps.openshift.io/v1',
        name: 'web',
        latest: true,
        force: true,
      });
      if (res.status !== 201) throw new Error(`rollout latest: ${res.status} ${await res.text()}`);
      for (;;) {
        const pods = (await listPods(admin, ns, 'deploymentconfig=web')).filter(
          (p) => !p.metadata?.deletionTimestamp,
        );
        minReady = Math.min(minReady, pods.filter(podReady).length);
        maxActive = Math.max(maxActive, pods.length);
        if ((await phaseOf(revision)) === 'Complete') break;
        if (performance.now() - t0 > 300_000) throw new Error(`${revision} did not complete in 300 s`);
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
      rolls.push({ complete: performance.now() - t0, minReady, maxActive });
      process.stderr.write(`rollout ${i}: ${JSON.stringify(rolls[rolls.length - 1])}\n`);
    }

    const col = (k: string): string =>
      secs(median(pushes.map((p) => p[k]).filter((v): v is number => v !== undefined)));
    console.log(
      `\npush → Ready on ${cluster.kind === 'kit' ? 'the kit' : 'SLIPWAY_TEST_KUBECONFIG'} (medians of ${RUNS}):`,
    );
    console.log(
      '| webhook answered | image in the stream | revision made | 3 pods Ready (new digest) | revision Complete |',
    );
    console.log('| --- | --- | --- | --- | --- |');
    console.log(
      `| ${col('webhook')} | ${col('build')} | ${col('revision')} | ${col('ready')} | ${col('complete')} |`,
    );
    console.log(`\nRolling of 3 replicas (rollout latest, medians of ${RUNS}):`);
    console.log(
      `request → Complete ${secs(median(rolls.map((r) => r.complete)))}; fewest ready pods seen ${Math.min(
        ...rolls.map((r) => r.minReady),
      )}, most pods seen ${Math.max(...rolls.map((r) => r.maxActive))}`,
    );
  } finally {
    await deployments?.close();
    await s.stop();
    await git.stop();
    await space.delete();
    removeBuildImages(registry.host, ns);
    images.remove();
    stopSharedRegistry();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
