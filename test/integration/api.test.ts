/** The resource API on a real Redis: CRUD, Status errors, auth, conflicts, persistence. */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
const ns = `api-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  // No workers: these tests look at the API and the queue, not at builds running.
  s = await startSlipway({ workers: 0 });
});
afterAll(async () => s?.stop());

const bc = (name: string, extra: Record<string, unknown> = {}): Resource => ({
  apiVersion: 'build.openshift.io/v1',
  kind: 'BuildConfig',
  metadata: { name, labels: { app: name } },
  spec: {
    source: { git: { uri: 'https://example.invalid/repo.git' } },
    strategy: { type: 'Docker', dockerStrategy: {} },
    output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    ...extra,
  },
});

test('create, get, list, replace and delete a BuildConfig', async () => {
  const created = await s.apiJson('POST', BC_PATH(ns), bc('crud'));
  expect(created.metadata.uid).toBeTruthy();
  expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
  expect(created.metadata.namespace).toBe(ns);
  const list = await s.apiJson<{ kind: string; items: Resource[] }>(
    'GET',
    `${BC_PATH(ns)}?labelSelector=app%3Dcrud`,
  );
  expect(list.kind).toBe('BuildConfigList');
  expect(list.items.map((i) => i.metadata.name)).toEqual(['crud']);
  const replaced = await s.apiJson('PUT', BC_PATH(ns, 'crud'), {
    ...created,
    spec: { ...(created.spec as object), runPolicy: 'Parallel' },
  });
  expect(Number(replaced.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
  expect(replaced.metadata.generation).toBe(2);
  const del = await s.api('DELETE', BC_PATH(ns, 'crud'));
  expect(del.status).toBe(200);
  const gone = await s.api('GET', BC_PATH(ns, 'crud'));
  expect(gone.status).toBe(404);
  expect(await gone.json()).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound' });
});

test('an invalid BuildConfig gets a 422 Status naming the field, and nothing is stored', async () => {
  const res = await s.api('POST', BC_PATH(ns), bc('bad', { source: { git: { uri: 'ext::sh -c id' } } }));
  expect(res.status).toBe(422);
  const body = (await res.json()) as {
    kind: string;
    reason: string;
    message: string;
    details: { causes: { field: string }[] };
  };
  expect(body.kind).toBe('Status');
  expect(body.reason).toBe('Invalid');
  expect(body.message).toContain('spec.source.git.uri');
  expect(body.details.causes[0]!.field).toBe('spec.source.git.uri');
  expect((await s.api('GET', BC_PATH(ns, 'bad'))).status).toBe(404);
});

test('a stale resourceVersion is a 409 Conflict; a duplicate create is 409 AlreadyExists', async () => {
  const created = await s.apiJson('POST', BC_PATH(ns), bc('conflict'));
  await s.apiJson('PUT', BC_PATH(ns, 'conflict'), created);
  const stale = await s.api('PUT', BC_PATH(ns, 'conflict'), created);
  expect(stale.status).toBe(409);
  expect(await stale.json()).toMatchObject({ reason: 'Conflict' });
  const dup = await s.api('POST', BC_PATH(ns), bc('conflict'));
  expect(dup.status).toBe(409);
  expect(await dup.json()).toMatchObject({ reason: 'AlreadyExists' });
});

test('requests without a valid token get 401; health needs none', async () => {
  const res = await fetch(`${s.http.url}${BC_PATH(ns)}`);
  expect(res.status).toBe(401);
  const wrong = await fetch(`${s.http.url}${BC_PATH(ns)}`, { headers: { authorization: 'Bearer nope' } });
  expect(wrong.status).toBe(401);
  expect((await fetch(`${s.http.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${s.http.url}/readyz`)).status).toBe(200);
  expect(await (await fetch(`${s.http.url}/metrics`)).text()).toContain('slipway_http_requests_total');
});

test('bad bodies get 400s that say what is wrong', async () => {
  const notJson = await s.api('POST', BC_PATH(ns), '{"kind": ', { 'content-type': 'application/json' });
  expect(notJson.status).toBe(400);
  const wrongKind = await s.api('POST', BC_PATH(ns), { ...bc('x'), kind: 'Build' });
  expect(wrongKind.status).toBe(400);
  expect(((await wrongKind.json()) as { message: string }).message).toContain('does not match');
  const unknown = await s.api('GET', '/apis/build.openshift.io/v1/namespaces/x/widgets');
  expect(unknown.status).toBe(404);
});

test('YAML bodies are accepted', async () => {
  const yaml = `apiVersion: build.openshift.io/v1\nkind: BuildConfig\nmetadata:\n  name: from-yaml\nspec:\n  source:\n    git:\n      uri: https://example.invalid/r.git\n  strategy:\n    type: Docker\n`;
  const res = await s.api('POST', BC_PATH(ns), yaml, { 'content-type': 'application/yaml' });
  expect(res.status).toBe(201);
});

