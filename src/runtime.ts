/**
 * Wires Slipway's parts from a configuration: Redis, the store, the queue, the Docker
 * client, the HTTP server and build workers. The CLI's `up`, `server` and `worker`, and
 * the integration tests, all start Slipway through here.
 */
import { createServer, type Server } from 'node:http';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { TokenStore } from './api/auth.js';
import { createApp } from './api/server.js';
import { dockerBuilder } from './builders/docker/index.js';
import { sourceBuilder } from './builders/sti/index.js';
import { parseHostPort, type SlipwayConfig } from './core/config.js';
import { createLogger, type Logger } from './core/logger.js';
import type { Resource } from './core/resource.js';
import { BuildQueue } from './queue/build-queue.js';
import { startBuildWorker, type BuildWorkerHandle } from './queue/build-worker.js';
import { instantiateBuild, type BuildRequest } from './queue/instantiate.js';
import { RedisBuildLogStore } from './store/build-logs.js';
import { RedisResourceStore } from './store/resource-store.js';

export interface Runtime {
  config: SlipwayConfig;
  prefix: string;
  logger: Logger;
  redis: Redis;
  store: RedisResourceStore;
  logs: RedisBuildLogStore;
  queue: BuildQueue;
  tokens: TokenStore;
  docker: Docker;
  instantiate(namespace: string, buildConfig: string, request?: BuildRequest): Promise<Resource>;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Key prefix in Redis; tests sharing one Redis use their own. */
  prefix?: string;
  logger?: Logger;
}

export async function createRuntime(config: SlipwayConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const prefix = options.prefix ?? 'slipway';
  const logger = options.logger ?? createLogger(config.logLevel);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true });
  try {
    await redis.connect();
  } catch (err) {
    throw new Error(`cannot reach Redis at ${config.redisUrl}: ${(err as Error).message}; start it or set SLIPWAY_REDIS_URL`, {
      cause: err,
    });
  }
  const store = new RedisResourceStore(redis, prefix);
  const logs = new RedisBuildLogStore(redis, prefix);
  const queue = new BuildQueue(config.redisUrl, prefix);
  const tokens = new TokenStore(redis, prefix, config.adminToken);
  const docker = new Docker();
  const runtime: Runtime = {
    config,
    prefix,
    logger,
    redis,
    store,
    logs,
    queue,
    tokens,
    docker,
    instantiate: (namespace, buildConfig, request = {}) => instantiateBuild({ store, queue, namespace, buildConfig, request }),
    close: async () => {
      await queue.close();
      redis.disconnect();
    },
  };
  return runtime;
}

export interface HttpServerHandle {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startHttpServer(rt: Runtime): Promise<HttpServerHandle> {
  const app = createApp({
    config: rt.config,
    store: rt.store,
    logs: rt.logs,
    queue: rt.queue,
    tokens: rt.tokens,
    logger: rt.logger,
    instantiate: (ns, bc, req) => rt.instantiate(ns, bc, req),
    ready: async () => (await rt.redis.ping()) === 'PONG',
  });
  const { host, port } = parseHostPort(rt.config.listen);
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actualPort = addr && typeof addr === 'object' ? addr.port : port;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function startWorker(rt: Runtime): BuildWorkerHandle {
  return startBuildWorker(
    {
      store: rt.store,
      logs: rt.logs,
      docker: rt.docker,
      config: rt.config,
      builders: { Docker: dockerBuilder, Source: sourceBuilder },
      logger: rt.logger,
    },
    {
      redisUrl: rt.config.redisUrl,
      prefix: rt.prefix,
      concurrency: rt.config.workerConcurrency,
      lockDurationMs: rt.config.workerLockMs,
      stalledIntervalMs: rt.config.stalledIntervalMs,
    },
  );
}
