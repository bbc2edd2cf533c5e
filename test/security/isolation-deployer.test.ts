/**
 * Deployer and hook containers on the local Docker target run on the namespace's network,
 * never the host's, on the real stack (Redis, registry, Docker engine): the container is
 * inspected while it runs, it reaches the API only through the relay named `slipway-api`,
 * it cannot reach Redis, and its rollout still completes. The relay itself refuses other
 * addresses and anything but an origin-form API path.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Resource } from '../../src/core/resource.js';
import { startDeployments, type DeploymentsHandle } from '../../src/runtime.js';
import { startApiRelay } from '../../src/strategies/docker/api-relay.js';
import { removeNamespaceReplicas } from '../support/deploy.js';
import { BASE_IMAGE, waitFor } from '../support/stack.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';

const docker = new Docker();

/** The id of the namespace's network, which must be the only one of its name. */
async function namespaceNetworkId(): Promise<string> {
  const named = (await docker.listNetworks({ filters: { name: [`slipway-${ns}`] } })).filter(
    (n) => n.Name === `slipway-${ns}`,
  );
  expect(named).toHaveLength(1);
  return named[0]!.Id;
}
const ns = `isod-${randomUUID().slice(0, 8)}`;
const run = randomUUID().slice(0, 8);
const APP = `slipway-test/iso-app-${run}`;
const DEPLOYER = `slipway-test/iso-deployer-${run}`;
const FIXTURES = join(process.cwd(), 'test/integration/deploy-fixtures');
const DC = (name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const RC = (name: string) => `/api/v1/namespaces/${ns}/replicationcontrollers/${name}`;

let s: TestSlipway;
let deployments: DeploymentsHandle;

function buildImage(tag: string, dockerfile: string): void {
  execFileSync('docker', ['build', '-q', '-t', tag, '-f', '-', FIXTURES], {
    input: dockerfile,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

beforeAll(async () => {
  buildImage(
    `${APP}:v1`,
    `FROM ${BASE_IMAGE}\nCOPY server.pl /server.pl\nENV APP_VERSION=v1\nEXPOSE 8080\nCMD ["perl", "/server.pl"]\n`,
  );
  buildImage(
    `${DEPLOYER}:latest`,
    `FROM ${BASE_IMAGE}\nCOPY deploy.pl /deploy.pl\nCMD ["perl", "/deploy.pl"]\n`,
  );
  s = await startSlipway({ workers: 0, config: { routerListen: '127.0.0.1:0' } });
  deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
}, 300000);

afterAll(async () => {
  await deployments?.close();
  await s?.stop();
  await removeNamespaceReplicas(docker, ns);
  for (const image of [`${APP}:v1`, `${DEPLOYER}:latest`])
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
});

async function waitForRevision(name: string): Promise<Resource> {
  return waitFor(
    `${name} to end`,
    async () => {
      const res = await s.api('GET', RC(name));
      if (!res.ok) return undefined;
      const rc = (await res.json()) as Resource;
      const phase = rc.metadata.annotations?.['openshift.io/deployment.phase'];
      return phase === 'Complete' || phase === 'Failed' ? rc : undefined;
    },
    150000,
    250,
  );
}

/** Inspects the first running container with `label` as soon as it appears. */
async function inspectWhileRunning(label: string): Promise<Docker.ContainerInspectInfo> {
  return waitFor(
    `a container labelled ${label}`,
    async () => {
      const [c] = await docker.listContainers({ filters: { label: [label, `slipway.dev/namespace=${ns}`] } });
      return c ? docker.getContainer(c.Id).inspect() : undefined;
    },
    120000,
    100,
  );
}

test('a Custom deployer and a pre hook run on the namespace network, reach the API by name, never Redis, and the rollout completes', async () => {
  const redisPort = s.redis.port;
  // Before its real work, the deployer tries Redis on the host's loopback (what the host
  // network would give it) and on the relay's address; both must be closed to it.
  const probe = [
    'sleep 3',
    `(exec 3<>/dev/tcp/127.0.0.1/${redisPort}) 2>/dev/null && echo "loopback redis reachable" || echo "loopback redis closed"`,
    `(exec 3<>/dev/tcp/slipway-api/${redisPort}) 2>/dev/null && echo "gateway redis reachable" || echo "gateway redis closed"`,
    'exec perl /deploy.pl',
  ].join('; ');
  await s.apiJson('POST', DC(), {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name: 'cust', namespace: ns },
    spec: {
      replicas: 1,
      selector: { app: 'cust' },
      triggers: [{ type: 'ConfigChange' }],
      strategy: {
        type: 'Custom',
        customParams: {
          image: `${DEPLOYER}:latest`,
          command: ['bash', '-c', probe],
          environment: [{ name: 'GREETING', value: 'isolated' }],
        },
      },
      template: {
        metadata: { labels: { app: 'cust' } },
        spec: {
          containers: [{ name: 'web', image: `${APP}:v1`, ports: [{ name: 'http', containerPort: 8080 }] }],
        },
      },
    },
  });
  const deployer = await inspectWhileRunning('openshift.io/deployer-pod-for.name=cust-1');
  // Containers are put on the network by its id (a name can be ambiguous for a moment
  // while two processes race to make it): the id of the namespace's one network.
  expect(deployer.HostConfig.NetworkMode).toBe(await namespaceNetworkId());
  expect(Object.keys(deployer.NetworkSettings.Networks)).toEqual([`slipway-${ns}`]);
  expect(deployer.HostConfig.ExtraHosts?.some((h: string) => h.startsWith('slipway-api:'))).toBe(true);
  expect(deployer.Config.Env.find((e) => e.startsWith('SLIPWAY_API_URL='))).toMatch(
    /^SLIPWAY_API_URL=http:\/\/slipway-api:\d+$/,
  );
  const rc = await waitForRevision('cust-1');
  const log = await (await s.api('GET', `${DC('cust')}/log`)).text();
  expect([rc.metadata.annotations?.['openshift.io/deployment.phase'], log]).toEqual([
    'Complete',
    expect.stringContaining('deployer: custom deployer for'),
  ]);
  expect(log).toContain('deployer: loopback redis closed');
  expect(log).toContain('deployer: gateway redis closed');
  expect(log).toContain('deployer: scaled cust-1 to 1');

  // A pre hook (execNewPod) of a Recreate rollout: on the namespace network too.
  const dc = (await s.apiJson('GET', DC('cust'))) as Resource & { spec: Record<string, any> };
  dc.spec.strategy = {
    type: 'Recreate',
    recreateParams: {
      pre: {
        failurePolicy: 'Abort',
        execNewPod: { containerName: 'web', command: ['sh', '-c', 'sleep 3; echo hook ran'] },
      },
    },
  };
  dc.spec.template.spec.containers[0].env = [{ name: 'V', value: '2' }];
  await s.apiJson('PUT', DC('cust'), dc);
  const hook = await inspectWhileRunning('openshift.io/deployment.hook=pre');
  expect(hook.HostConfig.NetworkMode).toBe(await namespaceNetworkId());
  const rc2 = await waitForRevision('cust-2');
  expect(rc2.metadata.annotations?.['openshift.io/deployment.phase']).toBe('Complete');
}, 300000);

describe('the API relay', () => {
  let upstream: Server;
  let upstreamUrl: string;
  beforeAll(async () => {
    upstream = createServer((req, res) => res.end(`upstream saw ${req.method} ${req.url}`));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => upstream.close(() => r())));

  function send(port: number, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('serves only the admitted address, and only origin-form paths to the API', async () => {
    const stranger = await startApiRelay({ bindAddress: '127.0.0.1', upstream: upstreamUrl });
    stranger.admit('10.9.8.7');
    try {
      expect((await send(stranger.port, '/apis')).status).toBe(403);
    } finally {
      await stranger.close();
    }
    const relay = await startApiRelay({ bindAddress: '127.0.0.1', upstream: upstreamUrl });
    relay.admit('127.0.0.1');
    try {
      expect(await send(relay.port, '/apis/x?y=1')).toEqual({
        status: 200,
        body: 'upstream saw GET /apis/x?y=1',
      });
      // A proxy-style absolute URL is not relayed anywhere.
      expect((await send(relay.port, 'http://169.254.169.254/latest/meta-data')).status).toBe(400);
    } finally {
      await relay.close();
    }
  });
});
