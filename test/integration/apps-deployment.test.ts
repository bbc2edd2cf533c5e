/**
 * A template from the wild on the local target, for real: an ImageStream, a Source
 * BuildConfig on the `static` builder (from a git daemon on loopback), an apps/v1
 * Deployment following the built image through OpenShift's trigger annotation, a Secret
 * read through secretKeyRef and envFrom, a PersistentVolumeClaim, two Services and a
 * Route — processed by the server, applied, built, rolled out and served by the router.
 * The app writes the second Service's `_SERVICE_HOST`/`_SERVICE_PORT` into a served file
 * and the replica reaches that Service by them; a file on the claim outlives a second
 * revision; a Deployment whose Secret is missing fails with CreateContainerConfigError.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { lookupKind, resourcePath, type Resource } from '../../src/core/resource.js';
import { registerBuilderImages } from '../../src/registry/builder-streams.js';
import { startDeployments, startRouter, type DeploymentsHandle } from '../../src/runtime.js';
import type { RouterHandle } from '../../src/strategies/router.js';
import { getViaRouter, removeNamespaceReplicas } from '../support/deploy.js';
import { freePort, startGitDaemon, waitFor, type GitServer } from '../support/stack.js';
import { BC_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

const docker = new Docker();
const run = randomUUID().slice(0, 8);
const ns = `appsd-${run}`;
const marker = `hello-${run}`;
const SECRET_VALUE = `pw-${randomUUID()}`;
const host = `app-${ns}.localhost`;
const DEPLOY = (name = '') => `/apis/apps/v1/namespaces/${ns}/deployments${name ? `/${name}` : ''}`;
const DC = (name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;

let s: TestSlipway;
let git: GitServer;
let deployments: DeploymentsHandle;
let router: RouterHandle;

const TRIGGERS = JSON.stringify([
  {
    from: { kind: 'ImageStreamTag', name: '${NAME}:latest' },
    fieldPath: 'spec.template.spec.containers[?(@.name=="web")].image',
  },
]);

function template(): Record<string, unknown> {
  const labels = { app: '${NAME}' };
  return {
    apiVersion: 'template.openshift.io/v1',
    kind: 'Template',
    metadata: { name: 'static-app' },
    parameters: [
      { name: 'NAME', required: true },
      { name: 'GIT_URI', required: true },
      { name: 'PASSWORD', required: true },
      { name: 'HOST', required: true },
    ],
    objects: [
      { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: '${NAME}' } },
      {
        apiVersion: 'build.openshift.io/v1',
        kind: 'BuildConfig',
        metadata: { name: '${NAME}' },
        spec: {
          source: { git: { uri: '${GIT_URI}', ref: 'main' } },
          strategy: {
            type: 'Source',
            sourceStrategy: {
              from: { kind: 'ImageStreamTag', namespace: 'openshift', name: 'static:latest' },
            },
          },
          output: { to: { kind: 'ImageStreamTag', name: '${NAME}:latest' } },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: '${NAME}-db' },
        stringData: { password: '${PASSWORD}' },
      },
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: '${NAME}-data' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: '${NAME}', annotations: { 'image.openshift.io/triggers': TRIGGERS } },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          progressDeadlineSeconds: 120,
          template: {
            metadata: { labels },
            spec: {
              containers: [
                {
                  name: 'web',
                  image: ' ',
                  // The app's start script: what it was told about the second Service, served as a file.
                  command: [
                    '/bin/sh',
                    '-c',
                    'printf "%s:%s" "$BACKEND_SERVICE_HOST" "$BACKEND_SERVICE_PORT" > "$HOME/backend.txt" && exec /usr/libexec/s2i/run',
                  ],
                  ports: [{ containerPort: 8080 }],
                  env: [
                    {
                      name: 'DB_PASSWORD',
                      valueFrom: { secretKeyRef: { name: '${NAME}-db', key: 'password' } },
                    },
                  ],
                  envFrom: [{ prefix: 'FROM_', secretRef: { name: '${NAME}-db' } }],
                  readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
                  volumeMounts: [{ name: 'data', mountPath: '/data' }],
                },
              ],
              volumes: [{ name: 'data', persistentVolumeClaim: { claimName: '${NAME}-data' } }],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: '${NAME}' },
        spec: { selector: labels, ports: [{ port: 8080, targetPort: 8080 }] },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'backend' },
        spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      },
      {
        apiVersion: 'route.openshift.io/v1',
        kind: 'Route',
        metadata: { name: '${NAME}' },
        spec: { host: '${HOST}', to: { kind: 'Service', name: '${NAME}' } },
      },
    ],
  };
}

/** What `slipway apply -f -` does with each processed object. */
async function apply(obj: Resource): Promise<void> {
  const info = lookupKind(obj.apiVersion, obj.kind)!;
  await s.apiJson('POST', resourcePath(info, ns), obj);
}

