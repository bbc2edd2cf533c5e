/**
 * apps/v1 Deployments as the rollout machinery reads them (src/core/apps-deployment.ts),
 * Kubernetes' service variables and a container's environment (src/core/pod-env.ts):
 * pure, no Redis, no Docker.
 */
import { describe, expect, it } from '@jest/globals';
import {
  TRIGGERS_ANNOTATION,
  deploymentConfigView,
  deploymentStatusFrom,
  parseTriggerAnnotation,
  type AppsDeployment,
} from '../../src/core/apps-deployment.js';
import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import { lookupKind, type Resource } from '../../src/core/resource.js';
import { validateResource } from '../../src/core/validation.js';
import { ContainerConfigError, resolveContainerEnv, serviceEnvVars } from '../../src/core/pod-env.js';
import { claimVolumeName } from '../../src/strategies/docker/replicas.js';

const DEPLOYMENT = lookupKind('apps/v1', 'Deployment')!;
const TRIGGER = JSON.stringify([
  {
    from: { kind: 'ImageStreamTag', name: 'app:latest' },
    fieldPath: 'spec.template.spec.containers[?(@.name=="web")].image',
  },
]);

function deployment(
  over: Partial<AppsDeployment['spec']> = {},
  annotations: Record<string, string> = {},
): AppsDeployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', uid: 'u1', generation: 3, annotations },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: ' ', ports: [{ containerPort: 8080 }] }] },
      },
      ...over,
    },
  };
}

describe('parseTriggerAnnotation', () => {
  const containers = [{ name: 'web' }, { name: 'side' }];
  it('reads a container by name or by index, and paused', () => {
    const raw = JSON.stringify([
      {
        from: { kind: 'ImageStreamTag', name: 'app:latest' },
        fieldPath: 'spec.template.spec.containers[?(@.name=="web")].image',
      },
      {
        from: { name: 'tool:v1', namespace: 'lib' },
        fieldPath: 'spec.template.spec.containers[1].image',
        paused: 'true',
      },
    ]);
    expect(parseTriggerAnnotation(raw, containers)).toEqual({
      triggers: [
        { from: { kind: 'ImageStreamTag', name: 'app:latest' }, container: 'web', paused: false },
        {
          from: { kind: 'ImageStreamTag', name: 'tool:v1', namespace: 'lib' },
          container: 'side',
          paused: true,
        },
      ],
      causes: [],
    });
  });
  it('names what is wrong: not JSON, another kind, a path that is no container image, an unknown container', () => {
    const field = `metadata.annotations[${TRIGGERS_ANNOTATION}]`;
    expect(parseTriggerAnnotation('{nope', containers).causes).toEqual([
      { field, message: 'must be a JSON array of triggers' },
    ]);
    const bad = JSON.stringify([
      { from: { kind: 'DockerImage', name: 'x' }, fieldPath: 'spec.template.spec.containers[0].image' },
      { from: { name: 'a:b' }, fieldPath: 'spec.replicas' },
      { from: { name: 'a:b' }, fieldPath: 'spec.template.spec.containers[?(@.name=="db")].image' },
    ]);
    expect(parseTriggerAnnotation(bad, containers).causes.map((c) => c.field)).toEqual([
      `${field}[0].from.kind`,
      `${field}[1].fieldPath`,
      `${field}[2].fieldPath`,
    ]);
  });
});

describe('deploymentConfigView', () => {
  it('RollingUpdate becomes Rolling with Kubernetes defaults and the progress deadline as its timeout', () => {
    const view = deploymentConfigView(
      deployment({ progressDeadlineSeconds: 30 }, { [TRIGGER_KEY()]: TRIGGER }),
    );
    expect(view.spec.strategy).toEqual({
      type: 'Rolling',
      rollingParams: { maxSurge: '25%', maxUnavailable: '25%', timeoutSeconds: 30 },
    });
    expect(view.spec.selector).toEqual({ app: 'web' });
    expect(view.spec.replicas).toBe(2);
    expect(view.spec.triggers).toEqual([
      { type: 'ConfigChange' },
      {
        type: 'ImageChange',
        imageChangeParams: {
          automatic: true,
          containerNames: ['web'],
          from: { kind: 'ImageStreamTag', name: 'app:latest' },
        },
      },
    ]);
    expect(view.metadata.annotations).toEqual({ 'slipway.dev/deployment': 'web' });
  });
  it('Recreate becomes Recreate; maxSurge/maxUnavailable are kept as written', () => {
    expect(deploymentConfigView(deployment({ strategy: { type: 'Recreate' } })).spec.strategy).toEqual({
      type: 'Recreate',
      recreateParams: { timeoutSeconds: 600 },
    });
    const rolling = deploymentConfigView(
      deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }),
    );
    expect(rolling.spec.strategy?.rollingParams).toMatchObject({ maxSurge: 1, maxUnavailable: 0 });
  });
  it('keeps the image a trigger resolved on the view, so translating again starts no rollout', () => {
    const d = deployment({}, { [TRIGGER_KEY()]: TRIGGER });
    const previous = structuredClone(deploymentConfigView(d)) as DeploymentConfig;
    previous.spec.triggers![1]!.imageChangeParams!.lastTriggeredImage = 'reg/shop/app@sha256:aa';
    previous.spec.template.spec.containers[0]!.image = 'reg/shop/app@sha256:aa';
    const again = deploymentConfigView(d, previous);
    expect(again.spec.template.spec.containers[0]!.image).toBe('reg/shop/app@sha256:aa');
    expect(again.spec.triggers![1]!.imageChangeParams!.lastTriggeredImage).toBe('reg/shop/app@sha256:aa');
  });
});

