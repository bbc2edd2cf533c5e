import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import { InputError } from '../../src/core/errors.js';
import { lookupKind, type Resource } from '../../src/core/resource.js';
import { validateResource } from '../../src/core/validation.js';
import { scopeAllows } from '../../src/api/auth.js';
import {
  decideRollout,
  revisionFor,
  revisionsToPrune,
  rollbackSpec,
  setCondition,
} from '../../src/strategies/deployment-config.js';
import { pickBackends, type RoutingTable } from '../../src/strategies/router.js';
import { cpuCores, memoryBytes, publishedPorts } from '../../src/strategies/docker/replicas.js';
import { REVISION_ANNOTATIONS } from '../../src/strategies/target.js';

const DCK = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;

function dc(spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}): DeploymentConfig {
  return {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name: 'web', namespace: 'ns', uid: 'u1' },
    spec: {
      replicas: 2,
      selector: { app: 'web' },
      triggers: [{ type: 'ConfigChange' }],
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'app:v1' }] },
      },
      ...spec,
    } as DeploymentConfig['spec'],
    status,
  };
}

function causesOf(obj: Resource): { field: string; message: string }[] {
  try {
    validateResource(DCK, obj);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).causes;
  }
  throw new Error('expected validation to fail');
}

describe('validation', () => {
  test('OpenShift defaults are applied on write', () => {
    const out = validateResource(DCK, {
      ...dc(),
      spec: { template: dc().spec.template },
    } as unknown as Resource) as unknown as DeploymentConfig;
    expect(out.spec.triggers).toEqual([{ type: 'ConfigChange' }]);
    expect(out.spec.revisionHistoryLimit).toBe(10);
    expect(out.spec.selector).toEqual({ app: 'web' });
    expect(out.spec.strategy).toEqual({
      type: 'Rolling',
      rollingParams: {
        updatePeriodSeconds: 1,
        intervalSeconds: 1,
        timeoutSeconds: 600,
        maxUnavailable: '25%',
        maxSurge: '25%',
      },
    });
  });

  test('errors name the field', () => {
    const bad = dc({ strategy: { type: 'Rolling', rollingParams: { maxSurge: 0, maxUnavailable: '0%' } } });
    bad.spec.template.spec.containers.push({ name: 'web', image: '' });
    bad.spec.template.spec.containers.push({ name: 'side' });
    const causes = causesOf(bad as unknown as Resource);
    expect(causes).toEqual(
      expect.arrayContaining([
        { field: 'spec.template.spec.containers[1].name', message: 'Duplicate value: "web"' },
        {
          field: 'spec.template.spec.containers[2].image',
          message: 'Required value: give an image or an ImageChange trigger for this container',
        },
        {
          field: 'spec.strategy.rollingParams.maxUnavailable',
          message: 'Invalid value: may not be 0 when maxSurge is 0',
        },
      ]),
    );
  });

  test('types are checked with the path of the bad field', () => {
    const bad = dc({ strategy: { type: 'BlueGreen' } });
    bad.spec.template.spec.containers[0]!.readinessProbe = {
      httpGet: { port: 8080 },
      tcpSocket: { port: 8080 },
    };
    const fields = causesOf(bad as unknown as Resource).map((c) => c.field);
    expect(fields).toEqual(
      expect.arrayContaining(['spec.strategy.type', 'spec.template.spec.containers[0].readinessProbe']),
    );
  });

  test('hooks must name containers and volumes of the template; a Custom strategy needs an image', () => {
    const bad = dc({
      strategy: {
        type: 'Custom',
        customParams: {},
        recreateParams: {
          mid: {
            failurePolicy: 'Abort',
            execNewPod: { containerName: 'db', command: ['x'], volumes: ['data'] },
          },
        },
      },
    });
    expect(causesOf(bad as unknown as Resource)).toEqual([
      {
        field: 'spec.strategy.recreateParams.mid.execNewPod.containerName',
        message: '"db" is not a container of the template',
      },
      {
        field: 'spec.strategy.recreateParams.mid.execNewPod.volumes[0]',
        message: '"data" is not a volume of the template',
      },
      {
        field: 'spec.strategy.customParams.image',
        message: 'Required value: a Custom strategy needs customParams.image',
      },
    ]);
  });
});

