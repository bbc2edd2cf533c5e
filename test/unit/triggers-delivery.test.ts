/** Redelivery against a real Redis (test/support/stack.ts): one delivery id is acted on once. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Resource } from '../../src/core/resource.js';
import { RedisDeliveryClaims } from '../../src/store/delivery-claims.js';
import { pushInboxKey, RedisPushInbox, STALE_AFTER_MS, type PushRecord } from '../../src/store/push-inbox.js';
import { MAX_INTAKE_BATCH, memoryPushIntake, RedisPushIntake } from '../../src/store/push-intake.js';
import { RedisBuildConfigIndex } from '../../src/store/redis-buildconfig-index.js';
import { MemoryResourceStore } from '../../src/store/memory-store.js';
import { MemoryBuildConfigIndex } from '../../src/triggers/buildconfig-index.js';
import { createLogger } from '../../src/core/logger.js';
import { startPushRouting } from '../../src/webhooks/push-routing.js';
import { startRedis, type RedisHandle } from '../support/stack.js';

let redisHandle: RedisHandle;
const clients: Redis[] = [];

beforeAll(async () => {
  redisHandle = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redisHandle.stop();
});

function server(prefix: string): RedisDeliveryClaims {
  const client = new Redis(redisHandle.url);
  clients.push(client);
  return new RedisDeliveryClaims(client, prefix);
}

describe('claimDelivery', () => {
  it('lets the first claim of an id through, on any server sharing the Redis', async () => {
    const prefix = `t-${randomUUID()}`;
    const a = server(prefix);
    const b = server(prefix);
    const id = `github:${randomUUID()}`;
    expect(await a.claimDelivery(id, 60)).toBe(true);
    expect(await a.claimDelivery(id, 60)).toBe(false);
    expect(await b.claimDelivery(id, 60)).toBe(false);
    expect(await b.claimDelivery(`github:${randomUUID()}`, 60)).toBe(true);
  });

  it('gives exactly one winner to 20 concurrent redeliveries', async () => {
    const prefix = `t-${randomUUID()}`;
    const servers = [server(prefix), server(prefix), server(prefix)];
    const id = `github:${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => servers[i % 3]!.claimDelivery(id, 60)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('forgets a claim after its TTL, or when released after a failure', async () => {
    const claims = server(`t-${randomUUID()}`);
    const id = `generic:${randomUUID()}`;
    expect(await claims.claimDelivery(id, 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await claims.claimDelivery(id, 60)).toBe(true);
    await claims.releaseDelivery(id);
    expect(await claims.claimDelivery(id, 60)).toBe(true);
  });

  it('rejects an empty id and a bad TTL with a message naming them', async () => {
    const claims = server(`t-${randomUUID()}`);
    await expect(claims.claimDelivery('', 60)).rejects.toThrow('delivery id is empty');
    await expect(claims.claimDelivery('x', 0)).rejects.toThrow(
      'ttlSeconds must be a positive integer, got 0',
    );
  });
});

describe('accept: the claim, the repository lookup and the record in one command', () => {
  const bc = (ns: string, name: string, uri: string, rv: number): Resource => ({
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns, resourceVersion: String(rv) },
    spec: { source: { git: { uri } }, strategy: { type: 'Docker' } },
  });

  async function intakes(prefix: string) {
    const client = new Redis(redisHandle.url);
    const blocking = new Redis(redisHandle.url);
    clients.push(client, blocking);
    const index = new RedisBuildConfigIndex(client, prefix);
    await index.upsert(bc('a', 'one', 'https://github.com/o/r.git', 1));
    await index.upsert(bc('b', 'two', 'git@github.com:o/r.git', 2));
    await index.upsert(bc('a', 'other', 'https://github.com/o/elsewhere', 3));
    const claims = new RedisDeliveryClaims(client, prefix);
    const inbox = new RedisPushInbox(client, prefix, blocking);
    await inbox.ensureGroup();
    return {
      client,
      claims,
      index,
      inbox,
      redis: new RedisPushIntake(client, prefix, index),
      memory: memoryPushIntake(claims, index),
    };
  }
  const recordOf = (deliveryId: string): PushRecord => ({
    push: {
      source: 'github',
      repoUrls: ['https://github.com/o/r.git'],
      refs: [
        {
          ref: 'refs/heads/main',
          deleted: false,
          revision: { type: 'Git', git: { message: `é of ${deliveryId}` } },
        },
      ],
    },
    repository: 'o/r',
    after: 'a'.repeat(40),
  });
  const push = (repoUrls: string[], deliveryId = `github:${randomUUID()}`, withRecord = true) => ({
    deliveryId,
    repoUrls,
    ...(withRecord ? { record: recordOf(deliveryId) } : {}),
  });
  const both = [
    { namespace: 'a', name: 'one' },
    { namespace: 'b', name: 'two' },
  ];

  it('answers as a claim, a lookup and a record made one after the other would', async () => {
    const { redis, memory, inbox } = await intakes(`t-${randomUUID()}`);
    const urls = ['https://github.com/o/r', 'git://github.com/o/r.git'];
    const matchedBy = new Map<unknown, ReturnType<typeof push>>();
    for (const intake of [redis, memory]) {
      // Without a record, a push a BuildConfig uses is looked up and left unclaimed.
      const id = `github:${randomUUID()}`;
      expect(await intake.accept(push(urls, id, false))).toEqual({ state: 'used', candidates: both });
      const matched = push(urls, id);
      matchedBy.set(intake, matched);
      expect(await intake.accept(matched)).toEqual({ state: 'recorded', candidates: both });
      expect(await intake.accept(matched)).toEqual({ state: 'duplicate' });
      expect(await intake.accept(push(urls, id, false))).toEqual({ state: 'duplicate' });
      // A push no BuildConfig uses is claimed, record or not, and nothing is recorded.
      const unused = push(['https://github.com/o/none'], undefined, false);
      expect(await intake.accept(unused)).toEqual({ state: 'unused' });
      expect(await intake.accept(unused)).toEqual({ state: 'duplicate' });
      expect(await intake.accept(push(['https://github.com/o/none']))).toEqual({ state: 'unused' });
      // No URL that normalises: the claim alone.
      expect(await intake.accept(push(['not a url']))).toEqual({ state: 'unused' });
    }
    // Only the matching delivery is recorded, once, its record as JSON.
    const expected = matchedBy.get(memory)!;
    expect(memory.recorded).toHaveLength(1);
    expect(memory.recorded[0]!.deliveryId).toBe(expected.deliveryId);
    expect(JSON.parse(memory.recorded[0]!.record.toString())).toEqual(expected.record);
    const queued = await inbox.read('test', 10, 100);
    expect(queued).toHaveLength(1);
    expect(queued[0]!.deliveryId).toBe(matchedBy.get(redis)!.deliveryId);
    expect(JSON.parse(queued[0]!.record!.toString('utf8'))).toEqual(matchedBy.get(redis)!.record);
    expect(queued[0]).toMatchObject({ attempt: 1 });
    expect(queued[0]!.payload).toBeUndefined();
  });

  it('learns which repositories are used from the answers, and forgets one that no longer is', async () => {
    const prefix = `t-${randomUUID()}`;
    const { redis, index } = await intakes(prefix);
    const other = (await intakes(prefix)).redis; // a second server: it learns on its own
    const urls = ['https://github.com/o/elsewhere.git'];
    expect(redis.expectsUse(urls)).toBe(false);
    expect((await redis.accept(push(urls, undefined, false))).state).toBe('used');
    expect(redis.expectsUse(urls)).toBe(true);
    expect(other.expectsUse(urls)).toBe(false);
    // The BuildConfig goes: a push sent with its record is only claimed, and the hint dropped.
    await index.remove(bc('a', 'other', 'https://github.com/o/elsewhere', 4));
    expect(await redis.accept(push(urls))).toEqual({ state: 'unused' });
    expect(redis.expectsUse(urls)).toBe(false);
  });

  it('claims under the key the claims store releases, once among 20 concurrent callers', async () => {
    const prefix = `t-${randomUUID()}`;
    const { redis, claims, inbox } = await intakes(prefix);
    const other = (await intakes(prefix)).redis;
    const id = `github:${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? redis : other).accept(push(['https://github.com/o/r'], id)),
      ),
    );
    expect(results.filter((r) => r.state === 'recorded')).toHaveLength(1);
    expect(results.filter((r) => r.state === 'duplicate')).toHaveLength(19);
    expect(await inbox.length()).toBe(1);
    expect(await claims.claimDelivery(id, 60)).toBe(false);
    await claims.releaseDelivery(id);
    expect((await redis.accept(push([], id))).state).toBe('unused');
  });

  it('takes in deliveries arriving together with one script call, each answered its own result', async () => {
    const prefix = `t-${randomUUID()}`;
    const { redis, client, inbox } = await intakes(prefix);
    const calls = async (): Promise<number> => {
      const stats = String(await client.call('INFO', 'commandstats'));
      return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    };
    await redis.accept(push([])); // loads the script
    const repeated = `github:${randomUUID()}`;
    const before = await calls();
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        redis.accept(
          push(
            i % 3 === 0 ? ['https://github.com/o/r'] : i % 3 === 1 ? ['https://github.com/o/elsewhere'] : [],
            i === 7 || i === 40 ? repeated : undefined,
          ),
        ),
      ),
    );
    expect(await calls()).toBe(before + 1);
    results.forEach((r, i) => {
      if (i === 40)
        expect(r).toEqual({ state: 'duplicate' }); // i = 7 came first
      else if (i % 3 === 0) expect(r).toEqual({ state: 'recorded', candidates: both });
      else if (i % 3 === 1)
        expect(r).toEqual({ state: 'recorded', candidates: [{ namespace: 'a', name: 'other' }] });
      else expect(r).toEqual({ state: 'unused' });
    });
    // 20 matched one repository, 20 the other, less i = 40, a duplicate of i = 7.
    expect(await inbox.length()).toBe(39);
    // More than a batch's worth at once: split, none lost.
    const many = await Promise.all(
      Array.from({ length: MAX_INTAKE_BATCH * 2 + 3 }, () => redis.accept(push(['https://github.com/o/r']))),
    );
    expect(many.every((r) => r.state === 'recorded' && r.candidates.length === 2)).toBe(true);
    expect(await inbox.length()).toBe(39 + MAX_INTAKE_BATCH * 2 + 3);
  });

  it('works again after Redis forgot its scripts (a restart, SCRIPT FLUSH)', async () => {
    const { redis, client } = await intakes(`t-${randomUUID()}`);
    expect(await redis.accept(push(['https://github.com/o/r']))).toMatchObject({ state: 'recorded' });
    await client.script('FLUSH');
    expect(await redis.accept(push(['https://github.com/o/r']))).toMatchObject({ state: 'recorded' });
  });

  it('refuses an empty delivery id', async () => {
    const { redis } = await intakes(`t-${randomUUID()}`);
    expect(() => redis.accept(push([], ''))).toThrow('delivery id is empty');
  });
});

describe('the push inbox', () => {
  it("gives each entry to one worker, hands a dead worker's entry to another once stale, and forgets routed ones", async () => {
    const prefix = `t-${randomUUID()}`;
    const client = new Redis(redisHandle.url);
    const blockingA = new Redis(redisHandle.url);
    const blockingB = new Redis(redisHandle.url);
    clients.push(client, blockingA, blockingB);
    const a = new RedisPushInbox(client, prefix, blockingA);
    const b = new RedisPushInbox(client, prefix, blockingB);
    await a.ensureGroup();
    await b.ensureGroup(); // a second worker finds the group there
    for (let i = 0; i < 6; i++)
      await client.xadd(pushInboxKey(prefix), '*', 'delivery', `github:d${i}`, 'payload', `p${i}`);
    const [fromA, fromB] = await Promise.all([a.read('a', 3, 100), b.read('b', 3, 100)]);
    const ids = [...fromA, ...fromB].map((e) => e.deliveryId).sort();
    expect(ids).toEqual(['github:d0', 'github:d1', 'github:d2', 'github:d3', 'github:d4', 'github:d5']);
    for (const e of fromB) await b.done(e.entryId);
    // Nothing new to read; a's entries are not stale yet, so b takes over none.
    expect(await b.read('b', 10, 50)).toEqual([]);
    expect(await b.takeOverStale('b', 10)).toEqual([]);
    expect(await a.length()).toBe(3);
    // a "dies": its entries idle past STALE_AFTER_MS (set back with XCLAIM's IDLE).
    for (const e of fromA)
      await client.call(
        'XCLAIM',
        pushInboxKey(prefix),
        'routers',
        'a',
        0,
        e.entryId,
        'IDLE',
        STALE_AFTER_MS + 1,
      );
    const taken = await b.takeOverStale('b', 10);
    expect(taken.map((e) => e.deliveryId).sort()).toEqual(fromA.map((e) => e.deliveryId).sort());
    expect(taken.every((e) => e.attempt === 2 && e.payload?.toString().startsWith('p'))).toBe(true);
    for (const e of taken) await b.done(e.entryId);
    expect(await a.length()).toBe(0);
    await a.leave('a');
    await b.leave('b');
    expect(await client.call('XINFO', 'CONSUMERS', pushInboxKey(prefix), 'routers')).toEqual([]);
    expect(await client.hlen(`${pushInboxKey(prefix)}:attempts`)).toBe(0);
  });

  it('a worker stops routing at once even while its blocked read waits for Redis to come back', async () => {
    const own = await startRedis();
    const client = new Redis(own.url);
    const blocking = new Redis(own.url);
    client.on('error', () => undefined);
    blocking.on('error', () => undefined);
    const routing = startPushRouting({
      store: new MemoryResourceStore(),
      index: new MemoryBuildConfigIndex(),
      claims: new RedisDeliveryClaims(client, 'stop'),
      instantiate: () => Promise.reject(new Error('not called')),
      logger: createLogger('silent'),
      inbox: new RedisPushInbox(client, 'stop', blocking),
      interrupt: () => blocking.disconnect(),
    });
    try {
      await new Promise((r) => setTimeout(r, 300)); // the read is blocked now
      await own.stop(); // Redis goes away: both connections keep trying to reconnect
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await routing.close();
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      client.disconnect();
      blocking.disconnect();
    }
  });
});
