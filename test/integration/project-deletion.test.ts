/**
 * Deleting a project on the real stack leaves nothing of it: a project with a build
 * running, a second one queued behind it (started by a generic webhook, so a delivery is
 * claimed), a finished build whose image is in the registry, a DeploymentConfig with a
 * replica on the local Docker target mounting a claim, and a Secret. After the DELETE,
 * no Redis key names the namespace, no container, network or volume is left for it, its
 * images are gone from the registry, the queued build never starts, and nothing can be
 * created there until the project is requested again.
 */
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import type { Resource } from '../../src/core/resource.js';
import { startDeployments, type DeploymentsHandle } from '../../src/runtime.js';
import { removeNamespaceReplicas } from '../support/deploy.js';
import { BASE_IMAGE, waitFor } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, IS_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

const docker = new Docker();
const ns = `del-${randomUUID().slice(0, 8)}`;
const PROJECTS = '/apis/project.openshift.io/v1/projects';
const DC = `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs`;
let s: TestSlipway;
let deployments: DeploymentsHandle;

beforeAll(async () => {
  s = await startSlipway({ workers: 1 });
  deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
}, 60000);

afterAll(async () => {
  await deployments?.close();
  await s?.stop();
  // Only if the test failed: what it made must not outlive it.
  await removeNamespaceReplicas(docker, ns);
  for (const v of (await docker.listVolumes({ filters: { label: [`slipway.dev/namespace=${ns}`] } }))
    .Volumes ?? [])
    await docker
      .getVolume(v.Name)
      .remove()
      .catch(() => undefined);
}, 60000);

function dockerfileBuildConfig(
  name: string,
  dockerfile: string,
  extra: Record<string, unknown> = {},
): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { dockerfile },
      strategy: { type: 'Docker', dockerStrategy: { from: { kind: 'DockerImage', name: BASE_IMAGE } } },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
      ...extra,
    },
  };
}

async function keysNaming(name: string): Promise<string[]> {
  const redis = new Redis(s.redis.url);
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', '*', 'COUNT', 1000);
      keys.push(...batch.filter((k) => k.includes(name)));
      cursor = next;
    } while (cursor !== '0');
    return keys.sort();
  } finally {
    redis.disconnect();
  }
}

async function dockerLeftovers(): Promise<string[]> {
  const label = { filters: { label: [`slipway.dev/namespace=${ns}`] } };
  const containers = (await docker.listContainers({ all: true })).filter(
    (c) => c.Labels['slipway.dev/namespace'] === ns || c.Names.some((n) => n.includes(ns)),
  );
  const networks = (await docker.listNetworks()).filter(
    (n) => n.Labels?.['slipway.dev/namespace'] === ns || n.Name.includes(ns),
  );
  const volumes = [
    ...((await docker.listVolumes(label)).Volumes ?? []),
    ...((await docker.listVolumes()).Volumes ?? []).filter((v) => v.Name.includes(ns)),
  ];
  return [
    ...containers.map((c) => `container ${c.Names.join(',')}`),
    ...networks.map((n) => `network ${n.Name}`),
    ...volumes.map((v) => `volume ${v.Name}`),
  ];
}

