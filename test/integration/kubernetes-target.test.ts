/**
 * The few behaviours of the Kubernetes target that a real cluster cannot be made to show
 * on demand, against a STAND-IN API server (test/support/fake-kube-apiserver.ts): a
 * watch the server closes in the middle of a run, and a 409 Conflict between a read and
 * the write that follows it. Everything else runs against a real cluster in
 * test/kubernetes/ (the kit, or SLIPWAY_TEST_KUBECONFIG).
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { updateAnnotatedDeployments } from '../../src/strategies/kubernetes/image-triggers.js';
import { loadKubeConfig } from '../../src/strategies/kubernetes/kube-client.js';
import { KubernetesTarget } from '../../src/strategies/kubernetes/kubernetes-target.js';
import { FakeKubeApiServer } from '../support/fake-kube-apiserver.js';
import { waitFor } from '../support/stack.js';

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

describe('stand-in API server: what a real cluster cannot be made to do on demand', () => {
  // Stand-in because: a real API server ends watches on its own schedule
  // (--min-request-timeout, 30–60 min); a test cannot make it close one mid-run.
  test('runPod survives the server closing its watch', async () => {
    const running = target.runPod(
      {
        namespace: ns,
        name: 'web-1-hook-mid',
        image: 'web:1',
        env: [
          // Long enough that the watch is closed while the pod still runs, on a loaded machine too.
          { name: 'FAKE_RUN_MS', value: '3000' },
          { name: 'FAKE_EXIT_CODE', value: '7' },
        ],
        labels: {},
      },
      { signal: live() },
    );
    await waitFor(
      'pod running, watched',
      async () =>
        api.get('pods', ns, 'web-1-hook-mid')?.status?.phase === 'Running' &&
        api.requests.some((r) => r.plural === 'pods' && r.query.watch === 'true'),
    );
    api.closeWatches();
    expect((await running).exitCode).toBe(7);
    const watches = api.requests.filter((r) => r.plural === 'pods' && r.query.watch === 'true');
    expect(watches.length).toBeGreaterThanOrEqual(2);
    expect(watches.every((w) => w.query.fieldSelector === 'metadata.name=web-1-hook-mid')).toBe(true);
  });

  // Stand-in because: the 409 must land exactly between applyService's read and its
  // replace; on a real server that window is a few milliseconds wide.
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

  // Stand-in because: as above, the Deployment must change between the trigger's read
  // and its patch.
  test('a Deployment changed between read and patch (409) is read again and patched', async () => {
    api.seed({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'shop',
        namespace: ns,
        annotations: {
          'image.openshift.io/triggers': JSON.stringify([
            {
              from: { kind: 'ImageStreamTag', name: 'web:latest' },
              fieldPath: 'spec.template.spec.containers[?(@.name=="web")].image',
            },
          ]),
        },
      },
      spec: {
        selector: { matchLabels: { app: 'shop' } },
        template: {
          metadata: { labels: { app: 'shop' } },
          spec: { containers: [{ name: 'web', image: 'web:old' }] },
        },
      },
    });
    api.failNext({ method: 'PATCH', plural: 'deployments', name: 'shop' }, 409);
    const image = `127.0.0.1:5000/${ns}/web@sha256:${'b'.repeat(64)}`;
    const result = await updateAnnotatedDeployments({
      kubeConfig: target.clients.kubeConfig,
      namespace: ns,
      imageStreamTag: 'web:latest',
      image,
    });
    expect(result.updated.map((u) => u.name)).toEqual(['shop']);
    expect(api.get('deployments', ns, 'shop')!.spec.template.spec.containers[0].image).toBe(image);
    const patches = api.requests.filter((r) => r.method === 'PATCH' && r.plural === 'deployments');
    expect(patches.map((r) => `${r.contentType} ${r.status}`)).toEqual([
      'application/strategic-merge-patch+json 409',
      'application/strategic-merge-patch+json 200',
    ]);
  });
});
