/**
 * `slipway rollout` as a user runs it: the built bin against a real server with the
 * deployments stage and the router on the local Docker target (real Redis, registry and
 * Docker). The app is the tiny Perl HTTP server of deploy.test.ts, built by this test
 * from the offline Debian base: v1, v2, and a version whose readiness never passes.
 * What is asserted is what the user sees: exit codes, stdout/stderr, and what the Route
 * answers through the router.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { startDeployments, startRouter, type DeploymentsHandle } from '../../src/runtime.js';
import type { RouterHandle } from '../../src/strategies/router.js';
import { cliRunner, type CliRun } from '../support/cli.js';
import { getViaRouter, removeNamespaceReplicas } from '../support/deploy.js';
import { BASE_IMAGE, waitFor } from '../support/stack.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';

const docker = new Docker();
const ns = `rcli-${randomUUID().slice(0, 8)}`;
const APP = `slipway-test/rollout-cli-app-${randomUUID().slice(0, 8)}`;
const FIXTURES = join(process.cwd(), 'test/integration/deploy-fixtures');
const HOST = `web.${ns}.test`;
const dir = mkdtempSync(join(tmpdir(), 'slipway-rollout-cli-'));

let s: TestSlipway;
let deployments: DeploymentsHandle;
let router: RouterHandle;

const slipway = cliRunner(() => ({
  server: s.http.url,
  token: s.token,
  namespace: ns,
  credentials: join(dir, 'none.json'),
}));

const viaRouter = (): Promise<{ status: number; body: string }> => getViaRouter(router.url, HOST);

/** The manifests a user would keep in one file: DC, Service, Route. */
function manifests(version: string, timeoutSeconds = 30): string {
  // v1's replicas become ready only after 8 s, so `rollout status`, started right after
  // apply, always finds the rollout still going, however slowly the machine runs the CLI.
  const initialDelay = version === 'v1' ? 8 : 0;
  return `apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: web
spec:
  replicas: 2
  selector: { app: web }
  strategy:
    type: Rolling
    rollingParams: { timeoutSeconds: ${timeoutSeconds} }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: ${APP}:${version}
          ports: [{ name: http, containerPort: 8080 }]
          readinessProbe:
            httpGet: { path: /healthz, port: http }
            initialDelaySeconds: ${initialDelay}
            periodSeconds: 1
            failureThreshold: 1
          resources:
            limits: { memory: 64Mi }
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: http }]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata:
  name: web
spec:
  host: ${HOST}
  to: { kind: Service, name: web }
`;
}

async function apply(version: string, timeoutSeconds?: number): Promise<CliRun> {
  const file = join(dir, `web-${version}.yaml`);
  writeFileSync(file, manifests(version, timeoutSeconds));
  return slipway(['apply', '-f', file]);
}

/** History rows as [REVISION, STATUS, CAUSE], header and title dropped. */
function historyRows(stdout: string): string[][] {
  return stdout
    .trim()
    .split('\n')
    .slice(2)
    .map((line) => line.split(/\s{2,}/).slice(0, 3));
}

