/**
 * Deployments on the local Docker target, for real: a tiny HTTP app (v1, v2, and a v3
 * whose readiness never passes) built by the test from the offline Debian base, pushed to
 * a real registry and recorded on an ImageStream; DeploymentConfigs rolled out through the
 * router while a client counts failed requests; Recreate with hooks; Custom with a
 * deployer image that works through the API; undo; and a Slipway restart re-adopting
 * its containers.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { loadConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/logger.js';
import type { Resource } from '../../src/core/resource.js';
import { recordImageStreamTag } from '../../src/registry/image-streams.js';
import {
  createRuntime,
  startDeployments,
  startRouter,
  type DeploymentsHandle,
  type Runtime,
} from '../../src/runtime.js';
import { DEPLOYMENT_CONFIG } from '../../src/strategies/rollout.js';
import type { RouterHandle } from '../../src/strategies/router.js';
import { getViaRouter, removeNamespaceReplicas } from '../support/deploy.js';
import { BASE_IMAGE, waitFor } from '../support/stack.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';

const docker = new Docker();
const ns = `d-${randomUUID().slice(0, 8)}`;
const run = randomUUID().slice(0, 8);
const APP = `slipway-test/deploy-app-${run}`;
const DEPLOYER = `slipway-test/deployer-${run}`;
const FIXTURES = join(process.cwd(), 'test/integration/deploy-fixtures');
const DC = (name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const RC = (name = '') => `/api/v1/namespaces/${ns}/replicationcontrollers${name ? `/${name}` : ''}`;
const hooksDir = mkdtempSync(join(tmpdir(), 'slipway-hooks-'));

let s: TestSlipway;
let deployments: DeploymentsHandle;
let router: RouterHandle;
let rt: Runtime;
/** Runtimes a test started besides the one startSlipway made (restart). */
const extraRuntimes: Runtime[] = [];
const pushed: Record<string, string> = {};

function buildImage(tag: string, dockerfile: string): void {
  execFileSync('docker', ['build', '-q', '-t', tag, '-f', '-', FIXTURES], {
    input: dockerfile,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Pushes `APP:version` to the registry and records it on ImageStream `app:latest`. */
async function publish(version: string): Promise<string> {
  const repo = `${s.registry.host}/${ns}/app`;
  execFileSync('docker', ['tag', `${APP}:${version}`, `${repo}:${version}`]);
  const out = execFileSync('docker', ['push', `${repo}:${version}`], { encoding: 'utf8' });
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)![1]!;
  pushed[version] = `${repo}@${digest}`;
  await recordImageStreamTag({
    store: s.rt.store,
    namespace: ns,
    name: 'app',
    tag: 'latest',
    digest,
    repository: repo,
  });
  return pushed[version]!;
}

const viaRouter = (host: string, path = '/'): Promise<{ status: number; body: string }> =>
  getViaRouter(router.url, host, path);

/** Sends requests back to back from `clients` loops until stopped; counts every outcome. */
function startLoad(
  host: string,
  clients = 3,
): {
  stop(): Promise<{ total: number; failed: { status: number; body: string }[]; bodies: Map<string, number> }>;
} {
  let running = true;
  const failed: { status: number; body: string }[] = [];
  const bodies = new Map<string, number>();
  let total = 0;
  const loop = async (): Promise<void> => {
    while (running) {
      const r = await viaRouter(host);
      total++;
      if (r.status !== 200) failed.push(r);
      else bodies.set(r.body, (bodies.get(r.body) ?? 0) + 1);
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { total, failed, bodies };
    },
  };
}

async function dcOf(
  name: string,
): Promise<Resource & { status: Record<string, any>; spec: Record<string, any> }> {
  return s.apiJson('GET', DC(name)) as Promise<any>;
}

async function waitForRevision(
  name: string,
  version: number,
  phases = ['Complete', 'Failed'],
  timeoutMs = 150000,
): Promise<Resource> {
  return waitFor(
    `${name}-${version} to reach ${phases.join('|')}`,
    async () => {
      const res = await s.api('GET', RC(`${name}-${version}`));
      if (!res.ok) return undefined;
      const rc = (await res.json()) as Resource;
      return phases.includes(rc.metadata.annotations?.['openshift.io/deployment.phase'] ?? '')
        ? rc
        : undefined;
    },
    timeoutMs,
    250,
  );
}

async function replicaContainers(revision?: string): Promise<Docker.ContainerInfo[]> {
  const label = [`slipway.dev/namespace=${ns}`, 'slipway.dev/managed=replica'];
  if (revision) label.push(`openshift.io/deployment.name=${revision}`);
  return docker.listContainers({ all: true, filters: { label } });
}

function appConfig(
  name: string,
  overrides: {
    strategy?: Record<string, unknown>;
    replicas?: number;
    env?: { name: string; value: string }[];
    triggers?: unknown[];
    image?: string;
    volumes?: unknown[];
    volumeMounts?: unknown[];
  } = {},
): Resource {
  return {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name, namespace: ns },
    spec: {
      replicas: overrides.replicas ?? 2,
      selector: { app: name },
      strategy: overrides.strategy ?? { type: 'Rolling', rollingParams: { timeoutSeconds: 12 } },
      triggers: overrides.triggers ?? [{ type: 'ConfigChange' }],
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'web',
              image: overrides.image ?? `${APP}:v1`,
              ports: [{ name: 'http', containerPort: 8080 }],
              env: overrides.env ?? [],
              readinessProbe: {
                httpGet: { path: '/healthz', port: 'http' },
                periodSeconds: 1,
                failureThreshold: 1,
              },
              resources: { limits: { memory: '64Mi', cpu: '250m' } },
              ...(overrides.volumeMounts ? { volumeMounts: overrides.volumeMounts } : {}),
            },
          ],
          ...(overrides.volumes ? { volumes: overrides.volumes } : {}),
        },
      },
    },
  };
}

