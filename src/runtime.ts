/**
 * Wires Slipway's parts from a configuration: Redis, the store, the queue, the Docker
 * client, the HTTP server and build workers. The CLI's `up`, `server` and `worker`, and
 * the integration tests, all start Slipway through here.
 */
import { createServer, type Server } from 'node:http';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { generateToken, TokenStore } from './api/auth.js';
import { AccessStore } from './store/access.js';
import { deploymentRouter } from './api/deployments.js';
import { deployTargetRouter } from './api/deploy-targets.js';
import { createApp, serveWebhooksFirst } from './api/server.js';
import { webhookRoutes } from './api/webhook-routes.js';
import { dockerBuilder } from './builders/docker/index.js';
import { sweepBuildLeftovers } from './builders/build-scope.js';
import { isTerminal } from './core/build-phase.js';
import type { BuildStatus } from './core/build-types.js';
import { sourceBuilder } from './builders/sti/index.js';
import { parseHostPort, redactUrlCredentials, type SlipwayConfig } from './core/config.js';
import { errorMessage } from './core/errors.js';
import { createLogger, type Logger } from './core/logger.js';
import { useFleetMetrics } from './core/metrics.js';
import type { Resource } from './core/resource.js';
import { BuildQueue } from './queue/build-queue.js';
import { startBuildWorker, type BuildWorkerHandle } from './queue/build-worker.js';
import { instantiateWithRunPolicy } from './queue/cancel.js';
import { BUILD, BUILD_CONFIG, type BuildRequest } from './queue/instantiate.js';
import { queueJobCounts } from './queue/queue-jobs.js';
import { RolloutQueue } from './queue/rollout-queue.js';
import { RedisBinaryInputStore } from './store/binary-store.js';
import { RedisBuildLogStore } from './store/build-logs.js';
import { RedisFleetMetrics } from './store/fleet-metrics.js';
import { RedisResourceStore } from './store/resource-store.js';
import {
  DEPLOY_TARGET_KINDS,
  RedisNamespaceTargets,
  type NamespaceTargets,
} from './store/namespace-targets.js';
import { guardTarget, targetKind } from './strategies/target-guard.js';
import { quotaTarget } from './strategies/quota-target.js';
import { RedisQuotas } from './store/quotas.js';
import { quotaRouter } from './api/quota-routes.js';
import { DeployerSteps } from './strategies/deployer-steps.js';
import {
  rollOutOnImageChange,
  startDeploymentController,
  type DeploymentControllerHandle,
} from './strategies/deployment-controller.js';
import { createDeployTarget } from './strategies/targets.js';
import { ReplicaStateStore } from './strategies/docker/replica-state.js';
import { startRouter as startDeployRouter, type RouterHandle } from './strategies/router.js';
import { startRolloutWorker, type RolloutWorkerHandle } from './strategies/rollout-worker.js';
import { startPushRouting as routePushes, type PushRoutingHandle } from './webhooks/push-routing.js';
import type { DeployTarget, LocalControllers } from './strategies/target.js';
import { startBuildConfigIndexing } from './triggers/buildconfig-index.js';
import { CommitStatusPublisher, GitHubCommitStatusReporter } from './triggers/commit-status.js';
import { RedisDeliveryClaims } from './store/delivery-claims.js';
import {
  dispatchImageChange,
  imagePushHooks,
  type DeploymentImageChangeHook,
  type ImageChangeOutcome,
} from './triggers/image-change-dispatch.js';
import type { ImageStreamTagUpdate } from './triggers/image-change.js';
import { RedisBuildFingerprints } from './store/build-fingerprints.js';
import { RedisImageProvenance } from './store/image-provenance.js';
import { RedisBuildConfigIndex } from './store/redis-buildconfig-index.js';
import { RedisNamespaceKeys } from './store/namespace-keys.js';
import { namespaceTeardown } from './api/project-deletion.js';
import { RedisPushInbox } from './store/push-inbox.js';
import { RedisPushIntake } from './store/push-intake.js';

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
  /** Starts a build; `current` is the BuildConfig when the caller has just read it. */
  instantiate(
    namespace: string,
    buildConfig: string,
    request?: BuildRequest,
    current?: Resource,
  ): Promise<Resource>;
  /**
   * Fires the ImageChange triggers following a tag that moved (registry notifications and
   * workers' pushes both call it). `registry` lets it look up who pushed the image.
   */
  dispatchImageChange(update: ImageStreamTagUpdate & { registry?: string }): Promise<ImageChangeOutcome>;
  /** Where DeploymentConfigs' revisions run (the local Docker engine). */
  deployTarget: DeployTarget;
  /** The local target's replica readiness and host ports, shared through Redis. */
  replicaStates: ReplicaStateStore;
  rollouts: RolloutQueue;
  /** Which target each namespace deploys to, shared by the fleet (docs/mixed-fleets.md). */
  namespaceTargets: NamespaceTargets;
  /** Rollout logs, one per revision (`web-3`). */
  rolloutLogs: RedisBuildLogStore;
  /** What running builds and replicas hold against the projects' quotas (docs/quotas.md). */
  quotas: RedisQuotas;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Key prefix in Redis; tests sharing one Redis use their own. */
  prefix?: string;
  logger?: Logger;
  /**
   * Called when a DeploymentConfig's ImageChange trigger fires. Default: the deployments
   * stage's `onDeploymentImageChange` (records `lastTriggeredImage`, rolls out).
   */
  onDeploymentImageChange?: DeploymentImageChangeHook;
}

