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
import { webhookRouter } from './api/webhook-routes.js';
import { dockerBuilder } from './builders/docker/index.js';
import { sourceBuilder } from './builders/sti/index.js';
import { parseHostPort, type SlipwayConfig } from './core/config.js';
import { errorMessage } from './core/errors.js';
import { createLogger, type Logger } from './core/logger.js';
import type { Resource } from './core/resource.js';
import { BuildQueue } from './queue/build-queue.js';
import { startBuildWorker, type BuildWorkerHandle } from './queue/build-worker.js';
import { cancelSupersededBuilds } from './queue/cancel.js';
import { BUILD_CONFIG, instantiateBuild, type BuildRequest } from './queue/instantiate.js';
import { RedisBinaryInputStore } from './store/binary-store.js';
import { RedisBuildLogStore } from './store/build-logs.js';
import { RedisResourceStore } from './store/resource-store.js';
import { startBuildConfigIndexing } from './triggers/buildconfig-index.js';
import { CommitStatusPublisher, GitHubCommitStatusReporter } from './triggers/commit-status.js';
import { RedisDeliveryClaims } from './triggers/delivery-claims.js';
import {
  dispatchImageChange,
  logDeploymentImageChange,
  type DeploymentImageChangeHook,
  type ImageChangeOutcome,
} from './triggers/image-change-dispatch.js';
import type { ImageStreamTagUpdate } from './triggers/image-change.js';
import { RedisImageProvenance } from './triggers/image-provenance.js';
import { RedisBuildConfigIndex } from './triggers/redis-buildconfig-index.js';

export interface Runtime {
  config: SlipwayConfig;
  prefix: string;
  logger: Logger;
  redis: Redis;
  store: RedisResourceStore;
  logs: RedisBuildLogStore;
  binaries: RedisBinaryInputStore;
  queue: BuildQueue;
  tokens: TokenStore;
  docker: Docker;
  /** Webhook and image-change deliveries already acted on, shared by every server. */
  claims: RedisDeliveryClaims;
  /** Which BuildConfig pushed which image (the ImageChange loop guard). */
  provenance: RedisImageProvenance;
  /** Starts a build; SerialLatestOnly cancels older queued builds of the config first. */
  instantiate(namespace: string, buildConfig: string, request?: BuildRequest): Promise<Resource>;
  /**
   * Fires the ImageChange triggers following a tag that moved (registry notifications and
   * workers' pushes both call it). `registry` lets it look up who pushed the image.
   */
  dispatchImageChange(update: ImageStreamTagUpdate & { registry?: string }): Promise<ImageChangeOutcome>;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Key prefix in Redis; tests sharing one Redis use their own. */
  prefix?: string;
  logger?: Logger;
  /**
   * Called when a DeploymentConfig's ImageChange trigger fires; the deployments stage
   * rolls out and records `lastTriggeredImage`. Default: a debug log line.
   */
  onDeploymentImageChange?: DeploymentImageChangeHook;
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
  const binaries = new RedisBinaryInputStore(redis, prefix);
  const queue = new BuildQueue(config.redisUrl, prefix);
  const tokens = new TokenStore(redis, prefix, config.adminToken);
  const docker = new Docker();
  const claims = new RedisDeliveryClaims(redis, prefix);
  const provenance = new RedisImageProvenance(redis, prefix);
  const instantiate = (namespace: string, buildConfig: string, request: BuildRequest = {}): Promise<Resource> =>
    instantiateBuild({
      store,
      queue,
      namespace,
      buildConfig,
      request,
      beforeEnqueue: async (build, bc) => {
        const cancelled = await cancelSupersededBuilds({ store, queue, logs, build, buildConfig: bc });
        if (cancelled.length > 0) logger.info({ namespace, build: build.metadata.name, cancelled }, 'SerialLatestOnly cancelled older queued builds');
      },
    });
  const onDeploymentImageChange = options.onDeploymentImageChange ?? logDeploymentImageChange(logger);
  const runtime: Runtime = {
    config,
    prefix,
    logger,
    redis,
    store,
    logs,
    binaries,
    queue,
    tokens,
    docker,
    claims,
    provenance,
    instantiate,
    dispatchImageChange: (update) =>
      dispatchImageChange({ store, claims, provenance, instantiate, onDeploymentImageChange, logger }, update),
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

/**
 * Keeps the org endpoint's BuildConfig index current: watch, then list. Pub/sub does not
 * replay what a disconnected subscriber missed, so after Redis comes back the watch is
 * started again and the index rebuilt from a fresh listing.
 */
async function keepBuildConfigIndex(rt: Runtime, index: RedisBuildConfigIndex): Promise<() => Promise<void>> {
  const onError = (err: unknown): void => rt.logger.warn({ err: errorMessage(err) }, 'BuildConfig index update failed');
  const start = (): Promise<() => Promise<void>> =>
    startBuildConfigIndexing({ store: rt.store, index, buildConfigKind: BUILD_CONFIG, onError });
  let stop = await start();
  let chain: Promise<void> = Promise.resolve();
  const onReady = (): void => {
    chain = chain.then(async () => {
      await stop().catch(() => undefined);
      try {
        stop = await start();
        rt.logger.info('Redis is back: the BuildConfig index was rebuilt');
      } catch (err) {
        // The next reconnect tries again; meanwhile the org endpoint uses the index as it was.
        stop = async () => undefined;
        onError(err);
      }
    });
  };
  // 'ready' fires on every reconnect; the first connect happened before this.
  rt.redis.on('ready', onReady);
  return async () => {
    rt.redis.off('ready', onReady);
    await chain;
    await stop();
  };
}

export async function startHttpServer(rt: Runtime): Promise<HttpServerHandle> {
  const index = new RedisBuildConfigIndex(rt.redis, rt.prefix);
  const stopIndexing = await keepBuildConfigIndex(rt, index);
  const webhooks = webhookRouter({
    config: rt.config,
    store: rt.store,
    claims: rt.claims,
    index,
    instantiate: (ns, bc, req) => rt.instantiate(ns, bc, req),
    dispatchImageChange: (update) => rt.dispatchImageChange(update),
    logger: rt.logger,
  });
  const app = createApp({
    config: rt.config,
    store: rt.store,
    logs: rt.logs,
    binaries: rt.binaries,
    queue: rt.queue,
    tokens: rt.tokens,
    logger: rt.logger,
    instantiate: (ns, bc, req) => rt.instantiate(ns, bc, req),
    ready: async () => (await rt.redis.ping()) === 'PONG',
    publicRouters: [webhooks],
  });
  const { host, port } = parseHostPort(rt.config.listen);
  const server = createServer(app);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (err) {
    await stopIndexing();
    throw err;
  }
  const addr = server.address();
  const actualPort = addr && typeof addr === 'object' ? addr.port : port;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await stopIndexing();
    },
  };
}

