/**
 * The build counter under contention, on a real Redis: many concurrent instantiates of
 * one BuildConfig (as a webhook flood makes) each get a distinct number, none fails,
 * `status.lastVersion` ends at the highest, and a recreated BuildConfig counts from 1.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Resource } from '../../src/core/resource.js';
import { BuildQueue } from '../../src/queue/build-queue.js';
import { BUILD, BUILD_CONFIG, instantiateBuild } from '../../src/queue/instantiate.js';
import { RedisResourceStore } from '../../src/store/resource-store.js';
import { startRedis, type RedisHandle } from '../support/stack.js';

let redis: RedisHandle;
let client: Redis;
let store: RedisResourceStore;
let queue: BuildQueue;
const prefix = `t-${randomUUID().slice(0, 8)}`;
const ns = 'counter';

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  store = new RedisResourceStore(client, prefix);
  queue = new BuildQueue(redis.url, prefix);
});
afterAll(async () => {
  await queue?.close();
  client?.disconnect();
  await redis?.stop();
});

const bc = (name: string): Resource => ({
  apiVersion: 'build.openshift.io/v1',
  kind: 'BuildConfig',
  metadata: { name, namespace: ns },
  spec: {
    runPolicy: 'Parallel',
    source: { git: { uri: 'https://example.invalid/r.git' } },
    strategy: { type: 'Docker', dockerStrategy: {} },
  },
});

test('400 concurrent instantiates of one BuildConfig: 400 builds numbered 1..400, no error', async () => {
  await store.create(BUILD_CONFIG, bc('busy'));
  const results = await Promise.allSettled(
    Array.from({ length: 400 }, () => instantiateBuild({ store, queue, namespace: ns, buildConfig: 'busy' })),
  );
  const failed = results.filter((r) => r.status === 'rejected');
  expect(failed).toEqual([]);
  const names = results.map((r) => (r as PromiseFulfilledResult<Resource>).value.metadata.name);
  expect(new Set(names).size).toBe(400);
  const numbers = names.map((n) => Number(n.slice('busy-'.length))).sort((a, b) => a - b);
  expect(numbers).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
  const stored = await store.get(BUILD_CONFIG, ns, 'busy');
  expect((stored!.status as { lastVersion: number }).lastVersion).toBe(400);
  expect(await queue.queue.getJobCountByTypes('wait', 'delayed', 'prioritized')).toBe(400);
}, 60000);

test('the counter follows a status raised by hand, and a recreated BuildConfig counts from 1', async () => {
  await store.create(BUILD_CONFIG, bc('raised'));
  await store.update(BUILD_CONFIG, ns, 'raised', (cur) => ({ ...cur, status: { lastVersion: 41 } }));
  const next = await instantiateBuild({ store, queue, namespace: ns, buildConfig: 'raised' });
  expect(next.metadata.name).toBe('raised-42');

  await store.delete(BUILD_CONFIG, ns, 'raised');
  await store.delete(BUILD, ns, 'raised-42');
  await store.create(BUILD_CONFIG, bc('raised'));
  const fresh = await instantiateBuild({ store, queue, namespace: ns, buildConfig: 'raised' });
  expect(fresh.metadata.name).toBe('raised-1');
});

test('a Build left under the next name (not yet cleaned up) is skipped, not a failure', async () => {
  await store.create(BUILD_CONFIG, bc('left'));
  await store.create(BUILD, {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name: 'left-1', namespace: ns },
    spec: {},
    status: { phase: 'Complete' },
  });
  const b = await instantiateBuild({ store, queue, namespace: ns, buildConfig: 'left' });
  expect(b.metadata.name).toBe('left-2');
  expect((await store.get(BUILD_CONFIG, ns, 'left'))!.status).toMatchObject({ lastVersion: 2 });
});