export async function createRuntime(config: SlipwayConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const prefix = options.prefix ?? 'slipway';
  const logger = options.logger ?? createLogger(config.logLevel, config.logFormat);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true });
  try {
    await redis.connect();
  } catch (err) {
    throw new Error(
      `cannot reach Redis at ${redactUrlCredentials(config.redisUrl)}: ${(err as Error).message}; start it or set SLIPWAY_REDIS_URL`,
      {
        cause: err,
      },
    );
  }
  const store = new RedisResourceStore(redis, prefix);
  const logs = new RedisBuildLogStore(redis, prefix);
  const binaries = new RedisBinaryInputStore(redis, prefix, { quotaBytes: config.uploadQuotaBytes });
  const queue = new BuildQueue(config.redisUrl, prefix);
  const tokens = new TokenStore(redis, prefix, config.adminToken);
  // Expired tokens kept by earlier versions in the lasting hash go now; new ones expire by TTL.
  await tokens.purgeExpired().catch((err: unknown) => logger.warn({ err }, 'could not purge expired tokens'));
  const docker = new Docker();
  const claims = new RedisDeliveryClaims(redis, prefix);
  const provenance = new RedisImageProvenance(redis, prefix);
  const instantiate = instantiateWithRunPolicy({ store, queue, logs, logger });
  const replicaStates = new ReplicaStateStore(redis, prefix);
  // A cluster when SLIPWAY_KUBECONFIG (or a pod's service account) says so, else the local engine.
  // Guarded: nothing reaches it for a namespace recorded for the other kind of target.
  const namespaceTargets = new RedisNamespaceTargets(redis, prefix);
  const quotas = new RedisQuotas(redis, store, prefix);
  const deployTarget = guardTarget(
    quotaTarget(createDeployTarget(config, { docker, store, states: replicaStates, logger }), quotas),
    namespaceTargets,
  );
  const rollouts = new RolloutQueue(config.redisUrl, prefix, {
    targets: namespaceTargets,
    own: targetKind(deployTarget),
  });
  // Rollout logs are keyed by revision; their own prefix keeps them apart from build logs.
  const rolloutLogs = new RedisBuildLogStore(redis, `${prefix}:rollout`);
  // Builds, rollouts and deliveries are counted in Redis, so any server's /metrics reports the fleet's.
  const metrics = new RedisFleetMetrics(redis, prefix, { logger });
  const releaseMetrics = useFleetMetrics({
    store: metrics,
    queueJobs: async () => [
      ...(await queueJobCounts([queue.queue, ...DEPLOY_TARGET_KINDS.map((k) => rollouts.queueFor(k))])),
      // The pushes recorded for routing wait like jobs do.
      { queue: 'push-inbox', counts: await new RedisPushInbox(redis, prefix).counts() },
    ],
  });
  const onDeploymentImageChange =
    options.onDeploymentImageChange ??
    rollOutOnImageChange({ store, target: deployTarget, rollouts, logger, targets: namespaceTargets });
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
      dispatchImageChange(
        {
          store,
          claims,
          provenance,
          instantiate,
          onDeploymentImageChange,
          ...(deployTarget.onImageStreamTagUpdated
            ? { onTagUpdated: (u: ImageStreamTagUpdate) => deployTarget.onImageStreamTagUpdated!(u) }
            : {}),
          logger,
        },
        update,
      ),
    deployTarget,
    replicaStates,
    rollouts,
    namespaceTargets,
    rolloutLogs,
    quotas,
    close: async () => {
      await queue.close();
      await rollouts.close();
      await deployTarget.close();
      await metrics.close();
      releaseMetrics();
      redis.disconnect();
    },
  };
  return runtime;
}