test('deleting a project stops and removes everything of it, and nothing of it is left in Redis', async () => {
  expect(
    (await s.api('POST', '/apis/project.openshift.io/v1/projectrequests', { metadata: { name: ns } })).status,
  ).toBe(201);
  await s.apiJson('POST', `/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'hook' },
    stringData: { WebHookSecretKey: 'generic-secret' },
  });

  // A finished build: its image is in the registry and on an ImageStream.
  await s.apiJson(
    'POST',
    BC_PATH(ns),
    dockerfileBuildConfig('img', `FROM ${BASE_IMAGE}\nRUN echo ${ns} > /made\n`),
  );
  await s.apiJson('POST', `${BC_PATH(ns, 'img')}/instantiate`, {
    kind: 'BuildRequest',
    metadata: { name: 'img' },
  });
  const img = await s.waitForBuild(ns, 'img-1', undefined, 60000);
  expect((img.status as { phase?: string }).phase).toBe('Complete');
  const repo = `http://${s.registry.host}/v2/${ns}/img`;
  expect(((await (await fetch(`${repo}/tags/list`)).json()) as { tags: string[] }).tags).toEqual(['latest']);

  // A build that runs, and a second one queued behind it (Serial) by a generic webhook.
  const marker = randomUUID();
  await s.apiJson(
    'POST',
    BC_PATH(ns),
    dockerfileBuildConfig('slow', `FROM ${BASE_IMAGE}\nRUN echo ${marker} && sleep 300\n`, {
      triggers: [{ type: 'Generic', generic: { secretReference: { name: 'hook' } } }],
    }),
  );
  await s.apiJson('POST', `${BC_PATH(ns, 'slow')}/instantiate`, {
    kind: 'BuildRequest',
    metadata: { name: 'slow' },
  });
  const hook = await fetch(`${s.http.url}${BC_PATH(ns, 'slow')}/webhooks/generic-secret/generic`, {
    method: 'POST',
    headers: { 'idempotency-key': `delivery-${marker}` },
  });
  expect([200, 201]).toContain(hook.status);
  await s.waitForBuild(ns, 'slow-1', ['Running'], 30000);
  expect((await s.apiJson('GET', BUILD_PATH(ns, 'slow-2'))).status).toMatchObject({ phase: 'New' });
  const buildRuns = async (text: string): Promise<boolean> =>
    (await docker.listContainers()).some((c) => c.Command.includes(text));
  await waitFor('the running build’s container', () => buildRuns(marker), 30000);

  // A replica with a claim on the local target.
  await s.apiJson('POST', `/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Mi' } } },
  });
  await s.apiJson('POST', DC, {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name: 'web' },
    spec: {
      replicas: 1,
      selector: { app: 'web' },
      strategy: { type: 'Recreate' },
      triggers: [{ type: 'ConfigChange' }],
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'web',
              image: BASE_IMAGE,
              command: ['sleep', '3600'],
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
          volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
          // `sleep` as PID 1 ignores SIGTERM: the grace period would be waited out in full.
          terminationGracePeriodSeconds: 1,
        },
      },
    },
  });
  await waitFor(
    'the replica to run',
    async () =>
      (
        await docker.listContainers({
          filters: { label: [`slipway.dev/namespace=${ns}`, 'slipway.dev/managed=replica'] },
        })
      ).length === 1,
    45000,
  );
  expect(await keysNaming(ns)).not.toEqual([]);

  const res = await s.api('DELETE', `${PROJECTS}/${ns}`);
  // The Status body says what went wrong when the deletion did not finish.
  expect({ code: res.status, status: await res.text() }).toEqual({ code: 200, status: expect.any(String) });

  const left = await keysNaming(ns);
  expect({ keysLeftInRedis: left }).toEqual({ keysLeftInRedis: [] });
  expect({ leftInDocker: await dockerLeftovers() }).toEqual({ leftInDocker: [] });
  expect(await buildRuns(marker)).toBe(false);
  // The registry allows deletes here (test/support/stack.ts): the image's manifest is gone.
  const tags = (await (await fetch(`${repo}/tags/list`)).json()) as { tags?: string[] | null };
  expect(tags.tags ?? []).toEqual([]);

  // Nothing can be made in the namespace while its deletion's stragglers may still end…
  const late = await s.api('POST', IS_PATH(ns), {
    apiVersion: 'image.openshift.io/v1',
    kind: 'ImageStream',
    metadata: { name: 'late' },
  });
  expect(late.status).toBe(403);
  expect(await late.text()).toContain('being terminated');
  // …and the queued build never started: no worker made its Build or its job again.
  expect((await s.api('GET', BUILD_PATH(ns, 'slow-2'))).status).toBe(404);
  expect(await keysNaming(ns)).toEqual([]);

  // Requesting the project again opens the namespace again.
  expect(
    (await s.api('POST', '/apis/project.openshift.io/v1/projectrequests', { metadata: { name: ns } })).status,
  ).toBe(201);
  expect(
    (
      await s.api('POST', IS_PATH(ns), {
        apiVersion: 'image.openshift.io/v1',
        kind: 'ImageStream',
        metadata: { name: 'again' },
      })
    ).status,
  ).toBe(201);
  expect((await s.api('DELETE', `${PROJECTS}/${ns}`)).status).toBe(200);
}, 120000);