async function expose(name: string): Promise<string> {
  const host = `${name}.${ns}.test`;
  await s.apiJson('POST', `/api/v1/namespaces/${ns}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  });
  await s.apiJson('POST', `/apis/route.openshift.io/v1/namespaces/${ns}/routes`, {
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    metadata: { name },
    spec: { host, to: { kind: 'Service', name } },
  });
  await router.refresh();
  return host;
}

beforeAll(async () => {
  buildImage(
    `${APP}:v1`,
    `FROM ${BASE_IMAGE}\nCOPY server.pl /server.pl\nENV APP_VERSION=v1\nEXPOSE 8080\nCMD ["perl", "/server.pl"]\n`,
  );
  buildImage(`${APP}:v2`, `FROM ${APP}:v1\nENV APP_VERSION=v2\n`);
  buildImage(`${APP}:v3`, `FROM ${APP}:v1\nENV APP_VERSION=v3 NEVER_READY=1\n`);
  buildImage(
    `${DEPLOYER}:latest`,
    `FROM ${BASE_IMAGE}\nCOPY deploy.pl /deploy.pl\nCMD ["perl", "/deploy.pl"]\n`,
  );
  // The Recreate test's hooks mount a hostPath under hooksDir: the operator allows that prefix.
  s = await startSlipway({ workers: 0, config: { routerListen: '127.0.0.1:0', allowHostPaths: [hooksDir] } });
  rt = s.rt;
  deployments = await startDeployments(rt, { apiUrl: s.http.url, resyncMs: 2000 });
  router = await startRouter(rt);
}, 300000);

afterAll(async () => {
  await deployments?.close();
  await router?.close();
  for (const r of extraRuntimes) await r.close();
  await s?.stop();
  await removeNamespaceReplicas(docker, ns);
  const images = [
    `${APP}:v1`,
    `${APP}:v2`,
    `${APP}:v3`,
    `${DEPLOYER}:latest`,
    ...Object.values(pushed),
    ...['v1', 'v2', 'v3'].map((v) => `${s?.registry.host}/${ns}/app:${v}`),
  ];
  for (const image of images)
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
  rmSync(hooksDir, { recursive: true, force: true });
}, 120000);

describe('Rolling on the local target', () => {
  let host: string;

  test('the first rollout waits for its image trigger; then v1 serves through the router from loopback ports, with limits', async () => {
    const dc = appConfig('web', {
      image: ' ',
      triggers: [
        { type: 'ConfigChange' },
        {
          type: 'ImageChange',
          imageChangeParams: {
            automatic: true,
            containerNames: ['web'],
            from: { kind: 'ImageStreamTag', name: 'app:latest' },
          },
        },
      ],
    });
    const created = await s.apiJson('POST', DC(), dc);
    expect((created.spec as any).strategy.rollingParams).toMatchObject({
      maxSurge: '25%',
      maxUnavailable: '25%',
      intervalSeconds: 1,
      updatePeriodSeconds: 1,
      timeoutSeconds: 12,
    });
    expect((created.spec as any).revisionHistoryLimit).toBe(10);
    host = await expose('web');
    await new Promise((r) => setTimeout(r, 2500));
    expect((await dcOf('web')).status.latestVersion ?? 0).toBe(0);
    expect(await replicaContainers()).toHaveLength(0);

    const v1 = await publish('v1');
    const rc = await waitForRevision('web', 1);
    expect(rc.metadata.annotations?.['openshift.io/deployment.phase']).toBe('Complete');
    const status = (await dcOf('web')).status;
    expect(status.latestVersion).toBe(1);
    expect(status.details.causes).toEqual([
      { type: 'ImageChange', imageTrigger: { from: { kind: 'ImageStreamTag', name: 'app:latest' } } },
    ]);
    expect((await dcOf('web')).spec.triggers[1].imageChangeParams.lastTriggeredImage).toBe(v1);
    const containers = await replicaContainers('web-1');
    expect(containers).toHaveLength(2);
    for (const c of containers) {
      expect(c.Image).toBe(v1);
      expect(c.Ports.find((p) => p.PrivatePort === 8080)?.IP).toBe('127.0.0.1');
      const info = await docker.getContainer(c.Id).inspect();
      expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
      expect(info.HostConfig.NanoCpus).toBe(250_000_000);
      expect(Object.keys(info.NetworkSettings.Networks)).toEqual([`slipway-${ns}`]);
    }
    expect(await viaRouter(host)).toEqual({ status: 200, body: 'v1' });
    expect((await viaRouter('nobody.test')).status).toBe(404);
    await waitFor(
      'Available',
      async () =>
        (await dcOf('web')).status.conditions?.find((c: any) => c.type === 'Available')?.status === 'True',
      10000,
    );
  }, 200000);

  test('rolling to v2 drops no request: the old replicas leave the router before they stop', async () => {
    const load = startLoad(host);
    await new Promise((r) => setTimeout(r, 1000));
    const started = Date.now();
    await publish('v2');
    const rc = await waitForRevision('web', 2);
    const rolloutMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 1000));
    const { total, failed, bodies } = await load.stop();
    console.log(
      `rolling v1→v2: ${total} requests, ${failed.length} failed, rollout ${rolloutMs} ms, responses ${JSON.stringify([...bodies])}`,
    );
    expect(rc.metadata.annotations?.['openshift.io/deployment.phase']).toBe('Complete');
    expect(failed).toEqual([]);
    expect(bodies.get('v1')).toBeGreaterThan(0);
    expect(bodies.get('v2')).toBeGreaterThan(0);
    expect(await replicaContainers('web-1')).toHaveLength(0);
    expect(await replicaContainers('web-2')).toHaveLength(2);
    const dc = await dcOf('web');
    expect(dc.status.conditions.find((c: any) => c.type === 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'NewReplicationControllerAvailable',
    });
    const log = await (await s.api('GET', `${DC('web')}/log`)).text();
    expect(log).toContain('Rolling web-1 → web-2: 2 replicas, maxSurge 1, maxUnavailable 0');
  }, 200000);

  test('a v3 whose readiness never passes fails after timeoutSeconds; v2 keeps serving at full scale and the status says why', async () => {
    const load = startLoad(host, 2);
    await publish('v3');
    const rc = await waitForRevision('web', 3, ['Failed'], 90000);
    const { failed, bodies } = await load.stop();
    expect(failed).toEqual([]);
    expect([...bodies.keys()]).toEqual(['v2']);
    expect(rc.metadata.annotations?.['slipway.dev/deployment.failure-reason']).toBe(
      'ProgressDeadlineExceeded',
    );
    const dc = await dcOf('web');
    const progressing = dc.status.conditions.find((c: any) => c.type === 'Progressing');
    expect(progressing).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect(progressing.message).toMatch(
      /web-3 made no progress for 12s: 0 of 1 new replicas available .*readiness probe failed: HTTP probe on \/healthz answered 503/,
    );
    expect(await replicaContainers('web-3')).toHaveLength(0);
    const serving = await replicaContainers('web-2');
    expect(serving.filter((c) => c.State === 'running')).toHaveLength(2);
    await waitFor('counts', async () => (await dcOf('web')).status.availableReplicas === 2, 10000);
    expect((await viaRouter(host)).body).toBe('v2');
  }, 200000);

  test('undo --to-revision 1 rolls back to v1 and turns off the automatic image trigger', async () => {
    const res = await s.api('POST', `${DC('web')}/rollback`, {
      kind: 'DeploymentConfigRollback',
      spec: { revision: 1 },
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as any;
    expect(body.rollback).toEqual({ to: 'web-1', disabledTriggers: ['app:latest'] });
    const rc = await waitForRevision('web', 4);
    expect(rc.metadata.annotations?.['openshift.io/deployment.phase']).toBe('Complete');
    expect((await viaRouter(host)).body).toBe('v1');
    const dc = await dcOf('web');
    expect(dc.spec.triggers[1].imageChangeParams.automatic).toBe(false);
    expect(dc.status.details.causes).toEqual([{ type: 'Rollback' }]);
    // With the trigger off, a new image does not roll forward.
    await publish('v2');
    await new Promise((r) => setTimeout(r, 3000));
    expect((await dcOf('web')).status.latestVersion).toBe(4);
  }, 200000);

  test('rollout latest (instantiate, force) makes a Manual revision; cancel stops a rollout and keeps the old revision serving', async () => {
    const latest = await s.api('POST', `${DC('web')}/instantiate`, {
      kind: 'DeploymentRequest',
      apiVersion: 'apps.openshift.io/v1',
      name: 'web',
      latest: true,
      force: true,
    });
    expect(latest.status).toBe(201);
    // latest + force resolves even the non-automatic trigger: the stream's newest image, v2.
    await waitForRevision('web', 5);
    expect((await viaRouter(host)).body).toBe('v2');
    expect((await dcOf('web')).status.details.causes).toEqual([{ type: 'Manual' }]);

    const dc = await dcOf('web');
    dc.spec.template.spec.containers[0].image = `${APP}:v3`;
    await s.apiJson('PUT', DC('web'), dc);
    await waitFor('rollout 6 to run', async () => (await dcOf('web')).status.latestVersion === 6, 20000);
    await waitForRevision('web', 6, ['Running']);
    const cancelled = await s.api('POST', `${DC('web')}/cancel`, {});
    expect(cancelled.status).toBe(200);
    const rc = await waitForRevision('web', 6, ['Failed'], 30000);
    expect(rc.metadata.annotations?.['openshift.io/deployment.cancelled']).toBe('true');
    expect((await dcOf('web')).status.conditions.find((c: any) => c.type === 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'RolloutCancelled',
    });
    expect((await viaRouter(host)).body).toBe('v2');
    const history = (
      await s.apiJson<{ items: Resource[] }>(
        'GET',
        `${RC()}?labelSelector=openshift.io/deployment-config.name=web`,
      )
    ).items;
    expect(
      history.map((r) => `${r.metadata.name}:${r.metadata.annotations?.['openshift.io/deployment.phase']}`),
    ).toEqual([
      'web-1:Complete',
      'web-2:Complete',
      'web-3:Failed',
      'web-4:Complete',
      'web-5:Complete',
      'web-6:Failed',
    ]);
  }, 200000);
});

describe('Recreate and lifecycle hooks', () => {
  test('Recreate runs pre → old to 0 → mid → new up → post, with a Retry pre hook that fails once', async () => {
    const marks = join(hooksDir, 'rec');
    execFileSync('mkdir', ['-p', marks]);
    const hook = (stage: string, extra = '') => ({
      failurePolicy: stage === 'pre' ? 'Retry' : 'Abort',
      execNewPod: {
        containerName: 'web',
        volumes: ['marks'],
        command: ['sh', '-c', `${extra}echo "${stage} $OPENSHIFT_DEPLOYMENT_NAME" >> /marks/log`],
      },
    });
    const dc = appConfig('rec', {
      replicas: 1,
      strategy: {
        type: 'Recreate',
        recreateParams: {
          timeoutSeconds: 60,
          // The first attempt of the pre hook of each rollout fails; the retry succeeds.
          pre: hook(
            'pre',
            'if [ ! -f /marks/tried-$OPENSHIFT_DEPLOYMENT_NAME ]; then touch /marks/tried-$OPENSHIFT_DEPLOYMENT_NAME; exit 7; fi; ',
          ),
          mid: hook('mid'),
          post: hook('post'),
        },
      },
      volumes: [{ name: 'marks', hostPath: { path: marks } }],
      volumeMounts: [{ name: 'marks', mountPath: '/marks' }],
    });
    await s.apiJson('POST', DC(), dc);
    const host = await expose('rec');
    await waitForRevision('rec', 1);
    expect((await viaRouter(host)).body).toBe('v1');
    const current = await dcOf('rec');
    current.spec.template.spec.containers[0].image = `${APP}:v2`;
    await s.apiJson('PUT', DC('rec'), current);
    const rc = await waitForRevision('rec', 2);
    expect(rc.metadata.annotations?.['openshift.io/deployment.phase']).toBe('Complete');
    expect((await viaRouter(host)).body).toBe('v2');
    expect(readFileSync(join(marks, 'log'), 'utf8').trim().split('\n')).toEqual([
      'pre rec-1',
      'mid rec-1',
      'post rec-1',
      'pre rec-2',
      'mid rec-2',
      'post rec-2',
    ]);
    const log = await (await s.api('GET', `${DC('rec')}/log`)).text();
    expect(log).toContain('pre hook for rec-2 failed: exit code 7; retrying');
    expect(log).toContain('Running pre hook (attempt 2/5)');
    // Recreate: the old revision is down before the mid hook runs and the new one starts.
    expect(log.indexOf('Scaling rec-1 down to 0')).toBeGreaterThan(-1);
    expect(log.indexOf('Scaling rec-1 down to 0')).toBeLessThan(log.indexOf('Running mid hook'));
    expect(log.indexOf('Running mid hook')).toBeLessThan(log.indexOf('Scaling rec-2 to 1'));
    expect(await replicaContainers('rec-1')).toHaveLength(0);
  }, 200000);

  test('a pre hook that fails with Abort fails the rollout; the serving revision is untouched', async () => {
    await s.apiJson('POST', DC(), appConfig('abort', { replicas: 1 }));
    const host = await expose('abort');
    await waitForRevision('abort', 1);
    const before = (await replicaContainers('abort-1')).map((c) => c.Id);
    const dc = await dcOf('abort');
    dc.spec.strategy.rollingParams.pre = {
      failurePolicy: 'Abort',
      execNewPod: { containerName: 'web', command: ['sh', '-c', 'echo migration failed >&2; exit 3'] },
    };
    dc.spec.template.spec.containers[0].env = [{ name: 'CHANGED', value: '1' }];
    await s.apiJson('PUT', DC('abort'), dc);
    const rc = await waitForRevision('abort', 2, ['Failed']);
    expect(rc.metadata.annotations?.['slipway.dev/deployment.failure-reason']).toBe('HookFailed');
    const cond = (await dcOf('abort')).status.conditions.find((c: any) => c.type === 'Progressing');
    expect(cond).toMatchObject({
      status: 'False',
      reason: 'HookFailed',
      message: 'pre hook for abort-2 failed: exit code 3: migration failed',
    });
    expect((await replicaContainers('abort-1')).map((c) => c.Id)).toEqual(before);
    expect(await replicaContainers('abort-2')).toHaveLength(0);
    expect((await viaRouter(host)).body).toBe('v1');
  }, 200000);
});

describe('Custom strategy', () => {
  test('a deployer image rolls out through the API with its scoped, short-lived token; its exit code decides', async () => {
    await s.apiJson('POST', DC(), appConfig('cust', { replicas: 1 }));
    const host = await expose('cust');
    await waitForRevision('cust', 1);
    const dc = await dcOf('cust');
    dc.spec.strategy = {
      type: 'Custom',
      customParams: { image: `${DEPLOYER}:latest`, environment: [{ name: 'GREETING', value: 'hello' }] },
    };
    dc.spec.template.spec.containers[0].image = `${APP}:v2`;
    await s.apiJson('PUT', DC('cust'), dc);
    const rc = await waitForRevision('cust', 2);
    const log = await (await s.api('GET', `${DC('cust')}/log`)).text();
    expect(rc.metadata.annotations?.['openshift.io/deployment.phase']).toBe('Complete');
    expect(log).toContain(`deployer: custom deployer for ${ns}/cust-2, greeting hello`);
    // The token is scoped to this DeploymentConfig's revisions: nothing else.
    expect(log).toContain('deployer: listing secrets answered 403');
    expect(log).toContain('deployer: scaled cust-2 to 1');
    expect(log).toContain('deployer: scaled cust-1 to 0');
    expect((await viaRouter(host)).body).toBe('v2');
    expect(await replicaContainers('cust-1')).toHaveLength(0);

    // A deployer that exits non-zero fails the rollout, and cust-2 goes on serving.
    const next = await dcOf('cust');
    next.spec.strategy.customParams.command = ['sh', '-c', 'echo refusing to deploy; exit 4'];
    next.spec.template.spec.containers[0].image = `${APP}:v1`;
    await s.apiJson('PUT', DC('cust'), next);
    const failed = await waitForRevision('cust', 3, ['Failed']);
    expect(failed.metadata.annotations?.['slipway.dev/deployment.failure-reason']).toBe(
      'CustomDeployerFailed',
    );
    expect((await viaRouter(host)).body).toBe('v2');
  }, 200000);
});

describe('customParams around Rolling', () => {
  test('the deployer pod deploys until 50% through the API, then Slipway finishes the Rolling strategy', async () => {
    await s.apiJson('POST', DC(), appConfig('wrap', { replicas: 2 }));
    const host = await expose('wrap');
    await waitForRevision('wrap', 1);
    const dc = await dcOf('wrap');
    dc.spec.strategy.customParams = {
      image: `${DEPLOYER}:latest`,
      command: ['perl', '/deploy.pl', 'wrap'],
      environment: [{ name: 'GREETING', value: 'wrapped' }],
    };
    dc.spec.strategy.rollingParams.maxSurge = 1;
    dc.spec.strategy.rollingParams.maxUnavailable = 0;
    dc.spec.template.spec.containers[0].image = `${APP}:v2`;
    const load = startLoad(host, 2);
    await s.apiJson('PUT', DC('wrap'), dc);
    const rc = await waitForRevision('wrap', 2);
    const { failed, bodies } = await load.stop();
    expect(rc.metadata.annotations?.['openshift.io/deployment.phase']).toBe('Complete');
    const log = await (await s.api('GET', `${DC('wrap')}/log`)).text();
    expect(log).toContain('deployer: strategy Rolling');
    expect(log).toContain('deployer asked to deploy until 50%');
    expect(log).toContain('deployer: halfway: wrap-2 has 1 ready, wrap-1 keeps 1');
    expect(await replicaContainers('wrap-1')).toHaveLength(0);
    expect(await replicaContainers('wrap-2')).toHaveLength(2);
    expect(failed).toEqual([]);
    expect(bodies.get('v2')).toBeGreaterThan(0);
  }, 200000);
});

describe('restart', () => {
  test('a restarted Slipway re-adopts its replicas by label: same containers, still routed, still scalable', async () => {
    const before = (await replicaContainers('web-5')).map((c) => c.Id).sort();
    expect(before).toHaveLength(2);
    // The deployments process stops (the API server stays, as a separate `slipway server` would).
    await deployments.close();
    await router.close();

    const config = loadConfig({
      env: {},
      flags: {
        listen: '127.0.0.1:0',
        redisUrl: s.redis.url,
        registry: s.registry.host,
        adminToken: s.token,
        logLevel: 'silent',
        routerListen: '127.0.0.1:0',
      },
    });
    rt = await createRuntime(config, { logger: createLogger('silent') });
    extraRuntimes.push(rt);
    deployments = await startDeployments(rt, { apiUrl: s.http.url, resyncMs: 2000 });
    router = await startRouter(rt);
    const host = `web.${ns}.test`;
    expect((await viaRouter(host)).body).toBe('v2');
    expect((await replicaContainers('web-5')).map((c) => c.Id).sort()).toEqual(before);

    // The controller of the new process acts on the old state: a scale goes to the serving revision.
    await rt.store.update(DEPLOYMENT_CONFIG, ns, 'web', (cur) => {
      (cur.spec as any).replicas = 3;
      return cur;
    });
    await waitFor('3 replicas of web-5', async () => (await replicaContainers('web-5')).length === 3, 30000);
    // The new process's monitor probes the new replica: the revision counts it ready.
    await waitFor(
      '3 ready replicas of web-5',
      async () => ((await s.apiJson('GET', RC('web-5'))).status as any).readyReplicas === 3,
      30000,
    );
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add((await viaRouter(host)).body);
    expect([...seen]).toEqual(['v2']);
  }, 200000);
});
