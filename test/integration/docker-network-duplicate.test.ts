/**
 * Two processes making a namespace's first replicas at once can each create its network;
 * until one removes the duplicate, the Docker engine refuses to start a container there
 * ("network … is ambiguous (2 matches found on name)"), and the replica was not made
 * (test/faults/network-race.test.ts met it about one run in four). Here the race is made
 * certain on the machine's engine: the client the target uses creates the duplicate right
 * after the target has chosen its network, before the first container is created. The
 * target must remove the duplicate and start the replica anyway.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import { createLogger } from '../../src/core/logger.js';
import { RedisResourceStore } from '../../src/store/resource-store.js';
import { revisionFor } from '../../src/strategies/deployment-config.js';
import { DockerTarget } from '../../src/strategies/docker/docker-target.js';
import { ReplicaStateStore } from '../../src/strategies/docker/replica-state.js';
import { networkName } from '../../src/strategies/docker/replicas.js';
import { BASE_IMAGE, startRedis, type RedisHandle } from '../support/stack.js';

const docker = new Docker();
const ns = `nd-${randomUUID().slice(0, 8)}`;
let redisHandle: RedisHandle;
let client: Redis;

beforeAll(async () => {
  redisHandle = await startRedis();
  client = new Redis(redisHandle.url);
});

afterAll(async () => {
  for (const c of await docker.listContainers({
    all: true,
    filters: { label: [`slipway.dev/namespace=${ns}`] },
  }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  for (const n of await docker.listNetworks({ filters: { name: [networkName(ns)] } }))
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
  client.disconnect();
  await redisHandle.stop();
}, 60000);

test('a duplicate of the namespace network made under the first replica: the replica starts, one network is left', async () => {
  let creates = 0;
  let duplicate: string | undefined;
  // The machine's engine, with the other process's create slipped in before the first container.
  const racing = new Proxy(docker, {
    get(obj, prop, receiver) {
      if (prop !== 'createContainer') return Reflect.get(obj, prop, receiver) as unknown;
      return async (options: Docker.ContainerCreateOptions) => {
        if (creates++ === 0) {
          const made = await docker.createNetwork({
            Name: networkName(ns),
            Driver: 'bridge',
            CheckDuplicate: false,
          });
          duplicate = made.id;
        }
        return docker.createContainer(options);
      };
    },
  });
  const prefix = `nd-${randomUUID()}`;
  const target = new DockerTarget({
    docker: racing,
    store: new RedisResourceStore(client, prefix),
    states: new ReplicaStateStore(client, prefix),
    logger: createLogger('silent'),
    drainMs: 0,
  });
  const dc = {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name: 'web', namespace: ns, uid: randomUUID() },
    spec: {
      replicas: 1,
      selector: { app: 'web' },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: BASE_IMAGE, command: ['sleep', '300'] }] },
      },
    },
  } as unknown as DeploymentConfig;
  const signal = new AbortController().signal;
  await target.ensureRevision(revisionFor(dc, 1, [{ type: 'ConfigChange' }]));
  await target.scaleRevision(ns, 'web-1', 1, { signal });

  expect(duplicate).toBeDefined();
  // The engine refused the first container; the second, made after the duplicate went, ran.
  expect(creates).toBe(2);
  const status = await target.revisionStatus(ns, 'web-1');
  expect(status.failures).toEqual([]);
  const running = await docker.listContainers({ filters: { label: [`slipway.dev/namespace=${ns}`] } });
  expect(running).toHaveLength(1);
  const networks = (await docker.listNetworks({ filters: { name: [networkName(ns)] } })).filter(
    (n) => n.Name === networkName(ns),
  );
  expect(networks.map((n) => n.Id)).not.toContain(duplicate);
  expect(networks).toHaveLength(1);
  await target.close();
}, 120000);