describe('decideRollout', () => {
  const trigger = (extra: Record<string, unknown> = {}) => ({
    type: 'ImageChange',
    imageChangeParams: {
      automatic: true,
      containerNames: ['web'],
      from: { kind: 'ImageStreamTag', name: 'app:latest' },
      ...extra,
    },
  });

  test('the first rollout waits for an automatic image trigger to resolve', () => {
    const d = dc({ triggers: [{ type: 'ConfigChange' }, trigger()] });
    d.spec.template.spec.containers[0]!.image = ' ';
    expect(decideRollout(d, undefined)).toEqual({
      start: false,
      reason: 'waiting for an image trigger to resolve the image of container(s) web',
    });
    const resolved = dc({
      triggers: [{ type: 'ConfigChange' }, trigger({ lastTriggeredImage: 'r/app@sha256:1' })],
    });
    expect(decideRollout(resolved, undefined)).toEqual({
      start: true,
      causes: [
        { type: 'ImageChange', imageTrigger: { from: { kind: 'ImageStreamTag', name: 'app:latest' } } },
      ],
    });
  });

  test('ConfigChange fires on a template change only; a paused config never', () => {
    const first = dc();
    expect(decideRollout(first, undefined)).toEqual({ start: true, causes: [{ type: 'ConfigChange' }] });
    const rc = revisionFor(first, 1, [{ type: 'ConfigChange' }]);
    expect(decideRollout(first, rc)).toEqual({
      start: false,
      reason: 'the template matches the latest revision',
    });
    const scaled = dc({ replicas: 5 });
    expect(decideRollout(scaled, rc).start).toBe(false);
    const changed = dc();
    changed.spec.template.spec.containers[0]!.env = [{ name: 'A', value: '1' }];
    expect(decideRollout(changed, rc)).toEqual({ start: true, causes: [{ type: 'ConfigChange' }] });
    expect(decideRollout({ ...changed, spec: { ...changed.spec, paused: true } }, rc).start).toBe(false);
    const noTrigger = { ...changed, spec: { ...changed.spec, triggers: [] } };
    expect(decideRollout(noTrigger, rc).start).toBe(false);
  });

  test('an image trigger fires once per image', () => {
    const v1 = dc({ triggers: [trigger({ lastTriggeredImage: 'r/app@sha256:1' })] });
    const rc = revisionFor(v1, 1, []);
    expect(decideRollout(v1, rc).start).toBe(false);
    const v2 = dc({ triggers: [trigger({ lastTriggeredImage: 'r/app@sha256:2' })] });
    v2.spec.template.spec.containers[0]!.image = 'r/app@sha256:2';
    expect(decideRollout(v2, rc)).toMatchObject({ start: true, causes: [{ type: 'ImageChange' }] });
  });
});

test('revision N carries OpenShift labels, annotations and the selector', () => {
  const rc = revisionFor(dc(), 3, [{ type: 'Manual' }]);
  expect(rc.metadata.name).toBe('web-3');
  expect(rc.spec.replicas).toBe(0);
  expect(rc.spec.selector).toEqual({ app: 'web', deployment: 'web-3', deploymentconfig: 'web' });
  expect(rc.spec.template.metadata?.labels).toEqual({
    app: 'web',
    deployment: 'web-3',
    deploymentconfig: 'web',
  });
  expect(rc.metadata.labels).toEqual({ 'openshift.io/deployment-config.name': 'web' });
  expect(rc.metadata.annotations).toMatchObject({
    [REVISION_ANNOTATIONS.phase]: 'New',
    [REVISION_ANNOTATIONS.latestVersion]: '3',
    [REVISION_ANNOTATIONS.desiredReplicas]: '2',
  });
});

test('rollback restores the revision template and disables automatic image triggers', () => {
  const old = dc();
  const rc = revisionFor(old, 1, []);
  const now = dc({
    triggers: [
      {
        type: 'ImageChange',
        imageChangeParams: { automatic: true, containerNames: ['web'], from: { name: 'app' } },
      },
    ],
  });
  now.spec.template.spec.containers[0]!.image = 'app:v9';
  const { spec, disabled } = rollbackSpec(now, rc);
  expect(spec.template.spec.containers[0]!.image).toBe('app:v1');
  expect(spec.triggers?.[0]?.imageChangeParams?.automatic).toBe(false);
  expect(disabled).toEqual(['app:latest']);
});

test('history keeps revisionHistoryLimit ended revisions, never the serving or latest one', () => {
  const base = dc({ revisionHistoryLimit: 1 }, { latestVersion: 4 });
  const revs = [1, 2, 3, 4].map((v) => {
    const rc = revisionFor(base, v, []);
    rc.metadata.annotations![REVISION_ANNOTATIONS.phase] = v === 3 ? 'Failed' : 'Complete';
    return rc;
  });
  expect(revisionsToPrune(base, revs, 'web-4').map((r) => r.metadata.name)).toEqual(['web-1', 'web-2']);
});

test('a condition keeps lastTransitionTime while its status holds', () => {
  const a = setCondition({}, { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }, 't1');
  const b = setCondition(a, { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }, 't2');
  expect(b.conditions?.[0]).toMatchObject({ lastTransitionTime: 't1', lastUpdateTime: 't2' });
  const c = setCondition(b, { type: 'Available', status: 'False' }, 't3');
  expect(c.conditions?.[0]).toMatchObject({ lastTransitionTime: 't3', status: 'False' });
});

