/**
 * ResourceQuota on a real Redis, registry and Docker engine: object counts refused past
 * the quota by two servers sharing one Redis, a build held in New by `pods` until a slot
 * frees, role rules, status.used, the usage report and the CLI's quota table.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import Docker from 'dockerode';
import { createRuntime, startDeployments, startHttpServer } from '../../src/runtime.js';
import { createLogger } from '../../src/core/logger.js';
import { quotaTarget } from '../../src/strategies/quota-target.js';
import type { DeployTarget } from '../../src/strategies/target.js';
import { cliRunner } from '../support/cli.js';
import { removeNamespaceReplicas } from '../support/deploy.js';
import { BASE_IMAGE, startGitDaemon, waitFor, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
let git: GitServer;
const run = randomUUID().slice(0, 6);
const QUOTAS = (ns: string, name = '') => `/api/v1/namespaces/${ns}/resourcequotas${name ? `/${name}` : ''}`;
const BCS = 'count/buildconfigs.build.openshift.io';

beforeAll(async () => {
  s = await startSlipway({ workers: 0, config: { workerConcurrency: 2 } });
  git = await startGitDaemon();
});
afterAll(async () => {
  await s?.stop();
  await git?.stop();
});

function quota(name: string, hard: Record<string, unknown>): Resource {
  return { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name }, spec: { hard } };
}

function bc(name: string, extra: Record<string, unknown> = {}): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name },
    spec: {
      source: { git: { uri: 'https://example.com/app.git' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
      ...extra,
    },
  };
}

const st = (b: Resource): Record<string, any> => (b.status ?? {}) as Record<string, any>;

test('a quota is validated: unknown resources and bad quantities are 422 naming the field', async () => {
  const ns = `q-valid-${run}`;
  const bad = await s.api('POST', QUOTAS(ns), quota('bad', { 'requests.gpu': '1', pods: 'many' }));
  expect(bad.status).toBe(422);
  const body = (await bad.json()) as { message: string; details: { causes: { field: string }[] } };
  expect(body.details.causes.map((c) => c.field).sort()).toEqual([
    'spec.hard[pods]',
    'spec.hard[requests.gpu]',
  ]);
  expect(body.message).toContain('spec.hard[requests.gpu]');
  const memory = await s.api('POST', QUOTAS(ns), quota('mem', { 'limits.memory': '1Gx' }));
  expect(memory.status).toBe(422);
  // A Kubernetes quota as written, status included, is stored as given.
  const ok = await s.api('POST', QUOTAS(ns), {
    ...quota('compute', { pods: '4', 'limits.cpu': '2', 'limits.memory': '2Gi', 'count/secrets': 10 }),
    status: { hard: { pods: '4' }, used: { pods: '3' } },
  });
  expect(ok.status).toBe(201);
  const read = await s.apiJson('GET', QUOTAS(ns, 'compute'));
  // status.used is today's, not what the file said.
  expect(st(read).used).toEqual({ pods: '0', 'limits.cpu': '0', 'limits.memory': '0', 'count/secrets': '0' });
});

test('10 creates at once through two servers sharing one Redis: exactly 3 pass, the rest get Kubernetes words', async () => {
  const ns = `q-count-${run}`;
  await s.apiJson('POST', QUOTAS(ns), quota('objects', { [BCS]: '3' }));
  // A second server of the same fleet: same Redis, its own process state.
  const rt2 = await createRuntime(s.rt.config, { prefix: s.rt.prefix, logger: createLogger('silent') });
  const http2 = await startHttpServer(rt2);
  try {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        fetch(`${(i % 2 ? http2 : s.http).url}${BC_PATH(ns)}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(bc(`app-${i}`)),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { message?: string } })),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(7);
    for (const r of refused) {
      expect(r.status).toBe(403);
      expect(r.body.message).toContain(
        `is forbidden: exceeded quota: objects, requested: ${BCS}=1, used: ${BCS}=3, limited: ${BCS}=3`,
      );
    }
  } finally {
    await http2.close();
    await rt2.close();
  }
  expect(st(await s.apiJson('GET', QUOTAS(ns, 'objects'))).used).toEqual({ [BCS]: '3' });
  // A delete frees its slot.
  const names = (await s.apiJson<{ items: Resource[] }>('GET', BC_PATH(ns))).items.map(
    (b) => b.metadata.name,
  );
  await s.apiJson('DELETE', BC_PATH(ns, names[0]));
  expect((await s.api('POST', BC_PATH(ns), bc('after-delete'))).status).toBe(201);
  expect((await s.api('POST', BC_PATH(ns), bc('one-too-many'))).status).toBe(403);
});

test('roles: a project admin writes quotas, edit and view only read them', async () => {
  const ns = `q-roles-${run}`;
  const tokens: Record<string, string> = {};
  for (const user of [`qa-${run}`, `qe-${run}`, `qv-${run}`]) {
    await s.apiJson('POST', '/apis/user.openshift.io/v1/users', { metadata: { name: user } });
    tokens[user] = (
      await s.apiJson<{ token: string }>('POST', `/apis/slipway.dev/v1/users/${user}/tokens`, {})
    ).token;
  }
  const as = (user: string, method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${s.http.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens[user]}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  expect(
    (
      await as(`qa-${run}`, 'POST', '/apis/project.openshift.io/v1/projectrequests', {
        metadata: { name: ns },
      })
    ).status,
  ).toBe(201);
  for (const [role, user] of [
    ['edit', `qe-${run}`],
    ['view', `qv-${run}`],
  ] as const)
    expect(
      (
        await as(`qa-${run}`, 'POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
          metadata: { name: role },
          roleRef: { kind: 'ClusterRole', name: role },
          subjects: [{ kind: 'User', name: user }],
        })
      ).status,
    ).toBe(201);
  expect((await as(`qa-${run}`, 'POST', QUOTAS(ns), quota('team', { pods: '2' }))).status).toBe(201);
  const edit = await as(`qe-${run}`, 'PUT', QUOTAS(ns, 'team'), quota('team', { pods: '20' }));
  expect(edit.status).toBe(403);
  expect(((await edit.json()) as { message: string }).message).toContain(
    'cannot update resource "resourcequotas"',
  );
  expect((await as(`qe-${run}`, 'POST', QUOTAS(ns), quota('mine', { pods: '9' }))).status).toBe(403);
  expect((await as(`qv-${run}`, 'DELETE', QUOTAS(ns, 'team'))).status).toBe(403);
  for (const user of [`qe-${run}`, `qv-${run}`]) {
    const read = await as(user, 'GET', QUOTAS(ns, 'team'));
    expect(read.status).toBe(200);
    expect(st((await read.json()) as Resource).hard).toEqual({ pods: '2' });
  }
  expect((await as(`qa-${run}`, 'PUT', QUOTAS(ns, 'team'), quota('team', { pods: '3' }))).status).toBe(200);
});

test('a quota of pods: 1 holds a second build in New until the first ends; usage reports both', async () => {
  const ns = `q-pods-${run}`;
  s.startWorker(); // concurrency 2: only the quota keeps the second build from running
  await s.apiJson('POST', QUOTAS(ns), quota('one-pod', { pods: '1' }));
  for (const name of ['first', 'second']) {
    git.commit(`${ns}-${name}`, {
      Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo ${name} > /${name} && sleep 3\n`,
    });
    await s.apiJson('POST', BC_PATH(ns), {
      ...bc(name),
      spec: {
        ...(bc(name).spec as object),
        runPolicy: 'Parallel',
        source: { git: { uri: git.url(`${ns}-${name}`), ref: 'main' } },
        strategy: { type: 'Docker', dockerStrategy: { noCache: true } },
      },
    });
  }
  await s.apiJson('POST', `${BC_PATH(ns, 'first')}/instantiate`, {});
  await s.waitForBuild(ns, 'first-1', ['Pending', 'Running'], 60000);
  await s.apiJson('POST', `${BC_PATH(ns, 'second')}/instantiate`, {});
  const waiting = await waitFor(
    'the second build to say it waits for quota',
    async () => {
      const b = await s.apiJson('GET', BUILD_PATH(ns, 'second-1'));
      return st(b).message ? b : undefined;
    },
    30000,
    100,
  );
  expect(st(waiting).phase).toBe('New');
  expect(st(waiting).message).toBe(
    'Waiting for quota "one-pod": exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1',
  );
  expect(st(await s.apiJson('GET', QUOTAS(ns, 'one-pod'))).used).toEqual({ pods: '1' });

  const first = await s.waitForBuild(ns, 'first-1');
  const second = await s.waitForBuild(ns, 'second-1');
  expect(st(first).phase).toBe('Complete');
  expect(st(second).phase).toBe('Complete');
  expect(st(second).message).toBeUndefined();
  expect(Date.parse(st(second).startTimestamp)).toBeGreaterThanOrEqual(
    Date.parse(st(first).completionTimestamp),
  );
  expect(st(await s.apiJson('GET', QUOTAS(ns, 'one-pod'))).used).toEqual({ pods: '0' });

  const usage = await s.apiJson<Record<string, any>>('GET', `/apis/slipway.dev/v1/namespaces/${ns}/usage`);
  expect(usage.builds.finished).toBe(2);
  expect(usage.builds.seconds).toBeGreaterThan(0);
  const streams = usage.images.streams as { name: string; images: number; bytes: number }[];
  expect(streams.map((x) => x.name).sort()).toEqual(['first', 'second']);
  for (const x of streams) {
    expect(x.images).toBe(1);
    expect(x.bytes).toBeGreaterThan(0);
  }
  // Both images sit on the same base layers: the project total counts them once.
  const sum = streams.reduce((n, x) => n + x.bytes, 0);
  expect(usage.images.totalBytes).toBeLessThan(sum);
  expect(usage.images.totalBytes).toBeGreaterThan(Math.max(...streams.map((x) => x.bytes)));
  expect(usage.replicas.running).toBe(0);

  const cli = cliRunner(() => ({ server: s.http.url, token: s.token }));
  const described = await cli(['describe', 'quota', '-n', ns]);
  expect(described.code).toBe(0);
  expect(described.stdout).toMatch(/Name:\s+one-pod/);
  expect(described.stdout).toMatch(/Resource\s+Used\s+Hard/);
  expect(described.stdout).toMatch(/pods\s+0\s+1/);
  const got = await cli(['get', 'quota', '-n', ns]);
  expect(got.stdout).toMatch(/one-pod\s+\S+\s+pods: 0\/1/);
  const report = await cli(['usage', '-n', ns]);
  expect(report.code).toBe(0);
  expect(report.stdout).toMatch(/Build minutes:\s+[\d.]+ \(2 finished builds\)/);
  expect(report.stdout).toMatch(/first\s+1\s+[\d.]+ (KiB|MiB)/);
}, 180000);

test('a build without a memory limit under a limits.memory quota fails, naming the quota', async () => {
  const ns = `q-limits-${run}`;
  await s.apiJson('POST', QUOTAS(ns), quota('memory', { 'limits.memory': '1Gi' }));
  await s.apiJson('POST', BC_PATH(ns), bc('nolimit'));
  await s.apiJson('POST', `${BC_PATH(ns, 'nolimit')}/instantiate`, {});
  const b = await s.waitForBuild(ns, 'nolimit-1', ['Failed', 'Error', 'Complete'], 30000);
  expect(st(b).phase).toBe('Failed');
  expect(st(b).reason).toBe('CannotCreateBuildPodSpec');
  expect(st(b).message).toContain('failed quota: memory: must specify limits.memory');
});

test('replicas: a scale past pods or limits.cpu is refused with 403 naming the quota; scaling down gives pods back', async () => {
  const ns = `q-rc-${run}`;
  await s.apiJson('POST', QUOTAS(ns), quota('replicas', { pods: '3', 'limits.cpu': '1' }));
  const template = (cpu?: string) => ({
    spec: { containers: [{ name: 'web', image: 'x', ...(cpu ? { resources: { limits: { cpu } } } : {}) }] },
  });
  const revisions: Record<string, unknown> = { 'web-1': template('250m'), 'bare-1': template() };
  const scaled: string[] = [];
  // Only the target is stood in for (no replicas run); the quota ledger is the server's own, in Redis.
  const target = quotaTarget(
    {
      name: 'docker',
      getRevision: async (_ns: string, name: string) => ({ spec: { template: revisions[name] } }),
      scaleRevision: async (_ns: string, name: string, n: number) => void scaled.push(`${name}=${n}`),
      deleteRevision: async () => undefined,
      revisionStatus: async () => ({ desired: 0, current: 0, ready: 0, available: 0, failures: [] }),
    } as unknown as DeployTarget,
    s.rt.quotas,
  );
  const signal = AbortSignal.timeout(10000);
  await target.scaleRevision(ns, 'web-1', 3, { signal });
  await expect(target.scaleRevision(ns, 'web-1', 4, { signal })).rejects.toThrow(
    'pods "web-1" is forbidden: exceeded quota: replicas, requested: pods=1, used: pods=3, limited: pods=3',
  );
  // The refusal is the revision's replica failure (the DeploymentConfig's ReplicaFailure) until a scale succeeds.
  expect((await target.revisionStatus(ns, 'web-1')).failures).toEqual([
    'pods "web-1" is forbidden: exceeded quota: replicas, requested: pods=1, used: pods=3, limited: pods=3',
  ]);
  await expect(target.scaleRevision(ns, 'bare-1', 1, { signal })).rejects.toThrow(
    'failed quota: replicas: must specify limits.cpu',
  );
  expect(st(await s.apiJson('GET', QUOTAS(ns, 'replicas'))).used).toEqual({
    pods: '3',
    'limits.cpu': '750m',
  });
  await target.scaleRevision(ns, 'web-1', 1, { signal });
  expect((await target.revisionStatus(ns, 'web-1')).failures).toEqual([]);
  await target.deleteRevision(ns, 'web-1', { signal });
  expect(st(await s.apiJson('GET', QUOTAS(ns, 'replicas'))).used).toEqual({ pods: '0', 'limits.cpu': '0' });
  expect(scaled).toEqual(['web-1=3', 'web-1=1']);
});

/** A DeploymentConfig whose replicas sleep: nothing to build, quick to stop. */
const sleeper = (name: string, replicas: number): Resource => ({
  apiVersion: 'apps.openshift.io/v1',
  kind: 'DeploymentConfig',
  metadata: { name },
  spec: {
    replicas,
    selector: { app: name },
    strategy: { type: 'Recreate' },
    triggers: [{ type: 'ConfigChange' }],
    template: {
      metadata: { labels: { app: name } },
      spec: {
        // sleep as PID 1 ignores SIGTERM: a short grace period keeps the scale-down short.
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'web', image: BASE_IMAGE, command: ['sleep', '600'] }],
      },
    },
  },
});
const DCS = (ns: string, name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const condition = async (ns: string, name: string, type: string): Promise<Record<string, any> | undefined> =>
  (st(await s.apiJson('GET', DCS(ns, name))).conditions ?? []).find((c: any) => c.type === type);

test('replicas on the local target: a rollout past pods fails naming the quota; a scale past it is a ReplicaFailure', async () => {
  const roll = `q-roll-${run}`;
  const scale = `q-scale-${run}`;
  const docker = new Docker();
  const deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 1000 });
  try {
    for (const ns of [roll, scale]) await s.apiJson('POST', QUOTAS(ns), quota('two-pods', { pods: '2' }));
    await s.apiJson('POST', DCS(roll), sleeper('web', 3));
    await s.apiJson('POST', DCS(scale), sleeper('api', 1));

    const failed = await waitFor(
      'the rollout to fail',
      async () => {
        const c = await condition(roll, 'web', 'Progressing');
        return c?.status === 'False' ? c : undefined;
      },
      90000,
      250,
    );
    expect(failed.message).toContain(
      'pods "web-1" is forbidden: exceeded quota: two-pods, requested: pods=2, used: pods=1, limited: pods=2',
    );
    const rc = await s.apiJson('GET', `/api/v1/namespaces/${roll}/replicationcontrollers/web-1`);
    expect(rc.metadata.annotations?.['openshift.io/deployment.phase']).toBe('Failed');
    expect(st(await s.apiJson('GET', QUOTAS(roll, 'two-pods'))).used).toEqual({ pods: '0' });

    // One replica runs; asking for three (slipway scale dc) is refused by the quota and said on the config.
    await waitFor(
      'api-1 complete',
      async () => (await condition(scale, 'api', 'Available'))?.status === 'True',
      90000,
      250,
    );
    const dc = await s.apiJson('GET', DCS(scale, 'api'));
    await s.apiJson('PUT', DCS(scale, 'api'), { ...dc, spec: { ...(dc.spec as object), replicas: 3 } });
    const failure = await waitFor(
      'the ReplicaFailure condition',
      () => condition(scale, 'api', 'ReplicaFailure'),
      30000,
      250,
    );
    expect(failure).toMatchObject({ status: 'True', reason: 'FailedCreate' });
    expect(failure.message).toContain(
      'pods "api-1" is forbidden: exceeded quota: two-pods, requested: pods=2, used: pods=1, limited: pods=2',
    );
    expect(st(await s.apiJson('GET', QUOTAS(scale, 'two-pods'))).used).toEqual({ pods: '1' });
  } finally {
    await deployments.close();
    for (const ns of [roll, scale]) await removeNamespaceReplicas(docker, ns);
  }
}, 150000);
