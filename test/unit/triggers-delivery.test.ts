/** Redelivery against a real Redis (test/support/stack.ts): one delivery id is acted on once. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Resource } from '../../src/core/resource.js';
import { RedisDeliveryClaims } from '../../src/store/delivery-claims.js';
import { MAX_INTAKE_BATCH, RedisPushIntake, separatePushIntake } from '../../src/store/push-intake.js';
import { RedisBuildConfigIndex } from '../../src/store/redis-buildconfig-index.js';
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

describe('claimAndLookup: the claim and the repository lookup in one command', () => {
  const bc = (ns: string, name: string, uri: string, rv: number): Resource => ({
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns, resourceVersion: String(rv) },
    spec: { source: { git: { uri } }, strategy: { type: 'Docker' } },
  });

  async function intakes(prefix: string) {
    const client = new Redis(redisHandle.url);
    clients.push(client);
    const index = new RedisBuildConfigIndex(client, prefix);
    await index.upsert(bc('a', 'one', 'https://github.com/o/r.git', 1));
    await index.upsert(bc('b', 'two', 'git@github.com:o/r.git', 2));
    await index.upsert(bc('a', 'other', 'https://github.com/o/elsewhere', 3));
    const claims = new RedisDeliveryClaims(client, prefix);
    return {
      client,
      claims,
      redis: new RedisPushIntake(client, prefix, index),
      separate: separatePushIntake(claims, index),
    };
  }

  it('answers as a claim and a lookup made one after the other would', async () => {
    const { redis, separate } = await intakes(`t-${randomUUID()}`);
    const urls = ['https://github.com/o/r', 'git://github.com/o/r.git'];
    for (const intake of [redis, separate]) {
      const id = `github:${randomUUID()}`;
      expect(await intake.claimAndLookup(id, urls)).toEqual({
        claimed: true,
        candidates: [
          { namespace: 'a', name: 'one' },
          { namespace: 'b', name: 'two' },
        ],
      });
      expect(await intake.claimAndLookup(id, urls)).toEqual({ claimed: false, candidates: [] });
      expect(await intake.claimAndLookup(`github:${randomUUID()}`, ['https://github.com/o/none'])).toEqual({
        claimed: true,
        candidates: [],
      });
      // No URL that normalises: the claim alone.
      expect(await intake.claimAndLookup(`github:${randomUUID()}`, ['not a url'])).toEqual({
        claimed: true,
        candidates: [],
      });
      // No delivery id: nothing to claim, the lookup still answers.
      expect((await intake.claimAndLookup(undefined, urls)).candidates).toHaveLength(2);
    }
  });

  it('claims under the key the claims store releases, once among 20 concurrent callers', async () => {
    const prefix = `t-${randomUUID()}`;
    const { redis, claims } = await intakes(prefix);
    const other = (await intakes(prefix)).redis;
    const id = `github:${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? redis : other).claimAndLookup(id, ['https://github.com/o/r']),
      ),
    );
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    expect(await claims.claimDelivery(id, 60)).toBe(false);
    await claims.releaseDelivery(id);
    expect((await redis.claimAndLookup(id, [])).claimed).toBe(true);
  });

  it('answers deliveries arriving together from one script call, each its own result', async () => {
    const prefix = `t-${randomUUID()}`;
    const { redis, client } = await intakes(prefix);
    const calls = async (): Promise<number> => {
      const stats = String(await client.call('INFO', 'commandstats'));
      return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    };
    await redis.claimAndLookup(`github:${randomUUID()}`, []); // loads the script
    const repeated = `github:${randomUUID()}`;
    const before = await calls();
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        redis.claimAndLookup(
          i === 7 || i === 40 ? repeated : `github:${randomUUID()}`,
          i % 3 === 0 ? ['https://github.com/o/r'] : i % 3 === 1 ? ['https://github.com/o/elsewhere'] : [],
        ),
      ),
    );
    expect(await calls()).toBe(before + 1);
    results.forEach((r, i) => {
      if (i === 40)
        expect(r).toEqual({ claimed: false, candidates: [] }); // i = 7 came first
      else if (i % 3 === 0)
        expect(r.candidates).toEqual([
          { namespace: 'a', name: 'one' },
          { namespace: 'b', name: 'two' },
        ]);
      else if (i % 3 === 1) expect(r.candidates).toEqual([{ namespace: 'a', name: 'other' }]);
      else expect(r).toEqual({ claimed: true, candidates: [] });
    });
    // More than a batch's worth at once: split, none lost.
    const many = await Promise.all(
      Array.from({ length: MAX_INTAKE_BATCH * 2 + 3 }, () =>
        redis.claimAndLookup(`github:${randomUUID()}`, ['https://github.com/o/r']),
      ),
    );
    expect(many.every((r) => r.claimed && r.candidates.length === 2)).toBe(true);
  });

  it('works again after Redis forgot its scripts (a restart, SCRIPT FLUSH)', async () => {
    const { redis, client } = await intakes(`t-${randomUUID()}`);
    expect(
      (await redis.claimAndLookup(`github:${randomUUID()}`, ['https://github.com/o/r'])).candidates,
    ).toHaveLength(2);
    await client.script('FLUSH');
    expect(
      (await redis.claimAndLookup(`github:${randomUUID()}`, ['https://github.com/o/r'])).candidates,
    ).toHaveLength(2);
  });

  it('refuses an empty delivery id', async () => {
    const { redis } = await intakes(`t-${randomUUID()}`);
    await expect(redis.claimAndLookup('', [])).rejects.toThrow('delivery id is empty');
  });
});
