/**
 * A whole Slipway for a test file: a real Redis and registry on free ports, the HTTP
 * server on an ephemeral loopback port, and build workers, all wired by src/runtime.ts.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig, type ConfigInput } from '../../src/core/config.js';
import { createLogger } from '../../src/core/logger.js';
import type { Resource } from '../../src/core/resource.js';
import {
  createRuntime,
  startHttpServer,
  startPushRouting,
  startWorker,
  type HttpServerHandle,
  type Runtime,
  type RuntimeOptions,
} from '../../src/runtime.js';
import type { BuildWorkerHandle } from '../../src/queue/build-worker.js';
import { startRedis, startRegistry, waitFor, type RedisHandle, type RegistryHandle } from './stack.js';

export interface TestSlipway {
  redis: RedisHandle;
  registry: RegistryHandle;
  rt: Runtime;
  http: HttpServerHandle;
  workers: BuildWorkerHandle[];
  token: string;
  /** Fetches an API path with the admin token; JSON bodies are encoded. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  apiJson<T = Resource>(method: string, path: string, body?: unknown): Promise<T>;
  /** Waits until the Build reaches one of `phases` and returns it. */
  waitForBuild(namespace: string, name: string, phases?: string[], timeoutMs?: number): Promise<Resource>;
  startWorker(): BuildWorkerHandle;
  stop(): Promise<void>;
}

export interface TestSlipwayOptions {
  config?: Partial<ConfigInput>;
  workers?: number;
  registry?: RegistryHandle;
  /** Runtime hooks (the DeploymentConfig image-change hook). */
  runtime?: Omit<RuntimeOptions, 'logger'>;
  /** Route recorded org/App pushes to builds, as workers do (default true; workers: 0 keeps it). */
  pushRouting?: boolean;
}

export const BC_PATH = (ns: string, name = '') =>
  `/apis/build.openshift.io/v1/namespaces/${ns}/buildconfigs${name ? `/${name}` : ''}`;
export const BUILD_PATH = (ns: string, name = '') =>
  `/apis/build.openshift.io/v1/namespaces/${ns}/builds${name ? `/${name}` : ''}`;
export const IS_PATH = (ns: string, name = '') =>
  `/apis/image.openshift.io/v1/namespaces/${ns}/imagestreams${name ? `/${name}` : ''}`;

export async function startSlipway(options: TestSlipwayOptions = {}): Promise<TestSlipway> {
  const redis = await startRedis();
  const registry = options.registry ?? (await startRegistry());
  const token = `test-${randomUUID()}`;
  const config = loadConfig({
    env: {},
    flags: {
      listen: '127.0.0.1:0',
      redisUrl: redis.url,
      registry: registry.host,
      adminToken: token,
      logLevel: 'silent',
      pushRetryDelayMs: 200,
      ...options.config,
    },
  });
  const rt = await createRuntime(config, { ...options.runtime, logger: createLogger('silent') });
  const http = await startHttpServer(rt);
  const workers: BuildWorkerHandle[] = [];
  for (let i = 0; i < (options.workers ?? 1); i++) workers.push(startWorker(rt));
  const routing = options.pushRouting === false ? undefined : startPushRouting(rt);

  const api = (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> =>
    fetch(`${http.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });

  const handle: TestSlipway = {
    redis,
    registry,
    rt,
    http,
    workers,
    token,
    api,
    apiJson: async <T = Resource>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await api(method, path, body);
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
      return JSON.parse(text) as T;
    },
    waitForBuild: (
      namespace,
      name,
      phases = ['Complete', 'Failed', 'Error', 'Cancelled'],
      timeoutMs = 180000,
    ) =>
      waitFor(
        `build ${namespace}/${name} to reach ${phases.join('|')}`,
        async () => {
          const res = await api('GET', BUILD_PATH(namespace, name));
          if (!res.ok) return undefined;
          const b = (await res.json()) as Resource;
          return phases.includes((b.status as { phase?: string } | undefined)?.phase ?? '') ? b : undefined;
        },
        timeoutMs,
        200,
      ),
    startWorker: () => {
      const w = startWorker(rt);
      workers.push(w);
      return w;
    },
    stop: async () => {
      await routing?.close().catch(() => undefined);
      for (const w of workers) await w.close().catch(() => undefined);
      await http.close();
      await rt.close();
      await redis.stop();
      if (!options.registry) await registry.stop();
    },
  };
  return handle;
}

/** A RoleBinding giving `user` the ClusterRole `role` (admin, edit, view) in the project it is created in. */
export function binding(role: string, user: string): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${role}-${user}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'User', name: user }],
  };
}
