/**
 * Redis SIGKILLed and started again on the same AOF (fsynced on every write) under a
 * running `slipway server` and `slipway worker`: every resource and queued build
 * acknowledged before the kill is there after it, both processes reconnect, and the
 * queued builds run to completion.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import {
  BASE_IMAGE,
  freePort,
  startGitDaemon,
  startRegistry,
  waitFor,
  type GitServer,
  type RegistryHandle,
} from '../support/stack.js';
import { BC_PATH, BUILD_PATH } from '../support/slipway.js';
import {
  startAofRedis,
  startSlipwayProcess,
  startWorkerProcess,
  type AofRedis,
  type SlipwayProcess,
} from './processes.js';

let redis: AofRedis;
let registry: RegistryHandle;
let git: GitServer;
let server: SlipwayProcess | undefined;
let worker: SlipwayProcess | undefined;
const token = `t-${randomUUID()}`;
const ns = `aof-${randomUUID().slice(0, 8)}`;
let base = '';

beforeAll(async () => {
  redis = await startAofRedis();
  registry = await startRegistry();
  git = await startGitDaemon();
});
afterAll(async () => {
  server?.kill('SIGKILL');
  worker?.kill('SIGKILL');
  await redis?.stop();
  await registry?.stop();
  await git?.stop();
});

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10000),
  });
}
async function apiJson(method: string, path: string, body?: unknown): Promise<Resource> {
  const res = await api(method, path, body);
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return JSON.parse(text) as Resource;
}
const phaseOf = async (name: string): Promise<string | undefined> => {
  const res = await api('GET', BUILD_PATH(ns, name));
  return res.ok ? ((await res.json()) as { status?: { phase?: string } }).status?.phase : undefined;
};

test('Redis killed and restarted with AOF: nothing acknowledged is lost; server and worker reconnect and finish the queue', async () => {
  const env = {
    SLIPWAY_REDIS_URL: redis.url,
    SLIPWAY_REGISTRY: registry.host,
    SLIPWAY_ADMIN_TOKEN: token,
    SLIPWAY_LOG_LEVEL: 'silent',
  };
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = startSlipwayProcess(['server'], { ...env, SLIPWAY_LISTEN: `127.0.0.1:${port}` });
  await waitFor('the server to listen', async () => server!.output().includes('listening on'), 30000);
  worker = await startWorkerProcess({
    ...env,
    SLIPWAY_WORKER_CONCURRENCY: '1',
    SLIPWAY_WORKER_LOCK_MS: '4000',
    SLIPWAY_STALLED_INTERVAL_MS: '2000',
  });

  const name = 'durable';
  git.commit(name, { Dockerfile: `FROM ${BASE_IMAGE}\nRUN sleep 3\n` });
  await apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      runPolicy: 'Parallel',
      source: { git: { uri: git.url(name), ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: { noCache: true } },
    },
  });
  // Three builds acknowledged: the worker (one at a time) is on the first, two wait in the queue.
  const before: string[] = [];
  for (let i = 0; i < 3; i++)
    before.push((await apiJson('POST', `${BC_PATH(ns, name)}/instantiate`, {})).metadata.name);
  await waitFor('the first build to run', async () => (await phaseOf(before[0]!)) === 'Running', 60000, 200);

  await redis.kill();
  // While Redis is down the API fails; it must answer, not hang.
  const down = await api('GET', BC_PATH(ns, name)).catch((err: unknown) => err);
  if (down instanceof Response) expect(down.status).toBeGreaterThanOrEqual(500);
  await redis.start();

  // The server reconnects: what was acknowledged is all there.
  const bc = await waitFor(
    'the server to answer again',
    async () => {
      const res = await api('GET', BC_PATH(ns, name));
      return res.ok ? ((await res.json()) as Resource) : undefined;
    },
    30000,
    300,
  );
  expect((bc.status as { lastVersion?: number }).lastVersion).toBe(3);
  for (const b of before) expect(await phaseOf(b)).toBeDefined();
  // A build started after the restart, to show the worker takes new work too.
  const after = (await apiJson('POST', `${BC_PATH(ns, name)}/instantiate`, {})).metadata.name;

  const ended = ['Complete', 'Failed', 'Error', 'Cancelled'];
  const phases: Record<string, string | undefined> = {};
  await waitFor(
    'every build to end',
    async () => {
      for (const b of [...before, after]) phases[b] = await phaseOf(b);
      return Object.values(phases).every((p) => ended.includes(p ?? ''));
    },
    180000,
    500,
  );
  // The first build was running during the outage: it ends (whichever way), it is not stuck.
  // The ones that were queued, and the one after, complete.
  expect(phases[before[1]!]).toBe('Complete');
  expect(phases[before[2]!]).toBe('Complete');
  expect(phases[after]).toBe('Complete');
  console.log(`redis restart: first build ended ${phases[before[0]!]}`);
}, 300000);