function TRIGGER_KEY(): string {
  return TRIGGERS_ANNOTATION;
}

describe('validation of a Deployment', () => {
  const validate = (d: AppsDeployment) => validateResource(DEPLOYMENT, d as unknown as Resource);
  it('accepts a Deployment with the trigger annotation', () => {
    expect(() => validate(deployment({}, { [TRIGGERS_ANNOTATION]: TRIGGER }))).not.toThrow();
  });
  it('refuses a selector that does not match, matchExpressions, and a bad annotation, naming the field', () => {
    expect(() => validate(deployment({ selector: { matchLabels: { app: 'other' } } }))).toThrow(
      /spec\.template\.metadata\.labels: `selector` does not match template `labels`/,
    );
    expect(() =>
      validate(deployment({ selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'x' }] } })),
    ).toThrow(/spec\.selector\.matchExpressions/);
    expect(() => validate(deployment({}, { [TRIGGERS_ANNOTATION]: '[1]' }))).toThrow(
      /image\.openshift\.io\/triggers/,
    );
  });
  it('refuses a claim name that is not a DNS-1123 name (it becomes a Docker volume name)', () => {
    const d = deployment();
    d.spec.template.spec.volumes = [{ name: 'data', persistentVolumeClaim: { claimName: '../x' } }];
    expect(() => validate(d)).toThrow(/volumes\[0\]\.persistentVolumeClaim\.claimName/);
  });
});

describe('deploymentStatusFrom', () => {
  it("speaks of replica sets, as Kubernetes' Deployment status does", () => {
    const t = '2026-01-01T00:00:00Z';
    const status = deploymentStatusFrom(
      {
        replicas: 2,
        readyReplicas: 2,
        availableReplicas: 2,
        updatedReplicas: 2,
        conditions: [
          {
            type: 'Progressing',
            status: 'True',
            reason: 'NewReplicationControllerAvailable',
            message: 'replication controller "web-2" successfully rolled out',
            lastUpdateTime: t,
            lastTransitionTime: t,
          },
        ],
      },
      3,
    );
    expect(status).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      updatedReplicas: 2,
      observedGeneration: 3,
    });
    expect(status.conditions![0]).toMatchObject({
      reason: 'NewReplicaSetAvailable',
      message: 'replica set "web-2" successfully rolled out',
    });
  });
});

describe('service environment variables', () => {
  const svc = (name: string, ports: unknown[]): Resource => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'shop' },
    spec: { ports },
  });
  it("names them as Kubernetes does; the port is the one that answers on the project's network", () => {
    const env = Object.fromEntries(
      serviceEnvVars([svc('my-db', [{ name: 'pg', port: 5432, targetPort: 15432 }, { port: 80 }])]).map(
        (e) => [e.name, e.value],
      ),
    );
    expect(env).toEqual({
      MY_DB_SERVICE_HOST: 'my-db',
      MY_DB_SERVICE_PORT: '15432',
      MY_DB_SERVICE_PORT_PG: '15432',
      MY_DB_PORT: 'tcp://my-db:15432',
      MY_DB_PORT_15432_TCP: 'tcp://my-db:15432',
      MY_DB_PORT_15432_TCP_PROTO: 'tcp',
      MY_DB_PORT_15432_TCP_PORT: '15432',
      MY_DB_PORT_15432_TCP_ADDR: 'my-db',
      MY_DB_PORT_80_TCP: 'tcp://my-db:80',
      MY_DB_PORT_80_TCP_PROTO: 'tcp',
      MY_DB_PORT_80_TCP_PORT: '80',
      MY_DB_PORT_80_TCP_ADDR: 'my-db',
    });
  });
  it('env beats envFrom beats service variables; a missing Secret, ConfigMap or key is a CreateContainerConfigError without values', async () => {
    const secrets: Record<string, Record<string, string>> = { db: { password: 's3cret', user: 'app' } };
    const readSecret = async (name: string) => secrets[name];
    const configMaps: Record<string, Record<string, string>> = { settings: { colour: 'blue', size: 'L' } };
    const readConfigMap = async (name: string) => configMaps[name];
    const env = await resolveContainerEnv({
      namespace: 'shop',
      services: [svc('db', [{ port: 5432 }])],
      envFrom: [
        { secretRef: { name: 'db' }, prefix: 'DB_' },
        { secretRef: { name: 'gone', optional: true } },
        { configMapRef: { name: 'settings' }, prefix: 'APP_' },
        { configMapRef: { name: 'gone-too', optional: true } },
      ],
      env: [
        { name: 'DB_SERVICE_HOST', value: 'elsewhere' },
        { name: 'PASS', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
        { name: 'OPT', valueFrom: { secretKeyRef: { name: 'db', key: 'nope', optional: true } } },
        { name: 'SIZE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'size' } } },
      ],
      readSecret,
      readConfigMap,
    });
    const map = Object.fromEntries(env.map((e) => [e.name, e.value]));
    expect(map).toMatchObject({
      DB_SERVICE_HOST: 'elsewhere',
      DB_password: 's3cret',
      DB_user: 'app',
      PASS: 's3cret',
      APP_colour: 'blue',
      APP_size: 'L',
      SIZE: 'L',
    });
    expect(map).not.toHaveProperty('OPT');
    const fails = (env: never[], envFrom: never[] = []) =>
      resolveContainerEnv({ namespace: 'shop', services: [], env, envFrom, readSecret, readConfigMap });
    await expect(
      fails([{ name: 'X', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } }] as never[]),
    ).rejects.toThrow(new ContainerConfigError('secret "gone" not found'));
    const err = await fails([
      { name: 'X', valueFrom: { secretKeyRef: { name: 'db', key: 'k' } } },
    ] as never[]).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe("CreateContainerConfigError: couldn't find key k in Secret shop/db");
    expect(err?.message).not.toContain('s3cret');
    await expect(fails([], [{ configMapRef: { name: 'cm' } }] as never[])).rejects.toThrow(
      new ContainerConfigError('configmap "cm" not found'),
    );
    await expect(
      fails([{ name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'k' } } }] as never[]),
    ).rejects.toThrow(new ContainerConfigError("couldn't find key k in ConfigMap shop/settings"));
  });
});