test('a deployer token may read its config and scale its revisions, nothing else', () => {
  const scope = 'deployer:ns/web';
  expect(scopeAllows(scope, 'PUT', '/api/v1/namespaces/ns/replicationcontrollers/web-3/scale')).toBe(true);
  expect(scopeAllows(scope, 'GET', '/api/v1/namespaces/ns/replicationcontrollers/web-3')).toBe(true);
  expect(scopeAllows(scope, 'GET', '/apis/apps.openshift.io/v1/namespaces/ns/deploymentconfigs/web')).toBe(
    true,
  );
  expect(scopeAllows(scope, 'PUT', '/api/v1/namespaces/ns/replicationcontrollers/web-extra-3/scale')).toBe(
    false,
  );
  expect(scopeAllows(scope, 'PUT', '/api/v1/namespaces/other/replicationcontrollers/web-3/scale')).toBe(
    false,
  );
  expect(scopeAllows(scope, 'DELETE', '/api/v1/namespaces/ns/replicationcontrollers/web-3')).toBe(false);
  expect(scopeAllows(scope, 'GET', '/api/v1/namespaces/ns/secrets')).toBe(false);
  expect(
    scopeAllows(scope, 'POST', '/apis/build.openshift.io/v1/namespaces/ns/buildconfigs/web/instantiate'),
  ).toBe(false);
  expect(scopeAllows('admin', 'GET', '/api/v1/namespaces/ns/secrets')).toBe(true);
});

describe('router table', () => {
  const replica = (id: string, labels: Record<string, string>, ready = true) => ({
    id,
    name: id,
    namespace: 'ns',
    deploymentConfig: 'web',
    revision: 'web-1',
    podLabels: labels,
    ports: { '8080': Number(id.replace(/\D/g, '')) },
    portNames: { http: 8080 },
    running: true,
    ready,
    restarts: 0,
    updated: 0,
  });
  const table = (over: Partial<RoutingTable> = {}): RoutingTable => ({
    routes: [
      {
        apiVersion: 'route.openshift.io/v1',
        kind: 'Route',
        metadata: { name: 'web', namespace: 'ns' },
        spec: { host: 'web.example.test', to: { kind: 'Service', name: 'web' } },
      },
      {
        apiVersion: 'route.openshift.io/v1',
        kind: 'Route',
        metadata: { name: 'api', namespace: 'ns' },
        spec: { host: 'web.example.test', path: '/api', to: { kind: 'Service', name: 'api' } },
      },
      {
        apiVersion: 'route.openshift.io/v1',
        kind: 'Route',
        metadata: { name: 'plain', namespace: 'ns' },
        spec: { to: { kind: 'Service', name: 'web' } },
      },
    ],
    services: [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'ns' },
        spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'api', namespace: 'ns' },
        spec: { selector: { app: 'api' }, ports: [{ port: 8080 }] },
      },
    ],
    replicas: [
      replica('r1001', { app: 'web' }),
      replica('r1002', { app: 'web' }, false),
      replica('r1003', { app: 'api' }),
      replica('r1004', { app: 'web' }),
    ],
    draining: new Set(['r1004']),
    domain: 'localhost',
    ...over,
  });

  test('Host picks the Route, the longest path wins, and only ready, non-draining replicas serve', () => {
    expect(pickBackends(table(), 'WEB.example.test:8081', '/')).toEqual({
      ok: true,
      route: 'ns/web',
      ports: [1001],
    });
    expect(pickBackends(table(), 'web.example.test', '/api/x')).toEqual({
      ok: true,
      route: 'ns/api',
      ports: [1003],
    });
    expect(pickBackends(table(), 'web.example.test', '/apiary')).toMatchObject({ ok: true, route: 'ns/web' });
    expect(pickBackends(table(), 'plain-ns.localhost', '/')).toMatchObject({ ok: true, route: 'ns/plain' });
    expect(pickBackends(table(), 'other.test', '/')).toMatchObject({ ok: false, code: 404 });
    expect(pickBackends(table({ replicas: [] }), 'web.example.test', '/')).toEqual({
      ok: false,
      code: 503,
      message: 'Service ns/web has no ready replicas',
    });
  });
});

test('quantities: memory and CPU limits as Docker takes them', () => {
  expect(memoryBytes('64Mi')).toBe(64 * 1024 * 1024);
  expect(memoryBytes('1G')).toBe(1e9);
  expect(cpuCores('250m')).toBe(0.25);
  expect(cpuCores('2')).toBe(2);
  expect(() => memoryBytes('lots')).toThrow('memory quantity "lots" is not valid');
});

test('probe ports are published too, by name or number', () => {
  expect(
    publishedPorts({
      name: 'web',
      ports: [{ name: 'http', containerPort: 8080 }],
      readinessProbe: { httpGet: { port: 'http' } },
      livenessProbe: { tcpSocket: { port: 9090 } },
    }),
  ).toEqual({ ports: [8080, 9090], portNames: { http: 8080 } });
  expect(() => publishedPorts({ name: 'web', readinessProbe: { httpGet: { port: 'metrics' } } })).toThrow(
    'probe port "metrics" is not the name of one of its ports',
  );
});
