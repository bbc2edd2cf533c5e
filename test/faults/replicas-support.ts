/**
 * Shared by the replica-healing fault tests: a replica image that answers with its own
 * container id, Slipway workers as real child processes (controller, rollouts, replica
 * monitor, reconciler and router each), and views of the engine's replica containers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Resource } from '../../src/core/resource.js';
import { getViaRouter } from '../support/deploy.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';
import { BASE_IMAGE, freePort, waitFor } from '../support/stack.js';
import type { PrivateEngine } from './private-engine.js';

const FIXTURES = join(process.cwd(), 'test/faults/replicas-fixtures');

/** Builds the whoami replica image (from the offline base) on the shared engine. */
export function buildWhoamiImage(tag: string): void {
  execFileSync('docker', ['build', '-q', '-t', tag, '-f', '-', FIXTURES], {
    input: `FROM ${BASE_IMAGE}\nCOPY whoami.pl /whoami.pl\nEXPOSE 8080\nCMD ["perl", "/whoami.pl"]\n`,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export interface WorkerProcess {
  child: ChildProcess;
  routerUrl: string;
  stop(): Promise<void>;
}

/** `slipway worker` as a child process, its router on a free loopback port. */
export async function spawnWorker(options: {
  redisUrl: string;
  registry: string;
  dockerHost?: string;
}): Promise<WorkerProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLIPWAY_REDIS_URL: options.redisUrl,
    SLIPWAY_REGISTRY: options.registry,
    SLIPWAY_ROUTER_LISTEN: `127.0.0.1:${port}`,
    SLIPWAY_LOG_LEVEL: 'silent',
  };
  if (options.dockerHost) env.DOCKER_HOST = options.dockerHost;
  else delete env.DOCKER_HOST;
  // SLIPWAY_TEST_WORKER_LOG=<file>: the workers' logs, for a failure to be read afterwards.
  const logFile = process.env.SLIPWAY_TEST_WORKER_LOG;
  if (logFile) env.SLIPWAY_LOG_LEVEL = 'debug';
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const bin = process.env.REPLICAS_TEST_BIN ?? 'bin/slipway.js';
  const child = spawn(process.execPath, [bin, 'worker'], { env, stdio: ['ignore', out, out] });
  const routerUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    `worker ${child.pid}'s router on ${port}`,
    async () =>
      child.exitCode === null ? (await getViaRouter(routerUrl, 'nobody.test')).status === 404 : false,
    30000,
    200,
  );
  return {
    child,
    routerUrl,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A DeploymentConfig of the whoami image, Rolling, ConfigChange-triggered. */
export function whoamiConfig(namespace: string, name: string, image: string, replicas: number): Resource {
  return {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { app: name },
      strategy: { type: 'Rolling', rollingParams: { timeoutSeconds: 60 } },
      triggers: [{ type: 'ConfigChange' }],
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'web',
              image,
              imagePullPolicy: 'IfNotPresent',
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 1, failureThreshold: 1 },
            },
          ],
        },
      },
    },
  };
}

/** A Service and a Route for `name`; resolves the Route's host. */
export async function exposeWhoami(
  apiJson: (method: string, path: string, body?: unknown) => Promise<unknown>,
  namespace: string,
  name: string,
): Promise<string> {
  const host = `${name}.${namespace}.test`;
  await apiJson('POST', `/api/v1/namespaces/${namespace}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  });
  await apiJson('POST', `/apis/route.openshift.io/v1/namespaces/${namespace}/routes`, {
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    metadata: { name },
    spec: { host, to: { kind: 'Service', name } },
  });
  return host;
}

/** A revision's replica containers on `docker`, any state. */
export function replicaContainers(
  docker: Docker,
  namespace: string,
  revision: string,
): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({
    all: true,
    filters: {
      label: [
        'slipway.dev/managed=replica',
        `slipway.dev/namespace=${namespace}`,
        `openshift.io/deployment.name=${revision}`,
      ],
    },
  });
}

/** The short ids (what the whoami replica answers) of a revision's running replicas. */
export async function runningIds(docker: Docker, namespace: string, revision: string): Promise<string[]> {
  return (await replicaContainers(docker, namespace, revision))
    .filter((c) => c.State === 'running')
    .map((c) => c.Id.slice(0, 12))
    .sort();
}

/** Which replicas a router sends `host` to, over `n` requests (round robin covers them all). */
export async function servedBy(routerUrl: string, host: string, n = 8): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = await getViaRouter(routerUrl, host);
    seen.add(r.status === 200 ? r.body : `HTTP ${r.status}`);
  }
  return [...seen].sort();
}

/**
 * How many replica containers of `revision` the engine created between two times (ms),
 * leaving out `existing` (ids seen before `since`). The engine's `since` and `until` take
 * fractional seconds: whole seconds would reach back up to a second before `since` and count
 * the revision's own replicas made by the rollout just before.
 */
export async function createdBetween(
  docker: Docker,
  options: { namespace: string; revision: string; since: number; until: number; existing?: string[] },
): Promise<number> {
  const seconds = (ms: number): string => (ms / 1000).toFixed(3);
  const stream = (await docker.getEvents({
    since: seconds(options.since),
    until: seconds(options.until),
    filters: {
      type: ['container'],
      event: ['create'],
      label: [
        `slipway.dev/namespace=${options.namespace}`,
        `openshift.io/deployment.name=${options.revision}`,
      ],
    },
  } as unknown as Parameters<Docker['getEvents']>[0])) as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  const before = new Set((options.existing ?? []).map((id) => id.slice(0, 12)));
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { id?: string }).id ?? '')
    .filter((id) => !before.has(id.slice(0, 12))).length;
}

/**
 * On a private engine (started here, `image` loaded into it): Slipway's API without
 * workers, reading that engine (the API answers ReplicationControllers with live counts
 * from it), and one `slipway worker` child deploying to it.
 */
export async function slipwayOnPrivateEngine(
  engine: PrivateEngine,
  image: string,
): Promise<{ s: TestSlipway; worker: WorkerProcess }> {
  await engine.start();
  engine.load(image);
  // The runtime's engine client follows DOCKER_HOST when it is made.
  const before = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = engine.host;
  let s: TestSlipway;
  try {
    s = await startSlipway({ workers: 0 });
  } finally {
    if (before === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = before;
  }
  const worker = await spawnWorker({
    redisUrl: s.redis.url,
    registry: s.registry.host,
    dockerHost: engine.host,
  });
  return { s, worker };
}
