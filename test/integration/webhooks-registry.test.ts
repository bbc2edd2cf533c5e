/**
 * Registry notifications end to end: a real docker-registry configured to notify
 * Slipway's `/webhooks/registry`, images pushed to it with the docker CLI, the
 * ImageStream tags that follow, the ImageChange-triggered builds, the DeploymentConfig
 * hook, and the loop guard of a BuildConfig whose output is its own input.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { lookupKind } from '../../src/core/resource.js';
import type { FiredDeploymentDecision } from '../../src/triggers/image-change-dispatch.js';
import type { ImageStreamTagUpdate } from '../../src/triggers/image-change.js';
import {
  BASE_IMAGE,
  freePort,
  startGitDaemon,
  startRegistry,
  waitFor,
  type GitServer,
  type RegistryHandle,
} from '../support/stack.js';
import { BC_PATH, BUILD_PATH, IS_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { post } from '../support/webhooks.js';

let s: TestSlipway;
let registry: RegistryHandle;
let git: GitServer;
const ns = `reg-${randomUUID().slice(0, 8)}`;
const NOTIFY_TOKEN = `notify-${randomUUID()}`;
const deployments: { dc: string; decision: FiredDeploymentDecision; update: ImageStreamTagUpdate }[] = [];
const pushedRefs: string[] = [];

beforeAll(async () => {
  const port = await freePort();
  registry = await startRegistry({
    notifyUrl: `http://127.0.0.1:${port}/webhooks/registry`,
    notifyToken: NOTIFY_TOKEN,
  });
  s = await startSlipway({
    workers: 1,
    registry,
    config: { listen: `127.0.0.1:${port}`, registryNotifyToken: NOTIFY_TOKEN },
    runtime: {
      onDeploymentImageChange: async (dc, decision, update) => {
        deployments.push({ dc: `${dc.metadata.namespace}/${dc.metadata.name}`, decision, update });
      },
    },
  });
  git = await startGitDaemon();
});
afterAll(async () => {
  await s?.stop();
  await registry?.stop();
  await git?.stop();
  for (const ref of pushedRefs) {
    try {
      execFileSync('docker', ['image', 'rm', '-f', ref], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

/** Makes a small distinct image and pushes it with the docker CLI; returns its digest. */
function dockerPush(repository: string, tag: string): string {
  const ref = `${registry.host}/${repository}:${tag}`;
  pushedRefs.push(ref);
  execFileSync('docker', ['build', '-q', '-t', ref, '-'], {
    input: `FROM ${BASE_IMAGE}\nLABEL nonce=${randomUUID()}\n`,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const out = execFileSync('docker', ['push', ref], { encoding: 'utf8' });
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
  if (!digest) throw new Error(`docker push ${ref} printed no digest:\n${out}`);
  return digest;
}

async function tagItems(
  stream: string,
  tag: string,
): Promise<{ image: string; dockerImageReference: string }[]> {
  const res = await s.api('GET', IS_PATH(ns, stream));
  if (!res.ok) return [];
  const is = (await res.json()) as Resource;
  return ((is.status as any)?.tags ?? []).find((t: { tag: string }) => t.tag === tag)?.items ?? [];
}

async function waitForTag(stream: string, tag: string, digest: string): Promise<void> {
  await waitFor(
    `${stream}:${tag} to point at ${digest}`,
    async () => (await tagItems(stream, tag))[0]?.image === digest,
    30000,
    100,
  );
}

async function buildsOf(bc: string): Promise<Resource[]> {
  const list = await s.apiJson<{ items: Resource[] }>(
    'GET',
    `${BUILD_PATH(ns)}?labelSelector=openshift.io/build-config.name%3D${bc}`,
  );
  return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name, 'en', { numeric: true }));
}