/** How long /readyz waits for Redis to answer PING. */
const READY_PING_MS = 1000;

/** Why Redis cannot serve requests now, or undefined; never waits longer than READY_PING_MS. */
async function redisNotReady(redis: Redis): Promise<string | undefined> {
  // Without a connection a PING would sit in ioredis' offline queue until retries run out.
  if (redis.status !== 'ready') return `Redis is not answering (connection ${redis.status})`;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`Redis did not answer PING within ${READY_PING_MS} ms`), READY_PING_MS);
  });
  try {
    return await Promise.race([
      redis.ping().then(
        (pong) => (pong === 'PONG' ? undefined : `Redis answered PING with ${JSON.stringify(pong)}`),
        (err: unknown) => `Redis is not answering: ${errorMessage(err)}`,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long `close()` waits for requests in flight (followed logs are cut after this). */
const SHUTDOWN_GRACE_MS = 5000;

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
  const onError = (err: unknown): void =>
    rt.logger.warn({ err: errorMessage(err) }, 'BuildConfig index update failed');
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
  // Deliveries' claims and index lookups get a connection of their own that pipelines by
  // itself: the commands of every delivery handled in one tick reach Redis in one write.
  const ingestRedis = rt.redis.duplicate({ enableAutoPipelining: true });
  // The org endpoint's claim-and-lookup batches deliveries itself (src/store/push-intake.ts):
  // pipelining its one call per batch again would only defer it by another tick.
  const intakeRedis = rt.redis.duplicate();
  const webhooks = webhookRoutes({
    config: rt.config,
    store: rt.store,
    claims: new RedisDeliveryClaims(ingestRedis, rt.prefix),
    intake: new RedisPushIntake(intakeRedis, rt.prefix, new RedisBuildConfigIndex(intakeRedis, rt.prefix)),
    redisConnected: () => rt.redis.status === 'ready',
    instantiate: (ns, bc, req, current) => rt.instantiate(ns, bc, req, current),
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
    access: new AccessStore(rt.redis, rt.store, rt.prefix),
    teardown: namespaceTeardown({
      redis: rt.redis,
      keys: new RedisNamespaceKeys(rt.redis, rt.prefix),
      queues: () => [rt.queue.queue, ...DEPLOY_TARGET_KINDS.map((k) => rt.rollouts.queueFor(k))],
      target: rt.deployTarget,
      targets: rt.namespaceTargets,
      registry: rt.config.registry,
      logger: rt.logger,
    }),
    dispatchImageChange: (update) => rt.dispatchImageChange(update),
    logger: rt.logger,
    instantiate: (ns, bc, req) => rt.instantiate(ns, bc, req),
    notReady: () => redisNotReady(rt.redis),
    redisConnected: () => rt.redis.status === 'ready',
    apiRouters: [
      deploymentRouter({
        store: rt.store,
        target: rt.deployTarget,
        rollouts: rt.rollouts,
        targets: rt.namespaceTargets,
        logs: rt.rolloutLogs,
        steps: new DeployerSteps(rt.redis, rt.prefix),
        logger: rt.logger,
      }),
      deployTargetRouter({ store: rt.store, targets: rt.namespaceTargets }),
      quotaRouter({
        store: rt.store,
        quotas: rt.quotas,
        target: rt.deployTarget,
        registry: rt.config.registry,
      }),
    ],
  });
  const { host, port } = parseHostPort(rt.config.listen);
  const server = createServer(serveWebhooksFirst(webhooks, app));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (err) {
    ingestRedis.disconnect();
    intakeRedis.disconnect();
    await stopIndexing();
    throw err;
  }
  const addr = server.address();
  const actualPort = addr && typeof addr === 'object' ? addr.port : port;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    close: async () => {
      // Let requests in flight finish first: a webhook whose delivery is claimed must get
      // its builds queued before Redis goes away, or a redelivery would find it handled.
      // Webhook handlers are waited for themselves: their clients may have hung up.
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      await Promise.race([webhooks.drain(), deadline]);
      ingestRedis.disconnect();
      intakeRedis.disconnect();
      await stopIndexing();
    },
  };
}

/**
 * Push → build: routes the org/App pushes the endpoint recorded in the push inbox
 * (src/webhooks/push-routing.ts). Workers run it; any number share the inbox.
 */
export function startPushRouting(rt: Runtime): PushRoutingHandle {
  // A read waits on its connection for entries: it gets one of its own.
  const blocking = rt.redis.duplicate();
  return routePushes({
    store: rt.store,
    index: new RedisBuildConfigIndex(rt.redis, rt.prefix),
    claims: new RedisDeliveryClaims(rt.redis, rt.prefix),
    instantiate: (ns, bc, req, current) => rt.instantiate(ns, bc, req, current),
    logger: rt.logger,
    inbox: new RedisPushInbox(rt.redis, rt.prefix, blocking),
    interrupt: () => blocking.disconnect(),
  });
}

export function startWorker(rt: Runtime): BuildWorkerHandle {
  const { config, logger } = rt;
  // What ended builds left in this engine (a worker here died mid-build, another ended it).
  void sweepBuildLeftovers(rt.docker, {
    endedAt: async ({ namespace, name }) => {
      const status = (await rt.store.get(BUILD, namespace, name))?.status as BuildStatus | undefined;
      if (!isTerminal(status?.phase) || !status?.completionTimestamp) return undefined;
      return Date.parse(status.completionTimestamp);
    },
  }).then(
    (removed) => {
      if (removed.length > 0) logger.info({ removed }, 'removed what ended builds left');
    },
    (err: unknown) => logger.warn({ err }, 'could not sweep what ended builds left'),
  );
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
      fingerprints: new RedisBuildFingerprints(rt.redis, rt.prefix),
      quotas: rt.quotas,
      ...(statuses ? { onPhase: (build: Resource) => statuses.publish(build) } : {}),
      ...imagePushHooks({ provenance: rt.provenance, dispatch: (update) => rt.dispatchImageChange(update) }),
    },
    {
      redisUrl: rt.config.redisUrl,
      prefix: rt.prefix,
      concurrency: rt.config.workerConcurrency,
      lockDurationMs: rt.config.workerLockMs,
      stalledIntervalMs: rt.config.stalledIntervalMs,
      shutdownGraceMs: rt.config.shutdownGraceSeconds * 1000,
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

export interface DeploymentsHandle {
  controller: DeploymentControllerHandle;
  worker: RolloutWorkerHandle;
  /** The target's loops run by this process (the local target's readiness probes and replica healing); undefined on Kubernetes. */
  local: LocalControllers | undefined;
  close(): Promise<void>;
}

/**
 * The deployments stage of a worker: the DeploymentConfig controller (triggers), the
 * rollout worker, and the local target's replica monitor (readiness probes). `apiUrl`
 * is what Custom deployers are given to reach the API.
 */
export async function startDeployments(
  rt: Runtime,
  options: { apiUrl?: string; resyncMs?: number } = {},
): Promise<DeploymentsHandle> {
  // Readiness and healing on the local target are this process's job; on Kubernetes, the cluster's.
  const local = rt.deployTarget.startLocalControllers?.({ redis: rt.redis, prefix: rt.prefix });
  const apiUrl = options.apiUrl ?? rt.config.publicUrl ?? `http://${rt.config.listen}`;
  const worker = startRolloutWorker(
    {
      store: rt.store,
      target: rt.deployTarget,
      logs: rt.rolloutLogs,
      logger: rt.logger,
      issueToken: async (scope, ttlSeconds) => {
        const token = generateToken();
        await rt.tokens.add(token, scope, ttlSeconds);
        return token;
      },
      revokeTokens: (scope) => rt.tokens.revokeScope(scope),
      apiUrl: () => apiUrl,
      steps: new DeployerSteps(rt.redis, rt.prefix),
    },
    {
      redisUrl: rt.config.redisUrl,
      prefix: rt.prefix,
      lockDurationMs: rt.config.workerLockMs,
      stalledIntervalMs: rt.config.stalledIntervalMs,
    },
  );
  const controller = await startDeploymentController({
    store: rt.store,
    target: rt.deployTarget,
    rollouts: rt.rollouts,
    targets: rt.namespaceTargets,
    logger: rt.logger,
    ...(options.resyncMs ? { resyncMs: options.resyncMs } : {}),
    onDelete: (ns, rc) => rt.rolloutLogs.deleteLog(ns, rc),
  });
  return {
    controller,
    worker,
    local,
    close: async () => {
      await controller.stop();
      await worker.close();
      await local?.stop();
    },
  };
}

/** The local target's router on `routerListen`: Routes → Services → ready replicas. */
export function startRouter(rt: Runtime): Promise<RouterHandle> {
  const { host, port } = parseHostPort(rt.config.routerListen);
  return startDeployRouter({
    store: rt.store,
    states: rt.replicaStates,
    logger: rt.logger,
    host,
    port,
    domain: rt.config.routerDomain,
  });
}