describe('claimVolumeName', () => {
  it('never gives two namespaces the same volume', () => {
    expect(claimVolumeName('a-b', 'c')).not.toBe(claimVolumeName('a', 'b-c'));
    expect(claimVolumeName('shop', 'data')).toBe('slipway-pvc-shop_data');
    expect(() => claimVolumeName('shop', '../x')).toThrow(/DNS-1123/);
  });
});

describe('slipway get deploy', () => {
  it("prints kubectl's columns", async () => {
    const { formatResources } = await import('../../src/cli/output.js');
    const d = { ...deployment(), status: { readyReplicas: 1, updatedReplicas: 2, availableReplicas: 1 } };
    const out = await formatResources(DEPLOYMENT, [d as unknown as Resource], undefined);
    expect(out.split('\n')[0]).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
    expect(out.split('\n')[1]).toMatch(/^web\s+1\/2\s+2\s+1/);
  });
});

describe('syncDeploymentView (against the in-memory store)', () => {
  const DC_KIND = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;
  it('makes the view once, leaves it alone when nothing changed, and follows a change of the Deployment', async () => {
    const { MemoryResourceStore } = await import('../../src/store/memory-store.js');
    const { syncDeploymentView } = await import('../../src/strategies/apps-deployments.js');
    const store = new MemoryResourceStore();
    await store.create(DEPLOYMENT, deployment({}, { [TRIGGERS_ANNOTATION]: TRIGGER }) as unknown as Resource);
    await syncDeploymentView({ store }, 'shop', 'web');
    const first = await store.get(DC_KIND, 'shop', 'web');
    expect(first?.metadata.annotations?.['slipway.dev/deployment']).toBe('web');
    await syncDeploymentView({ store }, 'shop', 'web');
    expect((await store.get(DC_KIND, 'shop', 'web'))?.metadata.resourceVersion).toBe(
      first?.metadata.resourceVersion,
    );
    await store.update(DEPLOYMENT, 'shop', 'web', (cur) => ({ ...cur, spec: { ...cur.spec, replicas: 5 } }));
    await syncDeploymentView({ store }, 'shop', 'web');
    expect((await store.get(DC_KIND, 'shop', 'web'))?.spec?.replicas).toBe(5);
  });
  it("never touches a DeploymentConfig it did not make, and says so on the Deployment's status", async () => {
    const { MemoryResourceStore } = await import('../../src/store/memory-store.js');
    const { syncDeploymentView } = await import('../../src/strategies/apps-deployments.js');
    const store = new MemoryResourceStore();
    const own = { ...deploymentConfigView(deployment()), metadata: { name: 'web', namespace: 'shop' } };
    await store.create(DC_KIND, own as unknown as Resource);
    await store.create(DEPLOYMENT, deployment() as unknown as Resource);
    await syncDeploymentView({ store }, 'shop', 'web');
    expect((await store.get(DC_KIND, 'shop', 'web'))?.metadata.annotations).toBeUndefined();
    const status = (await store.get(DEPLOYMENT, 'shop', 'web'))?.status as {
      conditions: { reason: string }[];
    };
    expect(status.conditions[0]!.reason).toBe('DeploymentConfigExists');
  });
});