export function startWorker(rt: Runtime): BuildWorkerHandle {
  const { config, logger } = rt;
  // Commit statuses only with a token: without one there is nothing to authenticate as.
  const statuses = config.githubToken
    ? new CommitStatusPublisher(
        new GitHubCommitStatusReporter({
          apiBaseUrl: config.githubApiUrl,
          token: config.githubToken,
          publicUrl: config.publicUrl ?? `http://${config.listen}`,
          logger,
        }),
      )
    : undefined;
  const handle = startBuildWorker(
    {
      store: rt.store,
      logs: rt.logs,
      binaries: rt.binaries,
      docker: rt.docker,
      config: rt.config,
      builders: { Docker: dockerBuilder, Source: sourceBuilder },
      logger: rt.logger,
      ...(statuses ? { onPhase: (build: Resource) => statuses.publish(build) } : {}),
      beforeImagePush: async ({ build, registry, repository, tag }) => {
        const bc = build.metadata.labels?.['openshift.io/build-config.name'];
        if (bc) await rt.provenance.markPushing({ registry, repository, tag }, { namespace: build.metadata.namespace ?? 'default', name: bc });
      },
      onImagePushed: async ({ build, registry, repository, tag, digest, imageStream }) => {
        const namespace = build.metadata.namespace ?? 'default';
        const bc = build.metadata.labels?.['openshift.io/build-config.name'];
        const producedBy = bc ? { namespace, name: bc } : undefined;
        if (producedBy) await rt.provenance.markPushed({ registry, repository, tag, digest }, producedBy);
        if (!imageStream) return;
        await rt.dispatchImageChange({
          namespace: imageStream.namespace,
          stream: imageStream.name,
          tag: imageStream.tag,
          image: digest,
          dockerImageReference: `${registry}/${repository}@${digest}`,
          ...(producedBy ? { producedBy } : { external: true }),
        });
      },
    },
    {
      redisUrl: rt.config.redisUrl,
      prefix: rt.prefix,
      concurrency: rt.config.workerConcurrency,
      lockDurationMs: rt.config.workerLockMs,
      stalledIntervalMs: rt.config.stalledIntervalMs,
    },
  );
  if (!statuses) return handle;
  return {
    ...handle,
    close: async () => {
      await handle.close();
      await statuses.idle();
    },
  };
}
