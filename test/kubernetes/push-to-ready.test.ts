/**
 * The whole path on a REAL cluster, through Slipway's runtime as a user runs it: a GitHub
 * push → a Docker build on a Slipway worker → the image pushed to Slipway's registry →
 * ImageChange → a new revision whose pods pull that exact digest and become Ready on the
 * kubelet; then the rollout verbs (latest, undo, pause/resume, cancel) and scaling over
 * REST, each read back from the API server. Slipway holds only the token of README's Role.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Resource } from '../../src/core/resource.js';
import { startDeployments, type DeploymentsHandle } from '../../src/runtime.js';
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
  removeBuildImages,
  type AdminClients,
  type TestImages,
  type TestNamespace,
} from '../support/kube-cluster.js';
import { BC_PATH, IS_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { startGitDaemon, waitFor, type GitServer, type RegistryHandle } from '../support/stack.js';
import { githubHeaders, post, pushPayload } from '../support/webhooks.js';

const SECRET = `s-${Math.random().toString(36).slice(2)}`;

describeOnCluster('push to Ready pods on a real cluster, and the rollout verbs', () => {
  let admin: AdminClients;
  let registry: RegistryHandle;
  let images: TestImages;
  let space: TestNamespace;
  let ns: string;
  let s: TestSlipway;
  let deployments: DeploymentsHandle;
  let git: GitServer;
  let ran = 0;

  const DC = (name = ''): string =>
    `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
  const RC = (name = ''): string =>
    `/api/v1/namespaces/${ns}/replicationcontrollers${name ? `/${name}` : ''}`;

  beforeAll(async () => {
    admin = adminClients();
    registry = await nodeRegistry();
    // The app's Dockerfile builds FROM v1 of the test app (busybox httpd + wget).
    images = buildTestImages(registry);
    space = await createTestNamespace(admin);
    ns = space.name;
    git = await startGitDaemon();
    s = await startSlipway({ workers: 1, registry, config: { kubeconfig: space.slipwayKubeconfig } });
    deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  }, 300_000);
  afterAll(async () => {
    await deployments?.close();
    await s?.stop();
    await git?.stop();
    await space?.delete();
    if (registry && ns) removeBuildImages(registry.host, ns);
    images?.remove();
    await registry?.stop();
    recordRun('push-to-ready', ran);
  });
  afterEach(() => {
    ran++;
  });

  async function pushCommit(version: string): Promise<string> {
    const sha = git.commit('app', {
      Dockerfile: `FROM ${images.localTags[0]}\nRUN echo ${version} > /version\n`,
    });
    const body = JSON.stringify(
      pushPayload({ cloneUrl: git.url('app'), ref: 'refs/heads/main', after: sha }),
    );
    const res = await post(
      `${s.http.url}${BC_PATH(ns, 'app')}/webhooks/${SECRET}/github`,
      body,
      await githubHeaders('push', body),
    );
    if (res.status !== 200 || res.body.kind !== 'Build')
      throw new Error(`push: ${res.status} ${JSON.stringify(res.body)}`);
    return String((res.body as Resource).metadata.name);
  }

  async function dcOf(): Promise<Resource & { spec: any; status: any }> {
    return (await s.apiJson('GET', DC('web'))) as any;
  }

  async function waitForRevision(
    version: number,
    phases = ['Complete', 'Failed'],
    timeoutMs = 150_000,
  ): Promise<Resource> {
    return waitFor(
      `web-${version} to reach ${phases.join('|')}`,
      async () => {
        const res = await s.api('GET', RC(`web-${version}`));
        if (!res.ok) return undefined;
        const rc = (await res.json()) as Resource;
        return phases.includes(rc.metadata.annotations?.['openshift.io/deployment.phase'] ?? '')
          ? rc
          : undefined;
      },
      timeoutMs,
      300,
    );
  }

  /** Waits for revision N to finish and expects it Complete, with the rollout log in the failure. */
  async function expectComplete(version: number): Promise<Resource> {
    const rc = await waitForRevision(version);
    const phase = rc.metadata.annotations?.['openshift.io/deployment.phase'];
    if (phase !== 'Complete') {
      const log = await (await s.api('GET', `${DC('web')}/log?version=${version}`)).text();
      const dc = await dcOf();
      throw new Error(
        `web-${version} is ${phase}: ${JSON.stringify(dc.status?.conditions)}\nrollout log:\n${log}`,
      );
    }
    return rc;
  }

  /** The revision's pods as the API server has them: Ready, and running which image. */
  async function servingPods(rev: string): Promise<V1Pod[]> {
    return (await listPods(admin, ns, `deployment=${rev}`)).filter((p) => !p.metadata?.deletionTimestamp);
  }

  async function tagImage(): Promise<string> {
    const stream = (await s.apiJson('GET', IS_PATH(ns, 'app'))) as any;
    const tag = stream.status.tags.find((t: { tag: string }) => t.tag === 'latest');
    return tag.items[0].dockerImageReference as string;
  }

  async function expectServing(rev: string, replicas: number, image: string): Promise<void> {
    const digest = image.split('@')[1]!;
    const pods = await waitFor(
      `${replicas} Ready pods of ${rev}`,
      async () => {
        const now = await servingPods(rev);
        return now.length === replicas && now.every(podReady) && now;
      },
      60_000,
      500,
    );
    for (const pod of pods) {
      expect(pod.spec?.containers[0]?.image).toBe(image);
      expect(pod.status?.containerStatuses?.[0]?.imageID).toContain(digest);
    }
  }

  test('a GitHub push builds on the worker, pushes to the registry, and a revision whose pods run that digest becomes Ready', async () => {
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
    await s.apiJson('POST', DC(), {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 2,
        selector: { app: 'web' },
        strategy: {
          type: 'Rolling',
          rollingParams: { updatePeriodSeconds: 1, intervalSeconds: 1, timeoutSeconds: 90 },
        },
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
            containers: [
              { name: 'web', image: ' ', ports: [{ containerPort: 8080 }], readinessProbe: WGET_PROBE },
            ],
          },
        },
      },
    });

    const build1 = await pushCommit('pushed-1');
    expect((await s.waitForBuild(ns, build1, undefined, 180_000)).status).toMatchObject({
      phase: 'Complete',
    });
    const image1 = await tagImage();
    expect(image1).toMatch(new RegExp(`^${registry.host}/${ns}/app@sha256:[0-9a-f]{64}$`));
    await expectComplete(1);
    await expectServing('web-1', 2, image1);

    // A second push: revision 2 with the new digest, revision 1 scaled away.
    const build2 = await pushCommit('pushed-2');
    expect((await s.waitForBuild(ns, build2, undefined, 180_000)).status).toMatchObject({
      phase: 'Complete',
    });
    const image2 = await tagImage();
    expect(image2).not.toBe(image1);
    const rc2 = await expectComplete(2);
    expect(JSON.parse(rc2.metadata.annotations!['slipway.dev/deployment.causes']!)[0]).toMatchObject({
      type: 'ImageChange',
    });
    await expectServing('web-2', 2, image2);
    await waitFor('web-1 scaled away', async () => (await servingPods('web-1')).length === 0, 30_000, 500);
    // What the RC in the cluster says, and what Slipway's API says, agree.
    const live = await admin.core.readNamespacedReplicationController({ namespace: ns, name: 'web-2' });
    expect(live.status?.readyReplicas).toBe(2);
    expect((await dcOf()).status).toMatchObject({ latestVersion: 2, readyReplicas: 2 });
  }, 420_000);

  test('rollout latest, undo to revision 1, pause and resume, cancel, and scaling — on the cluster', async () => {
    const rc1 = (await s.apiJson('GET', RC('web-1'))) as any;
    const firstImage = rc1.spec.template.spec.containers[0].image as string;

    // latest: a Manual revision 3 of the same image.
    const latest = await s.api('POST', `${DC('web')}/instantiate`, {
      kind: 'DeploymentRequest',
      apiVersion: 'apps.openshift.io/v1',
      name: 'web',
      latest: true,
      force: true,
    });
    expect(latest.status).toBe(201);
    await expectComplete(3);
    expect((await dcOf()).status.details.causes).toEqual([{ type: 'Manual' }]);
    expect(await servingPods('web-3')).toHaveLength(2);

    // undo: revision 4 runs revision 1's digest again.
    const undo = await s.api('POST', `${DC('web')}/rollback`, {
      kind: 'DeploymentConfigRollback',
      spec: { revision: 1 },
    });
    expect(undo.status).toBe(201);
    await expectComplete(4);
    await expectServing('web-4', 2, firstImage);

    // pause: no new rollout; resume: they start again.
    expect((await s.api('POST', `${DC('web')}/pause`, {})).status).toBe(200);
    const refused = await s.api('POST', `${DC('web')}/instantiate`, {
      kind: 'DeploymentRequest',
      apiVersion: 'apps.openshift.io/v1',
      name: 'web',
      latest: true,
      force: true,
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(await s.apiJson('GET', RC('web-5')).catch(() => undefined)).toBeUndefined();
    expect((await s.api('POST', `${DC('web')}/resume`, {})).status).toBe(200);

    // cancel: a revision that never becomes ready, cancelled while it runs; revision 4 keeps serving.
    const dc = await dcOf();
    dc.spec.strategy.rollingParams.timeoutSeconds = 600;
    dc.spec.template.spec.containers[0].env = [{ name: 'MODE', value: 'never-ready' }];
    await s.apiJson('PUT', DC('web'), dc);
    await waitForRevision(5, ['Running'], 60_000);
    await waitFor('a pod of web-5 started', async () => (await servingPods('web-5')).length > 0, 60_000, 500);
    expect((await s.api('POST', `${DC('web')}/cancel`, {})).status).toBe(200);
    const cancelled = await waitForRevision(5, ['Failed'], 60_000);
    expect(cancelled.metadata.annotations?.['openshift.io/deployment.cancelled']).toBe('true');
    expect((await dcOf()).status.conditions.find((c: any) => c.type === 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'RolloutCancelled',
    });
    await waitFor('web-5 scaled to 0', async () => (await servingPods('web-5')).length === 0, 60_000, 500);
    await expectServing('web-4', 2, firstImage);

    // scaling the DeploymentConfig scales the serving revision, not a new rollout.
    const back = await dcOf();
    back.spec.replicas = 3;
    await s.apiJson('PUT', DC('web'), back);
    await expectServing('web-4', 3, firstImage);
    const rc4 = await admin.core.readNamespacedReplicationController({ namespace: ns, name: 'web-4' });
    expect(rc4.spec?.replicas).toBe(3);
    expect((await dcOf()).status.latestVersion).toBe(5);
  }, 420_000);
});
