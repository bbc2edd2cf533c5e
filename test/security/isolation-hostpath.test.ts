/**
 * hostPath volumes only where the operator allows them (SLIPWAY_ALLOW_HOST_PATHS), through
 * the real API server on a real Redis: refused with 422 naming the field and the setting
 * by default, accepted under an allowed prefix, refused when `..` or a look-alike prefix
 * tries to step outside it.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/core/config.js';
import type { Resource } from '../../src/core/resource.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';

const ns = `isoh-${randomUUID().slice(0, 8)}`;
const DC = `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs`;
let closed: TestSlipway;
let open: TestSlipway;

beforeAll(async () => {
  closed = await startSlipway({ workers: 0 });
  open = await startSlipway({
    workers: 0,
    registry: closed.registry,
    config: { allowHostPaths: ['/srv/slipway-data/', '/var/lib/app'] },
  });
});

afterAll(async () => {
  await open?.stop();
  await closed?.stop();
});

function dc(name: string, paths: string[]): Resource {
  return {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 0,
      selector: { app: name },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'slipway/debian:bookworm',
              volumeMounts: paths.map((_, i) => ({ name: `v${i}`, mountPath: `/mnt/v${i}` })),
            },
          ],
          volumes: [
            { name: 'scratch', emptyDir: {} },
            ...paths.map((path, i) => ({ name: `v${i}`, hostPath: { path } })),
          ],
        },
      },
    },
  };
}

interface Status {
  code: number;
  message: string;
  details?: { causes?: { field: string; message: string }[] };
}

test('without SLIPWAY_ALLOW_HOST_PATHS every hostPath is refused with 422 naming the field and the setting', async () => {
  const res = await closed.api('POST', DC, dc('etc', ['/etc']));
  expect(res.status).toBe(422);
  const status = (await res.json()) as Status;
  expect(status.details?.causes).toEqual([
    {
      field: 'spec.template.spec.volumes[1].hostPath.path',
      message: expect.stringContaining('SLIPWAY_ALLOW_HOST_PATHS'),
      reason: 'FieldValueInvalid',
    },
  ]);
  expect((await closed.api('GET', `${DC}/etc`)).status).toBe(404);
  // emptyDir alone is fine.
  expect((await closed.api('POST', DC, dc('plain', []))).status).toBe(201);
});

test('with SLIPWAY_ALLOW_HOST_PATHS, a path under an allowed prefix is accepted', async () => {
  const res = await open.api('POST', DC, dc('data', ['/srv/slipway-data/app', '/var/lib/app']));
  expect(res.status).toBe(201);
  const stored = (await open.apiJson('GET', `${DC}/data`)) as Resource & { spec: Record<string, any> };
  expect(stored.spec.template.spec.volumes[1].hostPath.path).toBe('/srv/slipway-data/app');
});

test('`..` segments and look-alike prefixes do not get out of an allowed prefix', async () => {
  for (const path of [
    '/srv/slipway-data/../../etc',
    '/srv/slipway-data-other',
    '/var/lib/application',
    '/var/lib/app/./../../../root',
  ]) {
    const res = await open.api('POST', DC, dc(`x${randomUUID().slice(0, 6)}`, [path]));
    expect([path, res.status]).toEqual([path, 422]);
    const status = (await res.json()) as Status;
    expect(status.details?.causes?.[0]?.field).toBe('spec.template.spec.volumes[1].hostPath.path');
    expect(status.details?.causes?.[0]?.message).toContain('/srv/slipway-data/, /var/lib/app');
  }
});

test('SLIPWAY_ALLOW_HOST_PATHS is a comma-separated list of absolute paths', () => {
  expect(loadConfig({ env: {} }).allowHostPaths).toEqual([]);
  expect(loadConfig({ env: { SLIPWAY_ALLOW_HOST_PATHS: '/srv/a, /srv/b' } }).allowHostPaths).toEqual([
    '/srv/a',
    '/srv/b',
  ]);
  expect(() => loadConfig({ env: { SLIPWAY_ALLOW_HOST_PATHS: 'relative/path' } })).toThrow(
    /SLIPWAY_ALLOW_HOST_PATHS/,
  );
});
