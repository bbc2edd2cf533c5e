/**
 * A Custom deployer's token reads only its own DeploymentConfig's revisions; tokens are
 * gone from Redis when they expire, and revoked when their rollout ends.
 */
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { generateToken, hashToken } from '../../src/api/auth.js';
import type { Resource } from '../../src/core/resource.js';
import { startDeployments, type DeploymentsHandle } from '../../src/runtime.js';
import { deployerScope } from '../../src/strategies/rollout.js';
import { removeNamespaceReplicas } from '../support/deploy.js';
import { BASE_IMAGE, waitFor } from '../support/stack.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';

const docker = new Docker();
const ns = `sec-${randomUUID().slice(0, 8)}`;
const OTHER_SECRET = `other-${randomUUID()}`;
const DC = (name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const RC = (name = '') => `/api/v1/namespaces/${ns}/replicationcontrollers${name ? `/${name}` : ''}`;
let s: TestSlipway;
let deployments: DeploymentsHandle;

function sleeper(name: string, env: { name: string; value: string }[], strategy?: unknown): Resource {
  return {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { app: name },
      strategy: strategy ?? { type: 'Recreate' },
      triggers: [{ type: 'ConfigChange' }],
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image: BASE_IMAGE, command: ['sleep', '3600'], env }] },
      },
    },
  };
}

async function revisionPhase(name: string): Promise<string | undefined> {
  const res = await s.api('GET', RC(name));
  if (!res.ok) return undefined;
  return ((await res.json()) as Resource).metadata.annotations?.['openshift.io/deployment.phase'];
}

