/**
 * Slipway configured with a kubeconfig (pointing at the Kubernetes-API-compatible
 * stand-in, since no API server can run here): the runtime picks the Kubernetes target,
 * and an ImageStream tag update reaches an apps/v1 Deployment that follows it through
 * the `image.openshift.io/triggers` annotation.
 */
import { randomUUID } from 'node:crypto';
import { FakeKubeApiServer } from '../support/fake-kube-apiserver.js';
import { waitFor } from '../support/stack.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';

let api: FakeKubeApiServer;
let s: TestSlipway;
const ns = `k-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  api = await FakeKubeApiServer.start({ namespaces: [ns] });
  s = await startSlipway({ workers: 0, config: { kubeconfig: api.kubeconfigPath } });
});
afterAll(async () => {
  await s?.stop();
  await api?.stop();
});

test('SLIPWAY_KUBECONFIG selects the Kubernetes target', () => {
  expect(s.rt.deployTarget.name).toBe('kubernetes');
});

test('an image-change on an ImageStreamTag updates the annotated Deployment in the cluster', async () => {
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
  const image = `${s.registry.host}/${ns}/web@sha256:${'c'.repeat(64)}`;
  await s.rt.dispatchImageChange({
    namespace: ns,
    stream: 'web',
    tag: 'latest',
    image: `sha256:${'c'.repeat(64)}`,
    dockerImageReference: image,
  });
  await waitFor(
    'the Deployment to get the new image',
    async () => api.get('deployments', ns, 'shop')?.spec.template.spec.containers[0].image === image,
  );
});
