import { roleAllows, requestAttributes } from '../../src/api/authorization.js';
import { ownRepository } from '../../src/api/quota-routes.js';
import {
  buildRequest,
  computeDecision,
  countLimits,
  countNamesOf,
  exceededMessage,
  formatAmount,
  kindOfCount,
  replicasRequest,
  resourceQuotaCauses,
} from '../../src/core/quota.js';
import { lookupKind, type Resource } from '../../src/core/resource.js';
import { MemoryResourceStore } from '../../src/store/memory-store.js';

const BC = lookupKind('build.openshift.io/v1', 'BuildConfig')!;
const SECRET = lookupKind('v1', 'Secret')!;
const QUOTA = lookupKind('v1', 'ResourceQuota')!;

const quota = (name: string, hard: Record<string, unknown>): Resource => ({
  apiVersion: 'v1',
  kind: 'ResourceQuota',
  metadata: { name, namespace: 'p' },
  spec: { hard },
});

test('spec.hard: Kubernetes names Slipway enforces pass; others and bad quantities name their field', () => {
  expect(
    resourceQuotaCauses(
      quota('q', {
        pods: '10',
        'limits.cpu': '1500m',
        'limits.memory': '2Gi',
        'count/buildconfigs.build.openshift.io': 5,
        'count/deploymentconfigs.apps.openshift.io': '2',
        secrets: '20',
        'openshift.io/imagestreams': '3',
      }),
    ),
  ).toEqual([]);
  const causes = resourceQuotaCauses(
    quota('q', {
      'requests.storage': '1Gi',
      pods: '1.5',
      'limits.cpu': 'lots',
      'count/widgets.example.com': '1',
    }),
  );
  expect(causes.map((c) => c.field)).toEqual([
    'spec.hard[requests.storage]',
    'spec.hard[pods]',
    'spec.hard[limits.cpu]',
    'spec.hard[count/widgets.example.com]',
  ]);
  expect(
    resourceQuotaCauses({ ...quota('q', {}), spec: { hard: {}, scopes: ['BestEffort'] } })[0]!.field,
  ).toBe('spec.scopes');
  expect(
    resourceQuotaCauses({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q' } })[0]!.field,
  ).toBe('spec');
});

test('count names: the group-qualified name and the legacy core names count the same kind', () => {
  expect(countNamesOf(BC)).toEqual(['count/buildconfigs.build.openshift.io']);
  expect(countNamesOf(SECRET)).toEqual(['count/secrets', 'secrets']);
  expect(kindOfCount('services')?.kind).toBe('Service');
  expect(kindOfCount('count/widgets')).toBeUndefined();
  const limits = countLimits(
    [quota('a', { 'count/secrets': '3', pods: '1' }), quota('b', { secrets: 2 })],
    SECRET,
  );
  expect(limits).toEqual([
    { quota: 'a', resource: 'count/secrets', hard: 3 },
    { quota: 'b', resource: 'secrets', hard: 2 },
  ]);
});

test('a pod without the limit a quota sets is refused in Kubernetes words; with it, the amounts are summed', () => {
  const q = quota('compute', { pods: '4', 'limits.cpu': '2', 'limits.memory': '1Gi' });
  const noLimits: Resource = { apiVersion: 'v1', kind: 'Build', metadata: { name: 'b' }, spec: {} };
  expect(computeDecision([q], buildRequest(noLimits))).toEqual({
    kind: 'missing',
    message: 'failed quota: compute: must specify limits.cpu,limits.memory',
  });
  const template = {
    spec: {
      containers: [
        { resources: { limits: { cpu: '250m', memory: '128Mi' } } },
        { resources: { limits: { cpu: '0.5', memory: '64Mi' } } },
      ],
    },
  };
  const decision = computeDecision([q], replicasRequest(template, 2));
  expect(decision).toMatchObject({
    kind: 'check',
    amounts: { pods: 2, 'limits.cpu': 1500, 'limits.memory': 384 * 2 ** 20 },
  });
  // A quota on pods alone asks nothing of limits.
  expect(computeDecision([quota('p', { pods: '1' })], buildRequest(noLimits)).kind).toBe('check');
  // Scaling to zero needs no limits either.
  expect(computeDecision([q], replicasRequest({ spec: { containers: [{}] } }, 0)).kind).toBe('check');
});

test('figures read as Kubernetes prints them', () => {
  expect(formatAmount('limits.cpu', 1500)).toBe('1500m');
  expect(formatAmount('limits.cpu', 2000)).toBe('2');
  expect(formatAmount('limits.memory', 3 * 2 ** 30)).toBe('3Gi');
  expect(formatAmount('limits.memory', 1000)).toBe('1000');
  expect(
    exceededMessage({
      quota: 'q',
      resource: 'limits.memory',
      hard: 2 ** 30,
      used: 768 * 2 ** 20,
      requested: 512 * 2 ** 20,
    }),
  ).toBe(
    'exceeded quota: q, requested: limits.memory=512Mi, used: limits.memory=768Mi, limited: limits.memory=1Gi',
  );
});

test('admin writes quotas; edit and view read them', () => {
  const write = requestAttributes('PUT', '/api/v1/namespaces/p/resourcequotas/q')!;
  const read = requestAttributes('GET', '/api/v1/namespaces/p/resourcequotas/q')!;
  expect(roleAllows('admin', write)).toBe(true);
  expect(roleAllows('edit', write)).toBe(false);
  expect(roleAllows('view', write)).toBe(false);
  for (const role of ['admin', 'edit', 'view'] as const) expect(roleAllows(role, read)).toBe(true);
});

test('the memory store refuses a create past a count quota as the Redis store does', async () => {
  const store = new MemoryResourceStore();
  await store.create(QUOTA, quota('two', { 'count/secrets': '2' }));
  const secret = (name: string): Resource => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'p' },
  });
  await store.create(SECRET, secret('a'));
  await store.create(SECRET, secret('b'));
  await expect(store.create(SECRET, secret('c'))).rejects.toThrow(
    'secrets "c" is forbidden: exceeded quota: two, requested: count/secrets=1, used: count/secrets=2, limited: count/secrets=2',
  );
  // Another namespace has its own count.
  await store.create(SECRET, { ...secret('c'), metadata: { name: 'c', namespace: 'other' } });
  await store.delete(SECRET, 'p', 'a');
  await store.create(SECRET, secret('c'));
});

describe('ownRepository: the usage report reads only the project’s own repositories', () => {
  const registry = '127.0.0.1:5000';
  it('takes the repository of a tag or digest reference in the project', () => {
    expect(ownRepository(`${registry}/shop/web:latest`, registry, 'shop')).toBe('shop/web');
    expect(ownRepository(`${registry}/shop/web@sha256:${'a'.repeat(64)}`, registry, 'shop')).toBe('shop/web');
    expect(ownRepository(`${registry}/shop/web`, registry, 'shop')).toBe('shop/web');
  });
  it('skips another project’s repository, another registry, and odd paths', () => {
    for (const ref of [
      `${registry}/other/web:latest`,
      `${registry}/shop-2/web:latest`,
      `example.com/shop/web:latest`,
      `${registry}/shop/a/b:latest`,
      `${registry}/shop/..:latest`,
      `${registry}/shop/:latest`,
      '',
    ])
      expect([ref, ownRepository(ref, registry, 'shop')]).toEqual([ref, undefined]);
  });
});
