/**
 * The namespace purge on a real Redis: it removes one namespace's keys and entries and
 * nothing of a namespace whose name contains it (`shop` beside `shop-2` and `my-shop`).
 */
import { Redis } from 'ioredis';
import { lookupKind } from '../../src/core/resource.js';
import { RedisNamespaceKeys } from '../../src/store/namespace-keys.js';
import { RedisResourceStore } from '../../src/store/resource-store.js';
import { startRedis, type RedisHandle } from '../support/stack.js';

let handle: RedisHandle;
let redis: Redis;
const p = 'pfx';

beforeAll(async () => {
  handle = await startRedis();
  redis = new Redis(handle.url);
});

afterAll(async () => {
  await redis?.quit();
  await handle?.stop();
});

/** Every kind of key and entry the purge knows, for namespace `ns`. */
async function seed(ns: string): Promise<void> {
  await redis
    .multi()
    .hset(`${p}:obj:builds.build.openshift.io:${ns}:web-1`, 'json', '{}')
    .zadd(`${p}:idx:builds.build.openshift.io:${ns}`, 0, 'web-1')
    .sadd(`${p}:ns:builds.build.openshift.io`, ns)
    .xadd(`${p}:log:${ns}:web-1`, '*', 'l', 'line')
    .xadd(`${p}:rollout:log:${ns}:web-1`, '*', 'l', 'line')
    .set(`${p}:build-fingerprint:${ns}:sha256:abc`, '{}')
    .set(`${p}:binary:${ns}/u1`, 'data')
    .hset(`${p}:binary-usage:${ns}`, 'u1', '4:0')
    .set(`${p}:delivery:generic:key-1:${ns}/web`, '1')
    .set(`${p}:delivery:imagechange:${ns}/app:latest@sha256:1`, '1')
    .set(`${p}:provenance:digest:127.0.0.1:5000/${ns}/app@sha256:1`, `${ns}/web`)
    .set(`${p}:provenance:pushing:127.0.0.1:5000/${ns}/app:latest`, `${ns}/web`)
    .set(`${p}:deploy:revision-lease:${ns}/web-1`, 'holder')
    .set(`${p}:deploy:steps:serving:${ns}/web-1`, '1')
    .hset(`${p}:quota:held:${ns}`, 'rc/web-1', '{}')
    .set(`${p}:usage:build-time:${ns}`, '12')
    .set(`${p}:token-scope:deployer:${ns}/web:hash-${ns}`, '1')
    .set(`${p}:token:hash-${ns}`, '{}')
    .hset(`${p}:namespace-targets`, ns, 'docker')
    .hset(`${p}:bcidx:entries`, `${ns}/web`, '1|0|repo')
    .sadd(`${p}:bcidx:repo:repo`, `${ns}/web`)
    .hset(`${p}:deploy:replicas`, `c-${ns}`, JSON.stringify({ id: `c-${ns}`, namespace: ns }))
    .hset(`${p}:deploy:draining`, `c-${ns}`, '1')
    .hset(`${p}:deploy:failures`, `${ns}/web-1`, 'cannot pull')
    .exec();
}

/** Every key, and every shared entry as `key field`, that names `ns`. */
async function mentions(ns: string): Promise<string[]> {
  const out: string[] = [];
  const all: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${p}:*`, 'COUNT', 1000);
    all.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  for (const key of all) {
    if (key.includes(ns)) out.push(key);
    const type = await redis.type(key);
    const entries =
      type === 'hash' ? await redis.hkeys(key) : type === 'set' ? await redis.smembers(key) : [];
    for (const e of entries)
      if (e === ns || e.startsWith(`${ns}/`) || e === `c-${ns}`) out.push(`${key} ${e}`);
  }
  return out.sort();
}

test('purge removes every key and shared entry of one namespace and nothing of its namesakes', async () => {
  for (const ns of ['shop', 'shop-2', 'my-shop']) await seed(ns);
  const before2 = await mentions('shop-2');
  const beforeMy = await mentions('my-shop');
  expect((await mentions('shop')).length).toBeGreaterThan(20);

  const result = await new RedisNamespaceKeys(redis, p).purge('shop');

  // Keys of shop-2 and my-shop contain "shop" too: only exact mentions of shop count.
  const left = (await mentions('shop')).filter((m) => !m.includes('shop-2') && !m.includes('my-shop'));
  expect(left).toEqual([]);
  expect(await mentions('shop-2')).toEqual(before2);
  expect(await mentions('my-shop')).toEqual(beforeMy);
  expect(result.keys).toBeGreaterThan(15);
});

test('a namespace marked deleted refuses new objects until the mark is lifted', async () => {
  const store = new RedisResourceStore(redis, p);
  const keys = new RedisNamespaceKeys(redis, p);
  const secret = lookupKind('v1', 'Secret')!;
  const obj = (name: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'gone' } });
  await keys.markDeleted('gone');
  await expect(store.create(secret, obj('late'))).rejects.toThrow(
    'unable to create new content in namespace gone because it is being terminated',
  );
  await keys.forgetDeleted('gone');
  await expect(store.create(secret, obj('again'))).resolves.toMatchObject({ metadata: { name: 'again' } });
});
