/**
 * The Kubernetes target's pure core: how pods are read (readiness, availability,
 * failures, one-off pod outcomes), what is sent (manifests without Slipway's store
 * metadata), OpenShift's image trigger annotation, and which target a configuration picks.
 */
import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import { decideRollout, revisionFor } from '../../src/strategies/deployment-config.js';
import {
  containerForFieldPath,
  parseImageTriggers,
  triggeredChanges,
} from '../../src/strategies/kubernetes/image-triggers.js';
import {
  inClusterAvailable,
  plain,
  SERVICE_ACCOUNT_TOKEN,
} from '../../src/strategies/kubernetes/kube-client.js';
import {
  ingressBackendPort,
  ingressManifest,
  revisionManifest,
  routeTlsSecret,
  runPodManifest,
  serviceManifest,
} from '../../src/strategies/kubernetes/manifests.js';
import { podOutcome, revisionStatusFrom, type KubePod } from '../../src/strategies/kubernetes/pod-status.js';
import type { ReplicationController } from '../../src/strategies/target.js';
import { deployTargetKind } from '../../src/strategies/targets.js';

const NOW = Date.parse('2024-05-01T12:00:10Z');

const rc: ReplicationController = {
  apiVersion: 'v1',
  kind: 'ReplicationController',
  metadata: { name: 'web-2', namespace: 'shop', uid: 'rc-uid' },
  spec: {
    replicas: 4,
    selector: { deployment: 'web-2' },
    template: { spec: { containers: [{ name: 'web', image: 'web:2' }] } },
    minReadySeconds: 5,
  },
};

function pod(
  name: string,
  extra: Partial<KubePod['metadata']> = {},
  status: KubePod['status'] = {},
): KubePod {
  return {
    metadata: {
      name,
      labels: { deployment: 'web-2' },
      ownerReferences: [
        { apiVersion: 'v1', kind: 'ReplicationController', name: 'web-2', uid: 'rc-uid', controller: true },
      ],
      ...extra,
    },
    status: { phase: 'Running', ...status },
  };
}

const readySince = (iso: string): KubePod['status'] => ({
  conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: iso }],
});

describe('revisionStatusFrom', () => {
  test('ready from the Ready condition, available after minReadySeconds, terminating and foreign pods left out', () => {
    const pods = [
      pod('a', {}, readySince('2024-05-01T12:00:00Z')), // ready for 10 s: available
      pod('b', {}, readySince('2024-05-01T12:00:08Z')), // ready for 2 s: not yet available
      pod(
        'c',
        {},
        {
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'ContainersNotReady',
              message: 'containers with unready status: [web]',
            },
          ],
        },
      ),
      pod('d', { deletionTimestamp: '2024-05-01T12:00:30Z' }, readySince('2024-05-01T12:00:00Z')), // terminating
      pod(
        'e',
        {
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'other', uid: 'x', controller: true },
          ],
        },
        readySince('2024-05-01T12:00:00Z'),
      ),
      pod('f', { labels: { deployment: 'web-1' } }, readySince('2024-05-01T12:00:00Z')),
      pod('g', {}, { phase: 'Succeeded' }),
    ];
    expect(revisionStatusFrom(rc, pods, NOW)).toEqual({
      desired: 4,
      current: 3,
      ready: 2,
      available: 1,
      failures: [],
      notReady: ['pod c: containers with unready status: [web]'],
    });
  });

  test('failures: stuck waiting reasons, unschedulable pods and the RC’s ReplicaFailure; ContainerCreating is not one', () => {
    const pods = [
      pod(
        'a',
        {},
        {
          phase: 'Pending',
          containerStatuses: [{ name: 'web', state: { waiting: { reason: 'ContainerCreating' } } }],
        },
      ),
      pod(
        'b',
        {},
        {
          phase: 'Pending',
          containerStatuses: [
            { name: 'web', state: { waiting: { reason: 'ErrImagePull', message: 'manifest unknown' } } },
          ],
        },
      ),
      pod(
        'c',
        {},
        {
          containerStatuses: [
            {
              name: 'web',
              restartCount: 4,
              state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
              lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
            },
          ],
        },
      ),
      pod(
        'd',
        {},
        {
          phase: 'Pending',
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'Unschedulable',
              message: '0/3 nodes are available: 3 Insufficient memory.',
            },
          ],
        },
      ),
    ];
    const withFailure = {
      ...rc,
      status: {
        conditions: [
          { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'exceeded quota' },
        ],
      },
    } as ReplicationController;
    const s = revisionStatusFrom(withFailure, pods, NOW);
    expect(s.failures).toEqual([
      'web-2: FailedCreate: exceeded quota',
      'pod b: container "web" ErrImagePull: manifest unknown',
      'pod c: container "web" CrashLoopBackOff: back-off 40s (exited 137 OOMKilled, restarted 4 time(s))',
      'pod d cannot be scheduled: 0/3 nodes are available: 3 Insufficient memory.',
    ]);
    expect(s.notReady).toEqual(['pod a: container "web" ContainerCreating']);
  });
});

