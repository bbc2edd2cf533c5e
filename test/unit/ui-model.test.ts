/**
 * How the dashboard links a namespace's objects into applications (src/api/ui/model.js,
 * a browser module with no DOM use), and how its cache orders changes.
 */
// @ts-expect-error the dashboard's modules are plain browser JavaScript, without types
import * as model from '../../src/api/ui/model.js';

const m = model as any;
const ns = 'demo';
const meta = (name: string, rv: number, extra: Record<string, unknown> = {}) => ({
  name,
  namespace: ns,
  resourceVersion: String(rv),
  ...extra,
});

function revision(n: number, phase: string, replicas: number, digest: string) {
  return {
    kind: 'ReplicationController',
    metadata: meta(`web-${n}`, 100 + n, {
      labels: { 'openshift.io/deployment-config.name': 'web' },
      annotations: {
        'openshift.io/deployment.phase': phase,
        'openshift.io/deployment-config.latest-version': String(n),
      },
    }),
    spec: {
      replicas,
      template: {
        spec: { containers: [{ name: 'web', image: `reg/demo/app@sha256:${digest.repeat(64)}` }] },
      },
    },
  };
}

function namespaceCache() {
  const c = new m.NamespaceCache(ns);
  c.put('BuildConfig', [
    { metadata: meta('app', 1), spec: { output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } } } },
    { metadata: meta('docs', 2), spec: { output: { to: { kind: 'ImageStreamTag', name: 'docs' } } } },
  ]);
  c.put('Build', [
    {
      metadata: meta('app-1', 3, {
        annotations: { 'openshift.io/build-config.name': 'app', 'openshift.io/build.number': '1' },
      }),
    },
    {
      metadata: meta('app-2', 4, {
        annotations: { 'openshift.io/build-config.name': 'app', 'openshift.io/build.number': '2' },
      }),
    },
  ]);
  c.put('DeploymentConfig', [
    {
      metadata: meta('web', 5),
      spec: {
        template: { metadata: { labels: { app: 'web' } } },
        triggers: [
          {
            type: 'ImageChange',
            imageChangeParams: { from: { kind: 'ImageStreamTag', name: 'app:latest' } },
          },
        ],
      },
    },
  ]);
  c.put('Service', [
    { metadata: meta('web', 6), spec: { selector: { app: 'web' } } },
    { metadata: meta('other', 7), spec: { selector: { app: 'other' } } },
  ]);
  c.put('Route', [
    { metadata: meta('web', 8), spec: { to: { kind: 'Service', name: 'web' } } },
    { metadata: meta('other', 9), spec: { host: 'other.example', to: { kind: 'Service', name: 'other' } } },
  ]);
  return c;
}

test('a DeploymentConfig is one application with the BuildConfig that feeds its trigger, its newest build and its Route', () => {
  const c = namespaceCache();
  c.put('ReplicationController', [revision(1, 'Complete', 0, 'a'), revision(2, 'Complete', 1, 'b')]);
  const apps = m.applications(c);
  expect(apps.map((a: any) => a.name)).toEqual(['docs', 'web']);
  const web = apps[1];
  expect(web.bc.metadata.name).toBe('app');
  expect(web.build.metadata.name).toBe('app-2');
  expect(web.serving.metadata.name).toBe('web-2');
  expect(web.routes.map((r: any) => r.metadata.name)).toEqual(['web']);
  expect(m.routeUrl(web.routes[0], { router: { port: 8081, domain: 'localhost' } })).toBe(
    'http://web-demo.localhost:8081/',
  );
  // docs:latest is built but followed by nothing: an application of its own, not deployed.
  expect(apps[0].dc).toBeUndefined();
});

test('while a rollout runs, and after it fails, the older complete revision is the one serving', () => {
  const running = [revision(3, 'Running', 1, 'c'), revision(2, 'Complete', 1, 'b')];
  expect(m.servingRevision(running).metadata.name).toBe('web-2');
  const failed = [revision(3, 'Failed', 0, 'c'), revision(2, 'Complete', 1, 'b')];
  expect(m.servingRevision(failed).metadata.name).toBe('web-2');
  expect(m.digestOf(m.revisionImage(failed[1]))).toBe(`sha256:${'b'.repeat(64)}`);
});

test('the cache keeps the newer copy of each object and does not bring back a deleted one', () => {
  const c = new m.NamespaceCache(ns);
  c.apply({
    type: 'ADDED',
    object: { kind: 'Build', metadata: meta('app-1', 10), status: { phase: 'Running' } },
  });
  // A list answered from before that change arrives later: it loses.
  c.put('Build', [{ metadata: meta('app-1', 9), status: { phase: 'New' } }]);
  expect(c.get('Build', 'app-1').status.phase).toBe('Running');
  c.apply({ type: 'DELETED', object: { kind: 'Build', metadata: meta('app-1', 11) } });
  c.put('Build', [{ metadata: meta('app-1', 10), status: { phase: 'Running' } }]);
  expect(c.get('Build', 'app-1')).toBeUndefined();
  // Another namespace's change is not this cache's.
  expect(
    c.apply({
      type: 'ADDED',
      object: { kind: 'Build', metadata: { ...meta('x-1', 12), namespace: 'other' } },
    }),
  ).toBe(false);
});

test('durations read as people read them', () => {
  expect(m.formatMillis(850)).toBe('850ms');
  expect(m.formatMillis(12_400)).toBe('12s');
  expect(m.formatMillis(184_000)).toBe('3m04s');
  expect(m.buildMillis({ status: { duration: 2_500_000_000 } })).toBe(2500);
});
