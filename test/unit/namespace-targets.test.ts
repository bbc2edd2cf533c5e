/**
 * The namespace → deploy target record of a mixed fleet (src/store/namespace-targets.ts)
 * against a real Redis, the pure decisions made from it, and the API that declares it
 * (src/api/deploy-targets.ts: 422 naming the field, 409 when revisions exist elsewhere).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { deployTargetRouter } from '../../src/api/deploy-targets.js';
import { apiBody } from '../../src/api/body.js';
import { errorMiddleware } from '../../src/api/errors.js';
import { createLogger } from '../../src/core/logger.js';
import type { Resource } from '../../src/core/resource.js';
import { MemoryResourceStore } from '../../src/store/memory-store.js';
import {
  RedisNamespaceTargets,
  decideTarget,
  parseDeployTargetKind,
  rolloutQueueKind,
  rolloutQueueName,
} from '../../src/store/namespace-targets.js';
import { DEPLOYMENT_CONFIG } from '../../src/strategies/rollout.js';
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

/** One Slipway process's view of the record: its own Redis connection, the fleet's prefix. */
function process_(prefix: string): RedisNamespaceTargets {
  const client = new Redis(redisHandle.url);
  clients.push(client);
  return new RedisNamespaceTargets(client, prefix);
}

describe('the namespace target record (real Redis)', () => {
  it('is shared by every process of the fleet: a claim by one is what the others read', async () => {
    const prefix = `t-${randomUUID()}`;
    const docker = process_(prefix);
    const kube = process_(prefix);
    expect(await docker.get('shop')).toBeUndefined();
    expect(await kube.claim('shop', 'kubernetes')).toBe('kubernetes');
    // The Docker process claiming later is told the namespace is the cluster's.
    expect(await docker.claim('shop', 'docker')).toBe('kubernetes');
    expect(await docker.get('shop')).toBe('kubernetes');
    // Another fleet (prefix) has a record of its own.
    expect(await process_(`t-${randomUUID()}`).get('shop')).toBeUndefined();
  });

  it('gives one winner to many processes claiming a new namespace at once', async () => {
    const prefix = `t-${randomUUID()}`;
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, i) => process_(prefix).claim('race', i % 2 ? 'docker' : 'kubernetes')),
    );
    expect(new Set(claims).size).toBe(1);
    expect(await process_(prefix).get('race')).toBe(claims[0]);
  });

  it('is replaced by an explicit declaration', async () => {
    const prefix = `t-${randomUUID()}`;
    const t = process_(prefix);
    await t.claim('web', 'docker');
    await t.set('web', 'kubernetes');
    expect(await t.get('web')).toBe('kubernetes');
    expect(await t.claim('web', 'docker')).toBe('kubernetes');
  });
});

describe('decisions', () => {
  it('a process acts on a namespace only when the record is its own kind', () => {
    expect(decideTarget({ own: 'docker', before: undefined, after: 'docker' })).toEqual({
      act: true,
      claimed: true,
    });
    expect(decideTarget({ own: 'docker', before: 'docker', after: 'docker' })).toEqual({
      act: true,
      claimed: false,
    });
    // Lost the race for a new namespace: the other kind recorded it first.
    expect(decideTarget({ own: 'docker', before: undefined, after: 'kubernetes' })).toEqual({
      act: false,
      recorded: 'kubernetes',
    });
    expect(decideTarget({ own: 'kubernetes', before: 'docker', after: 'docker' })).toEqual({
      act: false,
      recorded: 'docker',
    });
  });

  it('a rollout is queued for the kind its namespace is recorded for, whoever queues it', () => {
    expect(rolloutQueueKind({ recorded: 'kubernetes', own: 'docker' })).toBe('kubernetes');
    expect(rolloutQueueKind({ recorded: 'docker', own: 'kubernetes' })).toBe('docker');
    expect(rolloutQueueKind({ recorded: undefined, own: 'kubernetes' })).toBe('kubernetes');
  });

  it('rollouts of each kind go to a queue of their own', () => {
    expect(rolloutQueueName('docker')).toBe('rollouts-docker');
    expect(rolloutQueueName('kubernetes')).toBe('rollouts-kubernetes');
    expect(rolloutQueueName('docker')).not.toBe(rolloutQueueName('kubernetes'));
  });

  it('a kind given by a user is checked, naming the field', () => {
    expect(parseDeployTargetKind('kubernetes')).toBe('kubernetes');
    expect(() => parseDeployTargetKind('k8s', 'target')).toThrow(/target: Unsupported value: "k8s"/);
    expect(() => parseDeployTargetKind(undefined, 'target')).toThrow(
      /supported values: "docker", "kubernetes"/,
    );
  });
});

describe('GET|PUT …/namespaces/{ns}/deploytarget', () => {
  let server: Server;
  let base: string;
  const store = new MemoryResourceStore();
  let targets: RedisNamespaceTargets;

  beforeAll(async () => {
    targets = process_(`t-${randomUUID()}`);
    const app = express();
    app.use(apiBody());
    app.use(deployTargetRouter({ store, targets }));
    app.use(errorMiddleware(createLogger('silent')));
    server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/apis/slipway.dev/v1/namespaces`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  const put = (ns: string, body: unknown) =>
    fetch(`${base}/${ns}/deploytarget`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('answers null until a target is recorded, then the recorded one', async () => {
    const before = (await (await fetch(`${base}/fresh/deploytarget`)).json()) as { target: unknown };
    expect(before.target).toBeNull();
    const res = await put('fresh', { target: 'kubernetes' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { target: string }).target).toBe('kubernetes');
    expect(await targets.get('fresh')).toBe('kubernetes');
  });

  it('refuses a kind it does not know with a 422 naming the field, and records nothing', async () => {
    const res = await put('bad', { target: 'nomad' });
    expect(res.status).toBe(422);
    const status = (await res.json()) as { message: string; details?: { causes?: { field: string }[] } };
    expect(status.message).toMatch(/target: Unsupported value: "nomad"/);
    expect(status.details?.causes?.[0]?.field).toBe('target');
    expect(await targets.get('bad')).toBeUndefined();
  });

  it('refuses to move a namespace whose DeploymentConfigs have revisions on its target (409)', async () => {
    await targets.set('moving', 'docker');
    const dc = (await store.create(DEPLOYMENT_CONFIG, {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'web', namespace: 'moving' },
      spec: { replicas: 1, template: { spec: { containers: [{ name: 'web', image: 'x' }] } } },
    } as Resource)) as Resource;
    // No revision yet: moving is allowed, and back again.
    expect((await put('moving', { target: 'kubernetes' })).status).toBe(200);
    expect((await put('moving', { target: 'docker' })).status).toBe(200);
    await store.replace(DEPLOYMENT_CONFIG, { ...dc, status: { latestVersion: 1 } });
    const res = await put('moving', { target: 'kubernetes' });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { message: string }).message).toMatch(
      /deploys to docker and DeploymentConfig\(s\) web have revisions there/,
    );
    expect(await targets.get('moving')).toBe('docker');
    // Declaring what is recorded already is no move.
    expect((await put('moving', { target: 'docker' })).status).toBe(200);
  });
});