describe('podOutcome', () => {
  const run = (status: NonNullable<KubePod['status']>): KubePod => ({
    metadata: { name: 'web-2-hook-pre' },
    status,
  });
  test('running → undefined; finished → the container’s exit code', () => {
    expect(podOutcome(run({ phase: 'Running' }), 'lifecycle')).toBeUndefined();
    expect(
      podOutcome(
        run({
          phase: 'Failed',
          containerStatuses: [{ name: 'lifecycle', state: { terminated: { exitCode: 2 } } }],
        }),
        'lifecycle',
      ),
    ).toEqual({ exitCode: 2 });
    expect(podOutcome(run({ phase: 'Succeeded' }), 'lifecycle')).toEqual({ exitCode: 0 });
  });
  test('a pod that cannot start or failed without an exit code throws, saying why; ErrImagePull alone waits', () => {
    const waiting = (reason: string): KubePod =>
      run({
        phase: 'Pending',
        containerStatuses: [{ name: 'lifecycle', state: { waiting: { reason, message: 'm' } } }],
      });
    expect(podOutcome(waiting('ErrImagePull'), 'lifecycle')).toBeUndefined();
    expect(() => podOutcome(waiting('ImagePullBackOff'), 'lifecycle')).toThrow(
      'pod web-2-hook-pre cannot start: ImagePullBackOff: m',
    );
    expect(() => podOutcome(waiting('CreateContainerConfigError'), 'lifecycle')).toThrow(
      /CreateContainerConfigError/,
    );
    expect(() =>
      podOutcome(
        run({ phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active too long' }),
        'lifecycle',
      ),
    ).toThrow(
      'pod web-2-hook-pre failed before its container exited: DeadlineExceeded: Pod was active too long',
    );
  });
});

describe('manifests', () => {
  test('a revision is sent without Slipway’s store metadata and without its DeploymentConfig owner, labelled as Slipway’s', () => {
    const m = revisionManifest({
      ...rc,
      metadata: {
        ...rc.metadata,
        resourceVersion: '17',
        creationTimestamp: '2024-01-01T00:00:00Z',
        generation: 3,
        labels: { app: 'web' },
        ownerReferences: [
          {
            apiVersion: 'apps.openshift.io/v1',
            kind: 'DeploymentConfig',
            name: 'web',
            uid: '',
            controller: true,
          },
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'keep', uid: 'cm-uid' },
        ],
      },
    });
    expect(m.metadata).toEqual({
      name: 'web-2',
      namespace: 'shop',
      labels: { app: 'web', 'app.kubernetes.io/managed-by': 'slipway' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'keep', uid: 'cm-uid' }],
    });
    expect(m.spec.minReadySeconds).toBe(5);
    expect(() =>
      revisionManifest({
        ...rc,
        spec: { ...rc.spec, template: { spec: { containers: [{ name: 'web', image: '' }] } } },
      }),
    ).toThrow(/container "web" has no image/);
  });

  test('a deployer pod takes its token from a Secret and runs as its service account', () => {
    const m = runPodManifest({
      namespace: 'shop',
      name: 'web-2-deploy',
      image: 'd:1',
      env: [{ name: 'A', value: '1' }],
      labels: { x: 'y' },
      apiAccess: { url: 'http://u', token: 'secret-token', serviceAccountName: 'deployer' },
    });
    expect(JSON.stringify(m)).not.toContain('secret-token');
    expect(m.metadata.labels).toEqual({ x: 'y', 'app.kubernetes.io/managed-by': 'slipway' });
    expect(m.spec).toMatchObject({ restartPolicy: 'Never', serviceAccountName: 'deployer' });
    expect((m.spec as { containers: { env: unknown[] }[] }).containers[0]!.env).toEqual([
      { name: 'A', value: '1' },
      {
        name: 'SLIPWAY_API_URL',
        valueFrom: { secretKeyRef: { name: 'web-2-deploy-slipway-api', key: 'SLIPWAY_API_URL' } },
      },
      {
        name: 'SLIPWAY_TOKEN',
        valueFrom: { secretKeyRef: { name: 'web-2-deploy-slipway-api', key: 'SLIPWAY_TOKEN' } },
      },
    ]);
  });

  test('a replaced Service keeps what the cluster allocated and the user left unset', () => {
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop', uid: 'store-uid', resourceVersion: '3' },
      spec: { type: 'NodePort', ports: [{ port: 80 }, { port: 443, nodePort: 31443 }] },
    };
    const existing = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', resourceVersion: '991' },
      spec: {
        type: 'NodePort',
        clusterIP: '10.0.0.7',
        clusterIPs: ['10.0.0.7'],
        ports: [
          { port: 80, protocol: 'TCP', nodePort: 30080 },
          { port: 443, protocol: 'TCP', nodePort: 30443 },
        ],
      },
    };
    const m = serviceManifest(service, existing);
    expect(m.metadata).toEqual({ name: 'web', namespace: 'shop', resourceVersion: '991' });
    expect(m.spec).toEqual({
      type: 'NodePort',
      clusterIP: '10.0.0.7',
      clusterIPs: ['10.0.0.7'],
      ports: [
        { port: 80, nodePort: 30080 },
        { port: 443, nodePort: 31443 },
      ],
    });
  });

  test('plain() turns the client’s Dates back into RFC 3339 at one-second precision', () => {
    expect(plain({ metadata: { creationTimestamp: new Date('2024-05-01T12:00:00Z') } })).toEqual({
      metadata: { creationTimestamp: '2024-05-01T12:00:00Z' },
    });
  });
});