function dockerBuildConfig(name: string, from: string, output: string): Resource {
  git.commit(name, { Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo ${name} >> /layers\n` });
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri: git.url(name), ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: { from: { kind: 'ImageStreamTag', name: from } } },
      output: { to: { kind: 'ImageStreamTag', name: output } },
      triggers: [{ type: 'ImageChange', imageChange: {} }],
    },
  };
}

test('a docker push to the registry lands on the ImageStream tag, with history', async () => {
  const first = dockerPush(`${ns}/pushed`, 'v1');
  await waitForTag('pushed', 'v1', first);
  const second = dockerPush(`${ns}/pushed`, 'v1');
  await waitForTag('pushed', 'v1', second);
  const items = await tagItems('pushed', 'v1');
  expect(items.map((i) => i.image)).toEqual([second, first]);
  expect(items[0]!.dockerImageReference).toBe(`${registry.host}/${ns}/pushed@${second}`);
});

test('a pushed base image starts the ImageChange build that follows it, on that exact image, and the DeploymentConfig hook fires', async () => {
  await s.apiJson('POST', BC_PATH(ns), dockerBuildConfig('app', 'base:v1', 'app:latest'));
  const DC = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;
  await s.rt.store.create(DC, {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name: 'app', namespace: ns },
    spec: {
      replicas: 1,
      template: { spec: { containers: [{ name: 'app', image: 'app:latest' }] } },
      triggers: [
        {
          type: 'ImageChange',
          imageChangeParams: {
            automatic: true,
            containerNames: ['app'],
            from: { kind: 'ImageStreamTag', name: 'app:latest' },
          },
        },
      ],
    },
  });
  const base = dockerPush(`${ns}/base`, 'v1');
  const baseRef = `${registry.host}/${ns}/base@${base}`;
  const build = await waitFor(
    'an image-change build of app',
    async () => (await buildsOf('app'))[0],
    30000,
    200,
  );
  expect(build.metadata.name).toBe('app-1');
  expect((build.spec as any).triggeredBy).toEqual([
    {
      message: 'Image change',
      imageChangeBuild: {
        imageID: baseRef,
        fromRef: { kind: 'ImageStreamTag', name: 'base:v1', namespace: ns },
      },
    },
  ]);
  expect((build.spec as any).strategy.dockerStrategy.from).toEqual({ kind: 'DockerImage', name: baseRef });
  const bc = await s.apiJson('GET', BC_PATH(ns, 'app'));
  expect((bc.spec as any).triggers[0].imageChange.lastTriggeredImageID).toBe(baseRef);

  const done = await s.waitForBuild(ns, 'app-1');
  expect((done.status as any).phase).toBe('Complete');
  const appDigest = (done.status as any).output.to.imageDigest as string;
  await waitForTag('app', 'latest', appDigest);
  await waitFor(
    'the DeploymentConfig hook',
    async () => deployments.find((d) => d.dc === `${ns}/app`),
    30000,
    100,
  );
  const fired = deployments.filter((d) => d.dc === `${ns}/app`);
  expect(fired).toHaveLength(1);
  expect(fired[0]!.decision.triggers).toEqual([
    {
      triggerIndex: 0,
      containerNames: ['app'],
      image: `${registry.host}/${ns}/app@${appDigest}`,
      from: { kind: 'ImageStreamTag', name: 'app:latest', namespace: ns },
    },
  ]);
  expect(fired[0]!.update.producedBy).toEqual({ namespace: ns, name: 'app' });
  expect(await buildsOf('app')).toHaveLength(1);
});

test('loop guard: a BuildConfig whose output is its own ImageChange input builds once per external image', async () => {
  await s.apiJson('POST', BC_PATH(ns), dockerBuildConfig('loop', 'loop:latest', 'loop:latest'));
  for (const round of [1, 2]) {
    const external = dockerPush(`${ns}/loop`, 'latest');
    const build = await waitFor(
      `loop-${round}`,
      async () => (await buildsOf('loop')).find((b) => b.metadata.name === `loop-${round}`),
      30000,
      200,
    );
    expect((build.spec as any).triggeredBy[0].imageChangeBuild.imageID).toBe(
      `${registry.host}/${ns}/loop@${external}`,
    );
    const done = await s.waitForBuild(ns, `loop-${round}`);
    expect((done.status as any).phase).toBe('Complete');
    const own = (done.status as any).output.to.imageDigest as string;
    await waitForTag('loop', 'latest', own);
    // Both reports of the build's own push (the worker's and the registry's) have come
    // and gone when the registry's claim for it exists; give any stray build time to appear.
    await waitFor(
      'the registry notification of the build output',
      async () =>
        (await s.rt.redis.exists(`${s.rt.prefix}:delivery:imagechange:${ns}/loop:latest@${own}`)) === 1,
    );
    await new Promise((r) => setTimeout(r, 2500));
    expect((await buildsOf('loop')).map((b) => b.metadata.name)).toEqual(
      round === 1 ? ['loop-1'] : ['loop-1', 'loop-2'],
    );
  }
});

describe('the notification endpoint', () => {
  function envelope(id: string, repository: string, digest: string, action = 'push'): string {
    return JSON.stringify({
      events: [
        {
          id,
          timestamp: new Date().toISOString(),
          action,
          target: {
            mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
            size: 528,
            digest,
            length: 528,
            repository,
            url: `http://${registry.host}/v2/${repository}/manifests/${digest}`,
            tag: 'v2',
          },
          request: {
            id: randomUUID(),
            addr: '127.0.0.1:1',
            host: registry.host,
            method: 'PUT',
            useragent: 'docker/test',
          },
          actor: {},
          source: { addr: 'test:5000', instanceID: randomUUID() },
        },
      ],
    });
  }
  const headers = (token = NOTIFY_TOKEN) => ({
    'content-type': 'application/vnd.docker.distribution.events.v1+json',
    authorization: `Bearer ${token}`,
  });

  test('a retried envelope (same event id) records and triggers once; pulls are ignored; a wrong token is a 401', async () => {
    await s.apiJson('POST', BC_PATH(ns), dockerBuildConfig('retried', 'manual:v2', 'retried:latest'));
    const digest = `sha256:${'c'.repeat(64)}`;
    const body = envelope(randomUUID(), `${ns}/manual`, digest);
    const url = `${s.http.url}/webhooks/registry`;
    const first = await post(url, body, headers());
    expect(first).toMatchObject({ status: 200, body: { kind: 'Status', builds: [`${ns}/retried-1`] } });
    const again = await post(url, body, headers());
    expect(again).toMatchObject({ status: 200, body: { builds: [], duplicates: 1 } });
    // Another event id for the same image: the image-change claim still holds.
    const sameImage = await post(url, envelope(randomUUID(), `${ns}/manual`, digest), headers());
    expect(sameImage).toMatchObject({ status: 200, body: { builds: [] } });
    expect((await tagItems('manual', 'v2')).map((i) => i.image)).toEqual([digest]);
    expect((await buildsOf('retried')).map((b) => b.metadata.name)).toEqual(['retried-1']);

    const pull = await post(
      url,
      envelope(randomUUID(), `${ns}/manual`, `sha256:${'d'.repeat(64)}`, 'pull'),
      headers(),
    );
    expect(pull).toMatchObject({
      status: 200,
      body: { builds: [], ignored: [{ reason: 'action pull is not a push' }] },
    });
    const wrong = await post(url, body, headers('not-the-token'));
    expect(wrong).toMatchObject({ status: 401, body: { reason: 'Unauthorized' } });
  });
});