test('instantiate numbers builds from lastVersion, records the cause and queues them', async () => {
  await s.apiJson('POST', BC_PATH(ns), bc('numbered'));
  const first = await s.apiJson('POST', `${BC_PATH(ns, 'numbered')}/instantiate`, {
    kind: 'BuildRequest',
    metadata: { name: 'numbered' },
  });
  const second = await s.apiJson('POST', `${BC_PATH(ns, 'numbered')}/instantiate`, {
    kind: 'BuildRequest',
    metadata: { name: 'numbered' },
    revision: { git: { commit: 'abc1234' } },
  });
  expect(first.metadata.name).toBe('numbered-1');
  expect(second.metadata.name).toBe('numbered-2');
  expect((second.spec as any).revision.git.commit).toBe('abc1234');
  expect((first.spec as any).triggeredBy).toEqual([{ message: 'Manually triggered' }]);
  expect(first.status as any).toMatchObject({
    phase: 'New',
    config: { kind: 'BuildConfig', name: 'numbered', namespace: ns },
  });
  const bcNow = await s.apiJson('GET', BC_PATH(ns, 'numbered'));
  expect((bcNow.status as any).lastVersion).toBe(2);
  const jobs = await s.rt.queue.queue.getJobs(['waiting']);
  expect(jobs.map((j) => j.data.name)).toEqual(expect.arrayContaining(['numbered-1', 'numbered-2']));
  // Applying the BuildConfig again keeps its server-owned status.
  await s.apiJson('PUT', BC_PATH(ns, 'numbered'), { ...bcNow, status: { lastVersion: 0 } });
  expect(((await s.apiJson('GET', BC_PATH(ns, 'numbered'))).status as any).lastVersion).toBe(2);
  const badCommit = await s.api('POST', `${BC_PATH(ns, 'numbered')}/instantiate`, {
    revision: { git: { commit: 'not a sha;' } },
  });
  expect(badCommit.status).toBe(422);
  const missing = await s.api('POST', `${BC_PATH(ns, 'nope')}/instantiate`, {});
  expect(missing.status).toBe(404);
});

test('twenty concurrent instantiates get twenty distinct build numbers', async () => {
  await s.apiJson('POST', BC_PATH(ns), bc('race', { runPolicy: 'Parallel' }));
  const builds = await Promise.all(
    Array.from({ length: 20 }, () => s.apiJson('POST', `${BC_PATH(ns, 'race')}/instantiate`, {})),
  );
  expect(new Set(builds.map((b) => b.metadata.name)).size).toBe(20);
});

test('a BuildConfig with a ConfigChange trigger starts its first build when created', async () => {
  await s.apiJson('POST', BC_PATH(ns), bc('configchange', { triggers: [{ type: 'ConfigChange' }] }));
  const build = await s.apiJson('GET', BUILD_PATH(ns, 'configchange-1'));
  expect((build.spec as any).triggeredBy).toEqual([{ message: 'Build configuration change' }]);
});

test('deleting a BuildConfig deletes its builds and their logs', async () => {
  await s.apiJson('POST', BC_PATH(ns), bc('cascade'));
  await s.apiJson('POST', `${BC_PATH(ns, 'cascade')}/instantiate`, {});
  await s.apiJson('DELETE', BC_PATH(ns, 'cascade'));
  expect((await s.api('GET', BUILD_PATH(ns, 'cascade-1'))).status).toBe(404);
});

test('resources and logs survive a Redis restart (AOF)', async () => {
  await s.apiJson('POST', BC_PATH(ns), bc('durable'));
  await s.rt.logs.appendLog(ns, 'durable-1', ['line one', 'line two']);
  await s.rt.logs.closeLog(ns, 'durable-1', 'Complete');
  await s.redis.restart();
  const got = await (async () => {
    for (let i = 0; i < 50; i++) {
      const res = await s.api('GET', BC_PATH(ns, 'durable')).catch(() => undefined);
      if (res?.ok) return res.json() as Promise<Resource>;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('server did not recover after the Redis restart');
  })();
  expect(got.metadata.name).toBe('durable');
  expect(await s.rt.logs.readLog(ns, 'durable-1')).toEqual({ lines: ['line one', 'line two'], closed: true });
});
