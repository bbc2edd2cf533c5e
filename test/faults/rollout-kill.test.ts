/**
 * A worker process SIGKILLed in the middle of a rollout (its pre hook running): the
 * rollout's lease runs out, another worker takes the job and the rollout completes.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { startDeployments, type DeploymentsHandle } from '../../src/runtime.js';
import { removeNamespaceReplicas } from '../support/deploy.js';
import { BASE_IMAGE, waitFor } from '../support/stack.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';
import { startWorkerProcess, type SlipwayProcess } from './processes.js';

let s: TestSlipway;
let deployments: DeploymentsHandle | undefined;
let worker: SlipwayProcess | undefined;
const ns = `rk-${randomUUID().slice(0, 8)}`;
const DC = (name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const RC = (name = '') => `/api/v1/namespaces/${ns}/replicationcontrollers${name ? `/${name}` : ''}`;

beforeAll(async () => {
  s = await startSlipway({
    workers: 0,
    config: { workerLockMs: 4000, stalledIntervalMs: 2000, routerListen: '127.0.0.1:0' },
  });
});
afterAll(async () => {
  worker?.kill('SIGKILL');
  await deployments?.close();
  if (s) await removeNamespaceReplicas(s.rt.docker, ns);
  await s?.stop();
});

test('a worker SIGKILLed mid-rollout: the rollout resumes on another worker and completes', async () => {
  worker = await startWorkerProcess({
    SLIPWAY_REDIS_URL: s.redis.url,
    SLIPWAY_REGISTRY: s.registry.host,
    SLIPWAY_WORKER_LOCK_MS: '4000',
    SLIPWAY_STALLED_INTERVAL_MS: '2000',
    SLIPWAY_LOG_LEVEL: 'silent',
  });
  const name = 'resume';
  await s.apiJson('POST', DC(), {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { app: name },
      strategy: {
        type: 'Recreate',
        recreateParams: {
          timeoutSeconds: 120,
          pre: { failurePolicy: 'Abort', execNewPod: { containerName: 'main', command: ['sleep', '8'] } },
        },
      },
      triggers: [{ type: 'ConfigChange' }],
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image: BASE_IMAGE, command: ['sleep', '3600'] }] },
      },
    },
  });
  const revision = async (): Promise<Resource | undefined> => {
    const res = await s.api('GET', RC(`${name}-1`));
    return res.ok ? ((await res.json()) as Resource) : undefined;
  };
  const phase = async (): Promise<string | undefined> =>
    (await revision())?.metadata.annotations?.['openshift.io/deployment.phase'];
  await waitFor(
    'the rollout to run on the worker process',
    async () => (await phase()) === 'Running',
    60000,
    200,
  );
  await new Promise((r) => setTimeout(r, 1500)); // the pre hook is running
  worker.kill('SIGKILL');
  await worker.exited();
  expect(await phase()).toBe('Running'); // nothing ended it: the worker just died

  // Another worker (here in the test process) takes the rollout over once the lease runs out.
  deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  await waitFor(
    'the rollout to end on the other worker',
    async () => ['Complete', 'Failed'].includes((await phase()) ?? ''),
    120000,
    300,
  );
  expect(await phase()).toBe('Complete');
  const dc = await s.apiJson('GET', DC(name));
  expect((dc.status as { latestVersion?: number }).latestVersion).toBe(1);
  await waitFor(
    'one replica of revision 1 running',
    async () => ((await revision())?.status as { replicas?: number } | undefined)?.replicas === 1,
    30000,
  );
}, 240000);
