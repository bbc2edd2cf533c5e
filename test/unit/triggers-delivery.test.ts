/** Redelivery against a real Redis (test/support/stack.ts): one delivery id is acted on once. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisDeliveryClaims } from '../../src/store/delivery-claims.js';
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
