/**
 * The Docker engine restarted while a rollout waits for its new replicas to be ready.
 * The engine is a private `dockerd` (test/faults/private-engine.ts), a `slipway worker`
 * child process deploys to it. An engine that is gone for a few seconds is not a failed
 * rollout: the rollout waits for the engine to answer again (within its timeout) and
 * completes, rather than failing and scaling its new revision to zero.
 */
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import type { TestSlipway } from '../support/slipway.js';
import { waitFor } from '../support/stack.js';
import { dockerdMissing, privateEngine } from './private-engine.js';
import {
  buildWhoamiImage,
  runningIds,
  slipwayOnPrivateEngine,
  whoamiConfig,
  type WorkerProcess,
} from './replicas-support.js';

const shared = new Docker();
const run = randomUUID().slice(0, 8);
const ns = `rr-${run}`;
const IMAGE = `slipway-test/whoami-${run}:v1`;
const engineProcess = privateEngine({ id: run, subnet: '10.214.253' });
const engine = engineProcess.docker;
const DC = (name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const RC = (name: string) => `/api/v1/namespaces/${ns}/replicationcontrollers/${name}`;

let s: TestSlipway;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  if (dockerdMissing) return;
  expect(existsSync('dist/cli/main.js')).toBe(true); // `npm test` builds first
  buildWhoamiImage(IMAGE);
  ({ s, worker } = await slipwayOnPrivateEngine(engineProcess, IMAGE));
}, 180000);

afterAll(async () => {
  await worker?.stop().catch(() => undefined);
  await s?.stop();
  await engineProcess.destroy();
  await shared
    .getImage(IMAGE)
    .remove({ force: true })
    .catch(() => undefined);
}, 120000);

const phaseOf = async (rc: string): Promise<string | undefined> =>
  ((await s.apiJson('GET', RC(rc))) as { metadata: { annotations?: Record<string, string> } }).metadata
    .annotations?.['openshift.io/deployment.phase'];

(dockerdMissing ? test.skip : test)(
  'the engine restarted while the rollout waits for readiness: the rollout completes',
  async () => {
    const dc = whoamiConfig(ns, 'web', IMAGE, 2) as any;
    // Readiness comes 12 s after start: the restart lands while the rollout waits for it.
    dc.spec.template.spec.containers[0].readinessProbe.initialDelaySeconds = 12;
    await s.apiJson('POST', DC(), dc);
    await waitFor(
      'two replicas of web-1 started, not ready yet',
      async () => (await runningIds(engine, ns, 'web-1')).length === 2,
      90000,
      250,
    );
    expect(await phaseOf('web-1')).toBe('Running');
    await engineProcess.stop();
    await new Promise((r) => setTimeout(r, 2000));
    await engineProcess.start();

    const phase = await waitFor(
      'the rollout of web-1 to end',
      async () => {
        const p = await phaseOf('web-1');
        return p === 'Complete' || p === 'Failed' ? p : undefined;
      },
      120000,
      250,
    );
    const rc = (await s.apiJson('GET', RC('web-1'))) as any;
    if (phase !== 'Complete') console.log(JSON.stringify(rc.metadata.annotations, null, 1));
    expect(phase).toBe('Complete');
    expect(rc.spec.replicas).toBe(2);
    await waitFor(
      'two running replicas of web-1',
      async () => (await runningIds(engine, ns, 'web-1')).length === 2,
      60000,
      250,
    );
    // The rollout's log says what it waited for, and for how long.
    const { lines } = await s.rt.rolloutLogs.readLog(ns, 'web-1');
    expect(lines.join('\n')).toMatch(
      /The docker target is not answering \(connect ENOENT .*\); waiting up to 60 s for it/,
    );
    expect(lines.join('\n')).toMatch(/The docker target answers again after \d+\.\d s/);
  },
  300000,
);