describe('image.openshift.io/triggers', () => {
  test('field paths read as openshift/library-go reads them', () => {
    expect(containerForFieldPath('spec.template.spec.containers[?(@.name=="web")].image')).toEqual({
      init: false,
      name: 'web',
    });
    expect(containerForFieldPath('spec.template.spec.initContainers[1].image')).toEqual({
      init: true,
      index: 1,
    });
    for (const bad of [
      'spec.containers[0].image',
      'spec.template.spec.containers[0].command',
      "spec.template.spec.containers[?(@.name=='web')].image",
    ]) {
      expect(() => containerForFieldPath(bad)).toThrow(/is not valid/);
    }
  });

  test('the annotation must be a JSON list without two triggers on one fieldPath', () => {
    expect(() => parseImageTriggers('{')).toThrow(/is not JSON/);
    expect(() => parseImageTriggers('{}')).toThrow(/JSON list/);
    const t = {
      from: { kind: 'ImageStreamTag', name: 'web:latest' },
      fieldPath: 'spec.template.spec.containers[0].image',
    };
    expect(() => parseImageTriggers(JSON.stringify([t, t]))).toThrow(/duplicate triggers/);
  });

  test('which containers change: tag and namespace match, paused skipped, current images left alone', () => {
    const d = (triggers: unknown[], namespace = 'shop') => ({
      metadata: {
        name: 'd',
        namespace,
        annotations: { 'image.openshift.io/triggers': JSON.stringify(triggers) },
      },
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'web', image: 'old' },
              { name: 'side', image: 'new' },
            ],
          },
        },
      },
    });
    const update = { namespace: 'shop', imageStreamTag: 'web', image: 'new' };
    const web = {
      from: { kind: 'ImageStreamTag', name: 'web:latest' },
      fieldPath: 'spec.template.spec.containers[?(@.name=="web")].image',
    };
    expect(triggeredChanges(d([web]), update)).toEqual([
      { init: false, container: 'web', from: 'old', to: 'new' },
    ]);
    expect(triggeredChanges(d([{ ...web, paused: true }]), update)).toEqual([]);
    expect(triggeredChanges(d([web], 'blog'), update)).toEqual([]); // the trigger means blog's own web:latest
    expect(
      triggeredChanges(d([{ ...web, from: { ...web.from, namespace: 'shop' } }], 'blog'), update),
    ).toHaveLength(1);
    expect(
      triggeredChanges(d([{ ...web, fieldPath: 'spec.template.spec.containers[1].image' }]), update),
    ).toEqual([]); // already current
    expect(() =>
      triggeredChanges(
        d([{ ...web, fieldPath: 'spec.template.spec.containers[?(@.name=="db")].image' }]),
        update,
      ),
    ).toThrow(/no such container/);
  });
});