const as = (token: string, method: string, path: string): Promise<Response> =>
  fetch(`${s.http.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  s = await startSlipway({ workers: 0 });
  deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  for (const [dc, rc] of [
    ['mine', 'mine-1'],
    ['other', 'other-1'],
  ] as const) {
    // One at a time: the first rollout of a namespace makes its network.
    const env =
      dc === 'mine' ? [{ name: 'MINE', value: 'mine-value' }] : [{ name: 'OTHER', value: OTHER_SECRET }];
    await s.apiJson('POST', DC(), sleeper(dc, env));
    await waitFor(
      `${rc} to end`,
      async () => ['Complete', 'Failed'].includes((await revisionPhase(rc)) ?? ''),
      120000,
    ).catch(async (err: unknown) => {
      throw new Error(
        `${String(err)}; phase ${await revisionPhase(rc)}; log: ${await (await s.api('GET', `${DC(dc)}/log`)).text()}`,
      );
    });
    const phase = await revisionPhase(rc);
    if (phase !== 'Complete')
      throw new Error(`${rc} ${phase}: ${await (await s.api('GET', `${DC(dc)}/log`)).text()}`);
  }
}, 180000);

afterAll(async () => {
  await deployments?.close();
  await s?.stop();
  await removeNamespaceReplicas(docker, ns);
});

test("a deployer token cannot list or get another DeploymentConfig's revisions, nor read their env", async () => {
  const token = generateToken();
  await s.rt.tokens.add(token, deployerScope(ns, 'mine'), 600);

  // Its own: listed, read.
  const ownList = await as(token, 'GET', `${RC()}?labelSelector=openshift.io/deployment-config.name=mine`);
  expect(ownList.status).toBe(200);
  expect(((await ownList.json()) as { items: Resource[] }).items.map((i) => i.metadata.name)).toEqual([
    'mine-1',
  ]);
  expect((await as(token, 'GET', RC('mine-1'))).status).toBe(200);

  // Everything in the namespace: only its own come back.
  const all = await as(token, 'GET', RC());
  const allText = await all.text();
  expect(all.status).toBe(200);
  expect(allText).not.toContain(OTHER_SECRET);
  expect((JSON.parse(allText) as { items: Resource[] }).items.map((i) => i.metadata.name)).toEqual([
    'mine-1',
  ]);

  // Another config's: 403 naming verb, resource and namespace; nothing of its env.
  const list = await as(token, 'GET', `${RC()}?labelSelector=openshift.io/deployment-config.name=other`);
  const listText = await list.text();
  expect(list.status).toBe(403);
  expect(listText).not.toContain(OTHER_SECRET);
  const listStatus = JSON.parse(listText) as { kind: string; reason: string; message: string };
  expect(listStatus).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
  expect(listStatus.message).toMatch(/cannot list resource "replicationcontrollers" in the namespace "sec-/);

  for (const path of [RC('other-1'), `${RC('other-1')}/scale`]) {
    const get = await as(token, 'GET', path);
    const text = await get.text();
    expect(get.status).toBe(403);
    expect(text).not.toContain(OTHER_SECRET);
    expect((JSON.parse(text) as { message: string }).message).toMatch(
      new RegExp(`cannot get resource "replicationcontrollers(/scale)?" in the namespace "${ns}"`),
    );
  }
  const scale = await fetch(`${s.http.url}${RC('other-1')}/scale`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'Scale', spec: { replicas: 0 } }),
  });
  expect(scale.status).toBe(403);
  expect((await as(token, 'GET', DC('other'))).status).toBe(403);
});

test('an expired token is refused and gone from Redis', async () => {
  const token = generateToken();
  await s.rt.tokens.add(token, deployerScope(ns, 'mine'), 1);
  expect((await as(token, 'GET', DC('mine'))).status).toBe(200);
  await new Promise((r) => setTimeout(r, 2100));
  expect((await as(token, 'GET', DC('mine'))).status).toBe(401);
  const hash = hashToken(token);
  const keys = await s.rt.redis.keys('*token*');
  for (const key of keys) {
    const type = await s.rt.redis.type(key);
    if (type === 'hash') expect(await s.rt.redis.hexists(key, hash)).toBe(0);
    else if (type === 'set') expect(await s.rt.redis.sismember(key, hash)).toBe(0);
    else expect(key).not.toContain(hash);
  }

  // One kept by an earlier version in the lasting hash, expired: purged when first seen.
  const legacy = generateToken();
  await s.rt.redis.hset(
    `${s.rt.prefix}:tokens`,
    hashToken(legacy),
    JSON.stringify({ scope: deployerScope(ns, 'mine'), expires: Date.now() - 1000 }),
  );
  expect((await as(legacy, 'GET', DC('mine'))).status).toBe(401);
  expect(await s.rt.redis.hexists(`${s.rt.prefix}:tokens`, hashToken(legacy))).toBe(0);
});

test("a Custom deployer's token is revoked when its rollout ends", async () => {
  // The deployer reports the hash of its token, by which the test finds it in Redis.
  const script = [
    'h=$(printf %s "$SLIPWAY_TOKEN" | sha256sum | cut -c1-64)',
    'echo "token-hash=$h"',
    // A careless deployer printing its token: the rollout log shows it masked.
    'echo "raw=$SLIPWAY_TOKEN"',
    'exit 0',
  ].join('; ');
  await s.apiJson(
    'POST',
    DC(),
    sleeper('cust', [], {
      type: 'Custom',
      customParams: { image: BASE_IMAGE, command: ['sh', '-c', script] },
    }),
  );
  await waitFor(
    'cust-1 to end',
    async () => {
      const p = await revisionPhase('cust-1');
      return p === 'Complete' || p === 'Failed';
    },
    120000,
  );
  const log = await (await s.api('GET', `${DC('cust')}/log`)).text();
  const hash = /token-hash=([0-9a-f]{64})/.exec(log)?.[1];
  expect(hash).toBeDefined();
  expect(log).toContain('deployer: raw=***');
  expect(log).not.toContain('slw_');
  // sha256 hex of the token is what the store keys it by (hashToken).
  expect(await s.rt.redis.exists(`${s.rt.prefix}:token:${hash}`)).toBe(0);
  expect(await s.rt.redis.hexists(`${s.rt.prefix}:tokens`, hash!)).toBe(0);
  expect(await s.rt.redis.keys(`${s.rt.prefix}:token-scope:${deployerScope(ns, 'cust')}:*`)).toEqual([]);
}, 150000);