async function replicasOf(revision: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({
    filters: { label: [`slipway.dev/namespace=${ns}`, `openshift.io/deployment.name=${revision}`] },
  });
}

function dockerExec(id: string, args: string[], user?: string): string {
  return execFileSync('docker', ['exec', ...(user ? ['-u', user] : []), id, ...args], { encoding: 'utf8' });
}

async function deploymentStatus(name: string): Promise<Record<string, any>> {
  return ((await s.apiJson('GET', DEPLOY(name))) as Resource).status as Record<string, any>;
}

beforeAll(async () => {
  const routerPort = await freePort();
  s = await startSlipway({ workers: 1, config: { routerListen: `127.0.0.1:${routerPort}` } });
  git = await startGitDaemon();
  deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  router = await startRouter(s.rt);
  expect(
    await registerBuilderImages({
      docker: s.rt.docker,
      store: s.rt.store,
      registry: s.registry.host,
      log: () => undefined,
      only: ['static'],
    }),
  ).toEqual(['openshift/static:latest']);
  git.commit('site', { 'index.html': `<p>${marker}</p>\n` });
}, 180000);

afterAll(async () => {
  await deployments?.close();
  await router?.close();
  await s?.stop();
  await git?.stop();
  await removeNamespaceReplicas(docker, ns);
  await docker
    .getVolume(`slipway-pvc-${ns}_app-data`)
    .remove()
    .catch(() => undefined);
}, 120000);