describe('which target', () => {
  test('a kubeconfig, or a pod’s service account, selects Kubernetes; nothing selects Docker', () => {
    expect(deployTargetKind({ kubeconfig: '/etc/slipway/kubeconfig' }, {})).toBe('kubernetes');
    expect(deployTargetKind({}, {})).toBe('docker');
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(inClusterAvailable(env, (p) => p === SERVICE_ACCOUNT_TOKEN)).toBe(true);
    expect(inClusterAvailable(env, () => false)).toBe(false);
    expect(inClusterAvailable({}, () => true)).toBe(false);
  });
});

describe('ConfigChange against a revision read back from a cluster', () => {
  test('server defaults on the RC’s template are not a change; a real edit is', () => {
    const dc: DeploymentConfig = {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        replicas: 1,
        selector: { app: 'web' },
        triggers: [{ type: 'ConfigChange' }],
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'registry.example/web@sha256:1' }] },
        },
      },
    } as DeploymentConfig;
    const made = revisionFor(dc, 1, [{ type: 'ConfigChange' }]);
    // What the API server answers: the same template with its defaults filled in.
    const fromCluster = structuredClone(made);
    const c = fromCluster.spec.template.spec.containers[0] as Record<string, unknown>;
    Object.assign(c, {
      imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      resources: {},
    });
    Object.assign(fromCluster.spec.template.spec, {
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      securityContext: {},
      terminationGracePeriodSeconds: 30,
    });
    expect(decideRollout(dc, fromCluster)).toMatchObject({ start: false });
    const edited = structuredClone(dc);
    edited.spec.template.spec.containers[0]!.env = [{ name: 'X', value: '1' }];
    expect(decideRollout(edited, fromCluster)).toEqual({ start: true, causes: [{ type: 'ConfigChange' }] });
  });
});

describe('Routes as Ingresses', () => {
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      ports: [
        { name: 'http', port: 80, targetPort: 8080 },
        { port: 9000, targetPort: 'metrics' },
      ],
    },
  };
  const route = (spec: Record<string, unknown>) => ({
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    metadata: { name: 'shop', namespace: 'shop', uid: 'store-uid', resourceVersion: '9' },
    spec: { to: { kind: 'Service', name: 'web' }, ...spec },
  });

  test('the backend port: a target port number maps to its Service port, a name stays a name, none is the first port', () => {
    expect(ingressBackendPort(8080, service)).toEqual({ number: 80 });
    expect(ingressBackendPort('http', service)).toEqual({ name: 'http' });
    expect(ingressBackendPort('metrics', service)).toEqual({ number: 9000 });
    expect(ingressBackendPort(undefined, service)).toEqual({ name: 'http' });
    expect(() => ingressBackendPort(undefined, undefined)).toThrow(/an Ingress needs a port/);
  });

  test('edge TLS goes into a kubernetes.io/tls Secret with the CA chain; passthrough is refused', () => {
    const edge = route({
      host: 'a.example',
      tls: { termination: 'edge', certificate: 'CERT\n', key: 'KEY\n', caCertificate: 'CA\n' },
    });
    const ing = ingressManifest(edge, service);
    expect(ing.metadata).toEqual({
      name: 'shop',
      namespace: 'shop',
      annotations: { 'slipway.dev/route': 'shop' },
    });
    expect(ing.spec).toMatchObject({ tls: [{ hosts: ['a.example'], secretName: 'shop-tls' }] });
    expect(routeTlsSecret(edge)).toMatchObject({
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': 'CERT\nCA\n', 'tls.key': 'KEY\n' },
    });
    expect(routeTlsSecret(route({ host: 'a.example' }))).toBeUndefined();
    expect(() => ingressManifest(route({ tls: { termination: 'passthrough' } }), service)).toThrow(
      /passthrough TLS has no networking.k8s.io\/v1 Ingress equivalent/,
    );
  });
});