beforeAll(async () => {
  const build = (tag: string, dockerfile: string): void => {
    execFileSync('docker', ['build', '-q', '-t', tag, '-f', '-', FIXTURES], {
      input: dockerfile,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  };
  build(
    `${APP}:v1`,
    `FROM ${BASE_IMAGE}\nCOPY server.pl /server.pl\nENV APP_VERSION=v1\nEXPOSE 8080\nCMD ["perl", "/server.pl"]\n`,
  );
  build(`${APP}:v2`, `FROM ${APP}:v1\nENV APP_VERSION=v2\n`);
  build(`${APP}:never-ready`, `FROM ${APP}:v1\nENV APP_VERSION=never-ready NEVER_READY=1\n`);
  s = await startSlipway({ workers: 0, config: { routerListen: '127.0.0.1:0' } });
  deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  router = await startRouter(s.rt);
}, 300000);

afterAll(async () => {
  await deployments?.close();
  await router?.close();
  await s?.stop();
  await removeNamespaceReplicas(docker, ns);
  for (const tag of ['never-ready', 'v2', 'v1'])
    await docker
      .getImage(`${APP}:${tag}`)
      .remove({ force: true })
      .catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}, 120000);

test('apply a DeploymentConfig, Service and Route; rollout status waits and exits 0 when the rollout is complete; the Route serves it', async () => {
  const applied = await apply('v1');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  expect(applied.stdout.trim().split('\n')).toEqual([
    'deploymentconfig.apps.openshift.io/web created',
    'service.core/web created',
    'route.route.openshift.io/web created',
  ]);

  const status = await slipway(['rollout', 'status', 'dc/web']);
  expect(status.stderr).toBe('');
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(/^Waiting for rollout to finish: \d of 2 updated replicas are ready/m);
  expect(status.stdout.trim().split('\n').pop()).toBe(
    'replication controller "web-1" successfully rolled out',
  );
  await router.refresh();
  await waitFor('v1 through the router', async () => (await viaRouter()).body === 'v1', 10000);
}, 120000);

test('rollout latest starts a new revision; a config change is another; history lists them with their causes', async () => {
  const latest = await slipway(['rollout', 'latest', 'dc/web']);
  expect([latest.code, latest.stdout.trim()]).toEqual([
    0,
    'deploymentconfig.apps.openshift.io/web rolled out (revision 2)',
  ]);
  const second = await slipway(['rollout', 'status', 'dc/web']);
  expect([second.code, second.stdout.trim().split('\n').pop()]).toEqual([
    0,
    'replication controller "web-2" successfully rolled out',
  ]);

  const changed = await apply('v2');
  expect(changed.stdout).toContain('deploymentconfig.apps.openshift.io/web configured');
  const third = await slipway(['rollout', 'status', 'dc/web']);
  expect([third.code, third.stdout.trim().split('\n').pop()]).toEqual([
    0,
    'replication controller "web-3" successfully rolled out',
  ]);
  expect((await viaRouter()).body).toBe('v2');

  const history = await slipway(['rollout', 'history', 'dc/web']);
  expect(history.code).toBe(0);
  const lines = history.stdout.trim().split('\n');
  expect(lines[0]).toBe('deploymentconfigs "web"');
  expect(lines[1]).toMatch(/^REVISION\s+STATUS\s+CAUSE\s+AGE\s+REASON$/);
  expect(historyRows(history.stdout)).toEqual([
    ['1', 'Complete', 'config change'],
    ['2', 'Complete', 'manual change'],
    ['3', 'Complete', 'config change'],
  ]);
  const one = await slipway(['rollout', 'history', 'dc/web', '--revision', '1']);
  expect(one.code).toBe(0);
  expect(JSON.parse(one.stdout).spec.containers[0].image).toBe(`${APP}:v1`);
}, 180000);

test('rollout undo --to-revision 1 rolls back to v1 as a new revision', async () => {
  const undo = await slipway(['rollout', 'undo', 'dc/web', '--to-revision', '1']);
  expect(undo.stderr).toBe('');
  expect([undo.code, undo.stdout.trim().split('\n')[0]]).toEqual([
    0,
    'deploymentconfig.apps.openshift.io/web rolled back to web-1 (new revision 4)',
  ]);
  const status = await slipway(['rollout', 'status', 'dc/web']);
  expect([status.code, status.stdout.trim().split('\n').pop()]).toEqual([
    0,
    'replication controller "web-4" successfully rolled out',
  ]);
  expect((await viaRouter()).body).toBe('v1');
  const rows = historyRows((await slipway(['rollout', 'history', 'dc/web'])).stdout);
  expect(rows[rows.length - 1]).toEqual(['4', 'Complete', 'rollback']);
}, 120000);

test('rollout pause stops new rollouts, with a message saying so; resume lets them start again', async () => {
  const pause = await slipway(['rollout', 'pause', 'dc/web']);
  expect([pause.code, pause.stdout.trim()]).toEqual([0, 'deploymentconfig.apps.openshift.io/web paused']);
  const dc = JSON.parse((await slipway(['get', 'dc/web', '-o', 'json'])).stdout) as {
    spec: { paused?: boolean };
  };
  expect(dc.spec.paused).toBe(true);

  const refused = await slipway(['rollout', 'latest', 'dc/web']);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toBe('');
  expect(refused.stderr.trim()).toMatch(
    /^Error from server \(4\d\d\): cannot deploy a paused deployment config "web"; resume it first/,
  );
  const history = historyRows((await slipway(['rollout', 'history', 'dc/web'])).stdout);
  expect(history).toHaveLength(4);

  const resume = await slipway(['rollout', 'resume', 'dc/web']);
  expect([resume.code, resume.stdout.trim()]).toEqual([0, 'deploymentconfig.apps.openshift.io/web resumed']);
  const latest = await slipway(['rollout', 'latest', 'dc/web']);
  expect([latest.code, latest.stdout.trim()]).toEqual([
    0,
    'deploymentconfig.apps.openshift.io/web rolled out (revision 5)',
  ]);
  const status = await slipway(['rollout', 'status', 'dc/web']);
  expect([status.code, status.stdout.trim().split('\n').pop()]).toEqual([
    0,
    'replication controller "web-5" successfully rolled out',
  ]);
}, 120000);

test('a rollout whose readiness never passes makes rollout status exit non-zero with the reason; the previous revision keeps serving', async () => {
  expect((await apply('never-ready', 6)).code).toBe(0);
  const status = await slipway(['rollout', 'status', 'dc/web']);
  expect(status.code).toBe(1);
  expect(status.stdout).toMatch(/Waiting for rollout to finish: 0 of \d updated replicas are ready/);
  expect(status.stderr.trim()).toMatch(
    /^error: replication controller "web-6" has failed progressing: web-6 made no progress for 6s: .*readiness probe failed: HTTP probe on \/healthz answered 503/,
  );
  const rows = historyRows((await slipway(['rollout', 'history', 'dc/web'])).stdout);
  expect(rows[rows.length - 1]).toEqual(['6', 'Failed', 'config change']);
  expect((await viaRouter()).body).toBe('v1');
}, 120000);

test('bad input exits 1 with a message that names what was wrong', async () => {
  const unknown = await slipway(['rollout', 'status', 'dc/nope']);
  expect(unknown.code).toBe(1);
  expect(unknown.stdout).toBe('');
  expect(unknown.stderr.trim()).toBe(
    'Error from server (404): deploymentconfigs.apps.openshift.io "nope" not found',
  );

  for (const verb of ['latest', 'history', 'undo', 'pause']) {
    const run = await slipway(['rollout', verb, 'dc/nope']);
    expect([verb, run.code]).toEqual([verb, 1]);
    // The message names the kind and the name; its wording differs by verb (the store's or the API's).
    expect(run.stderr.trim()).toMatch(
      /^Error from server \(404\): (deploymentconfigs\.apps\.openshift\.io|DeploymentConfig) "nope" not found/,
    );
  }

  const notDc = await slipway(['rollout', 'status', 'bc/web']);
  expect([notDc.code, notDc.stderr.trim()]).toEqual([1, 'error: "bc/web" is not dc/NAME']);
  const badRevision = await slipway(['rollout', 'undo', 'dc/web', '--to-revision', 'two']);
  expect([badRevision.code, badRevision.stderr.trim()]).toEqual([
    1,
    'error: --to-revision "two" is not a revision number',
  ]);
  const missingRevision = await slipway(['rollout', 'undo', 'dc/web', '--to-revision', '99']);
  expect(missingRevision.code).toBe(1);
  expect(missingRevision.stderr).toMatch(/99/);
}, 60000);
