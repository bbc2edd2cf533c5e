/**
 * Routes on a REAL cluster: a Route applied to Slipway becomes a `networking.k8s.io/v1`
 * Ingress (host, path, Service port; edge TLS from the Route's certificate into a
 * `kubernetes.io/tls` Secret), is updated with it and deleted with it, all read back from
 * the API server. The kit runs no Ingress controller: what is tested is the object the
 * API server accepts and stores, not traffic through a controller.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDeployments, type DeploymentsHandle } from '../../src/runtime.js';
import {
  adminClients,
  createTestNamespace,
  describeOnCluster,
  nodeRegistry,
  recordRun,
  type AdminClients,
  type TestNamespace,
} from '../support/kube-cluster.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';
import { tempDir, waitFor } from '../support/stack.js';

describeOnCluster('Routes as Ingresses on a real cluster', () => {
  let admin: AdminClients;
  let space: TestNamespace;
  let ns: string;
  let s: TestSlipway;
  let deployments: DeploymentsHandle;
  let ran = 0;

  const ROUTES = (name = ''): string =>
    `/apis/route.openshift.io/v1/namespaces/${ns}/routes${name ? `/${name}` : ''}`;

  beforeAll(async () => {
    admin = adminClients();
    space = await createTestNamespace(admin);
    ns = space.name;
    s = await startSlipway({
      workers: 0,
      registry: await nodeRegistry(),
      config: { kubeconfig: space.slipwayKubeconfig },
    });
    deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  }, 120_000);
  afterAll(async () => {
    await deployments?.close();
    await s?.stop();
    await space?.delete();
    recordRun('routes-ingress', ran);
  });
  afterEach(() => {
    ran++;
  });

  function selfSigned(host: string): { cert: string; key: string } {
    const dir = tempDir('slipway-route-tls-');
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          `/CN=${host}`,
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'pipe' },
      );
      return {
        cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
        key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const ingress = (name: string) =>
    admin.networking.readNamespacedIngress({ namespace: ns, name }).catch(() => undefined);

  test('a Route becomes an Ingress with its host, path, Service port and TLS Secret; updated and deleted with it', async () => {
    await s.apiJson('POST', `/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    const { cert, key } = selfSigned('shop.example.test');
    await s.apiJson('POST', ROUTES(), {
      apiVersion: 'route.openshift.io/v1',
      kind: 'Route',
      metadata: { name: 'shop', labels: { app: 'web' } },
      spec: {
        host: 'shop.example.test',
        path: '/api',
        to: { kind: 'Service', name: 'web' },
        port: { targetPort: 8080 },
        tls: { termination: 'edge', certificate: cert, key },
      },
    });
    const created = await waitFor('the Ingress', () => ingress('shop'), 30_000, 300);
    expect(created.spec?.rules).toEqual([
      {
        host: 'shop.example.test',
        http: {
          paths: [
            {
              path: '/api',
              pathType: 'Prefix',
              // targetPort 8080 is the Service's port 80 (OpenShift reads a number as a target port).
              backend: { service: { name: 'web', port: { number: 80 } } },
            },
          ],
        },
      },
    ]);
    expect(created.spec?.tls).toEqual([{ hosts: ['shop.example.test'], secretName: 'shop-tls' }]);
    expect(created.metadata?.labels).toEqual({ app: 'web' });
    const secret = await admin.core.readNamespacedSecret({ namespace: ns, name: 'shop-tls' });
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Buffer.from(secret.data!['tls.crt']!, 'base64').toString()).toBe(cert);
    expect(Buffer.from(secret.data!['tls.key']!, 'base64').toString()).toBe(key);

    // Updated with it: a new host, a named port, no TLS (its Secret goes).
    const route = (await s.apiJson('GET', ROUTES('shop'))) as any;
    route.spec = {
      host: 'www.example.test',
      to: { kind: 'Service', name: 'web' },
      port: { targetPort: 'http' },
    };
    await s.apiJson('PUT', ROUTES('shop'), route);
    const updated = await waitFor(
      'the Ingress updated',
      async () => {
        const now = await ingress('shop');
        return now?.spec?.rules?.[0]?.host === 'www.example.test' && now;
      },
      30_000,
      300,
    );
    expect(updated.metadata?.uid).toBe(created.metadata?.uid);
    expect(updated.spec?.rules?.[0]?.http?.paths[0]).toEqual({
      path: '/',
      pathType: 'Prefix',
      backend: { service: { name: 'web', port: { name: 'http' } } },
    });
    expect(updated.spec?.tls).toBeUndefined();
    await waitFor(
      'the TLS Secret removed',
      async () =>
        !(await admin.core.readNamespacedSecret({ namespace: ns, name: 'shop-tls' }).catch(() => undefined)),
      30_000,
      300,
    );

    // Deleted with it.
    expect((await s.api('DELETE', ROUTES('shop'))).status).toBe(200);
    await waitFor('the Ingress deleted', async () => !(await ingress('shop')), 30_000, 300);
  }, 120_000);
});