test('a template with ImageStream, Source BuildConfig, triggered apps/v1 Deployment, Secret, claim, two Services and a Route builds and serves through the router', async () => {
  const processed = (await s.apiJson(
    'POST',
    `/apis/template.openshift.io/v1/namespaces/${ns}/processedtemplates`,
    {
      ...template(),
      parameters: (template().parameters as { name: string }[]).map((p) => ({
        ...p,
        value: { NAME: 'app', GIT_URI: git.url('site'), PASSWORD: SECRET_VALUE, HOST: host }[p.name],
      })),
    },
  )) as unknown as { objects: Resource[] };
  for (const obj of processed.objects) await apply(obj);
  await s.apiJson('POST', `${BC_PATH(ns, 'app')}/instantiate`, {});
  const build = await s.waitForBuild(ns, 'app-1');
  expect((build.status as { phase: string }).phase).toBe('Complete');

  // The trigger annotation follows the built tag: the Deployment rolls out and the router serves it.
  const page = await waitFor(
    'the app through the router',
    async () => {
      const res = await getViaRouter(router.url, host);
      return res.status === 200 && res.body.includes(marker) ? res.body : undefined;
    },
    120000,
    300,
  );
  expect(page).toContain(marker);
  // Kubernetes' service variables name the second Service as the replica reaches it.
  expect((await getViaRouter(router.url, host, '/backend.txt')).body).toBe('backend:8080');
  const [replica] = await replicasOf('app-1');
  const fetched = dockerExec(replica!.Id, [
    'perl',
    '-MIO::Socket::INET',
    '-e',
    '$s = IO::Socket::INET->new("$ENV{BACKEND_SERVICE_HOST}:$ENV{BACKEND_SERVICE_PORT}") or die "connect: $!"; print $s "GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n"; print <$s>;',
  ]);
  expect(fetched).toContain(marker);

  const status = await waitFor(
    'the Deployment status',
    async () => {
      const st = await deploymentStatus('app');
      return st?.availableReplicas === 1 &&
        st.conditions?.some((c: any) => c.reason === 'NewReplicaSetAvailable')
        ? st
        : undefined;
    },
    30000,
    300,
  );
  expect(status).toMatchObject({ replicas: 1, readyReplicas: 1, updatedReplicas: 1 });
  expect(status.conditions.find((c: any) => c.type === 'Available').status).toBe('True');
  const rcs = (await s.apiJson('GET', `/api/v1/namespaces/${ns}/replicationcontrollers`)) as unknown as {
    items: Resource[];
  };
  expect(rcs.items.map((r) => r.metadata.name)).toEqual(['app-1']);

  // The Secret reaches the container's environment, and nothing else.
  const env = (await docker.getContainer(replica!.Id).inspect()).Config.Env;
  expect(env).toEqual(
    expect.arrayContaining([`DB_PASSWORD=${SECRET_VALUE}`, `FROM_password=${SECRET_VALUE}`]),
  );
  expect(JSON.stringify(replica!.Labels)).not.toContain(SECRET_VALUE);
  const answers = await Promise.all(
    [
      DEPLOY('app'),
      DC('app'),
      `/api/v1/namespaces/${ns}/replicationcontrollers/app-1`,
      `${DC('app')}/log`,
    ].map(async (p) => (await s.api('GET', p)).text()),
  );
  for (const a of answers) expect(a).not.toContain(SECRET_VALUE);

  // A file on the claim outlives the revision: change the template, revision 2 mounts the same volume.
  dockerExec(replica!.Id, ['sh', '-c', `echo kept-${run} > /data/keep.txt`], '0');
  const d = (await s.apiJson('GET', DEPLOY('app'))) as Resource & { spec: any };
  d.spec.template.spec.containers[0].env.push({ name: 'REVISION', value: '2' });
  await s.apiJson('PUT', DEPLOY('app'), d);
  const [second] = await waitFor(
    'revision 2 serving',
    async () => {
      const st = await deploymentStatus('app');
      const r = await replicasOf('app-2');
      return st?.observedGeneration === 2 &&
        st.updatedReplicas === 1 &&
        st.availableReplicas === 1 &&
        r.length === 1 &&
        (await replicasOf('app-1')).length === 0
        ? r
        : undefined;
    },
    90000,
    300,
  );
  expect(dockerExec(second!.Id, ['cat', '/data/keep.txt']).trim()).toBe(`kept-${run}`);

  // Deleting the Deployment takes its revisions; deleting the claim then removes the volume.
  await s.apiJson('DELETE', DEPLOY('app'));
  await waitFor(
    'the view and its replicas gone',
    async () =>
      (await s.api('GET', DC('app'))).status === 404 && (await replicasOf('app-2')).length === 0
        ? true
        : undefined,
    60000,
    300,
  );
  await s.apiJson('DELETE', `/api/v1/namespaces/${ns}/persistentvolumeclaims/app-data`);
  await waitFor(
    'the claim volume removed',
    async () => {
      const { Volumes } = await docker.listVolumes({ filters: { name: [`slipway-pvc-${ns}_app-data`] } });
      return (Volumes ?? []).length === 0 ? true : undefined;
    },
    60000,
    500,
  );
}, 420000);

test('a Deployment whose Secret is missing fails its rollout with CreateContainerConfigError', async () => {
  await s.apiJson('POST', DEPLOY(), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'broken' },
    spec: {
      selector: { matchLabels: { app: 'broken' } },
      progressDeadlineSeconds: 3,
      template: {
        metadata: { labels: { app: 'broken' } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'slipway/s2i-static:latest',
              env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'missing', key: 'k' } } }],
            },
          ],
        },
      },
    },
  });
  const st = await waitFor(
    'the rollout to fail',
    async () => {
      const status = await deploymentStatus('broken');
      return status?.conditions?.some((c: any) => c.type === 'Progressing' && c.status === 'False')
        ? status
        : undefined;
    },
    60000,
    300,
  );
  const progressing = st.conditions.find((c: any) => c.type === 'Progressing');
  expect(progressing.reason).toBe('ProgressDeadlineExceeded');
  expect(progressing.message).toContain('CreateContainerConfigError: secret "missing" not found');
  expect(await replicasOf('broken-1')).toHaveLength(0);
}, 90000);
