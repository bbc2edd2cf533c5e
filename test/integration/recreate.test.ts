/**
 * A BuildConfig or DeploymentConfig deleted and created again under the same name
 * builds and rolls out like a new one. (Job ids were `{namespace}.{name}` and completed
 * jobs are kept, so the recreated resource's first build or rollout was ignored by the
 * queue and stayed New forever.)
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { startDeployments, type DeploymentsHandle } from '../../src/runtime.js';
import { removeNamespaceReplicas } from '../support/deploy.js';
import { BASE_IMAGE, startGitDaemon, waitFor, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
let git: GitServer;
let deployments: DeploymentsHandle;
const ns = `again-${randomUUID().slice(0, 8)}`;
const DC = (name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const RC = (name = '') => `/api/v1/namespaces/${ns}/replicationcontrollers${name ? `/${name}` : ''}`;

beforeAll(async () => {
  s = await startSlipway({ workers: 1, config: { routerListen: '127.0.0.1:0' } });
  deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  git = await startGitDaemon();
});
afterAll(async () => {
  await deployments?.close();
  if (s) await removeNamespaceReplicas(s.rt.docker, ns);
  await s?.stop();
  await git?.stop();
});

const st = (b: Resource): Record<string, any> => (b.status ?? {}) as Record<string, any>;

test('a BuildConfig deleted and created again with the same name builds again', async () => {
  const name = 'again';
  git.commit(name, { Dockerfile: `FROM ${BASE_IMAGE}\nRUN true\n` });
  const bc: Resource = {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri: git.url(name), ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: { noCache: true } },
    },
  };
  await s.apiJson('POST', BC_PATH(ns), bc);
  const first = await s.apiJson('POST', `${BC_PATH(ns, name)}/instantiate`, {});
  expect(first.metadata.name).toBe(`${name}-1`);
  expect(st(await s.waitForBuild(ns, first.metadata.name, undefined, 90000)).phase).toBe('Complete');

  await s.apiJson('DELETE', BC_PATH(ns, name));
  await waitFor(
    'the old builds to go',
    async () => (await s.api('GET', BUILD_PATH(ns, `${name}-1`))).status === 404,
  );
  await s.apiJson('POST', BC_PATH(ns), bc);
  const again = await s.apiJson('POST', `${BC_PATH(ns, name)}/instantiate`, {});
  expect(again.metadata.name).toBe(`${name}-1`); // a new BuildConfig numbers from 1
  expect(again.metadata.uid).not.toBe(first.metadata.uid);
  const done = await s.waitForBuild(ns, again.metadata.name, undefined, 60000);
  expect(st(done).phase).toBe('Complete');
});

test('a DeploymentConfig deleted and created again with the same name rolls out again', async () => {
  const name = 'redeploy';
  const dc: Resource = {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { app: name },
      strategy: { type: 'Recreate' },
      triggers: [{ type: 'ConfigChange' }],
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image: BASE_IMAGE, command: ['sleep', '3600'] }] },
      },
    },
  };
  const phaseOf = async (): Promise<string | undefined> => {
    const res = await s.api('GET', RC(`${name}-1`));
    if (!res.ok) return undefined;
    return ((await res.json()) as Resource).metadata.annotations?.['openshift.io/deployment.phase'];
  };
  await s.apiJson('POST', DC(), dc);
  await waitFor('revision 1 to complete', async () => (await phaseOf()) === 'Complete', 90000, 300);
  const firstUid = (await s.apiJson('GET', RC(`${name}-1`))).metadata.uid;

  await s.apiJson('DELETE', DC(name));
  await waitFor('the old revision to go', async () => (await phaseOf()) === undefined, 60000, 300);
  await s.apiJson('POST', DC(), dc);
  await waitFor(
    'revision 1 of the new DeploymentConfig to complete',
    async () => (await phaseOf()) === 'Complete',
    90000,
    300,
  );
  expect((await s.apiJson('GET', RC(`${name}-1`))).metadata.uid).not.toBe(firstUid);
}, 240000);
