/**
 * The verbs that run Slipway itself: `up`, `server` and `worker`. main.ts imports this
 * module only inside their actions, so the verbs that merely talk to the API never load
 * the runtime (Redis, BullMQ, Docker, Kubernetes clients: over a second of start-up).
 * See docs/cli.md.
 */
import { existsSync } from 'node:fs';
import { loadConfig, type SlipwayConfig } from '../core/config.js';
import { resourcePath, lookupKind } from '../core/resource.js';
import {
  createRuntime,
  startDeployments,
  startHttpServer,
  startPushRouting,
  startRouter,
  startWorker,
} from '../runtime.js';
import { generateToken } from '../api/auth.js';
import { registerBuilderImages } from '../registry/builder-streams.js';
import { followBuildLog } from './build-log.js';
import { SlipwayClient } from './client.js';
import { readCredentials, writeCredentials } from './credentials.js';
import { ensureRedis, ensureRegistry, redactRedisUrl, registryNotifyToken } from './local-stack.js';
import { ensureSampleRepo, sampleBuildConfig } from './sample.js';
import { slipwayVersion } from './version.js';

const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;

/** How long a graceful stop may take, beyond the builds' grace period, before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 15_000;

/** The global `--config FILE`, which only these verbs read. */
export interface RunGlobals {
  configFile: string | undefined;
}

function config(globals: RunGlobals, flags: Record<string, unknown> = {}): SlipwayConfig {
  return loadConfig({ file: globals.configFile, flags });
}

/**
 * On SIGINT/SIGTERM, runs the steps in order (let running builds finish for up to
 * `graceSeconds`, handing back those that do not; close servers; disconnect). If they
 * have not finished by the deadline (Redis gone, a job stuck), the process exits with 1
 * anyway: a stop signal must stop. The grace period counts toward the deadline only when
 * builds are running. A second signal exits at once.
 */
function onShutdown(
  steps: (() => Promise<unknown> | undefined)[],
  builds?: { graceSeconds: number; running: () => number },
): void {
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) process.exit(1);
    stopping = true;
    const busy = builds !== undefined && builds.running() > 0;
    const deadlineMs = SHUTDOWN_DEADLINE_MS + (busy ? builds.graceSeconds * 1000 : 0);
    console.error(
      busy
        ? `${signal}: stopping (running builds get ${builds.graceSeconds}s to finish, then go back to the queue; a second ${signal} stops at once)`
        : `${signal}: stopping (finishing requests in flight; a second ${signal} stops at once)`,
    );
    setTimeout(() => {
      console.error(`error: could not stop cleanly within ${deadlineMs / 1000}s; exiting`);
      process.exit(1);
    }, deadlineMs).unref();
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        console.error(`error while stopping: ${(err as Error).message}`);
      }
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

export interface UpOptions {
  sample?: boolean;
  allowHostPaths?: string;
}

/** `slipway up`: Redis and the registry if not running, the server, a worker, the router. */
export async function runUp(globals: RunGlobals, opts: UpOptions): Promise<void> {
  // One machine: the worker shares the disk, so local repositories are fine to build.
  const cfg = config(globals, {
    allowHostPaths: opts.allowHostPaths,
    ...(process.env.SLIPWAY_ALLOW_FILE_SOURCES === undefined ? { allowFileSources: true } : {}),
    // One machine: builds trust what the host trusts, unless told otherwise.
    ...(process.env.SLIPWAY_TRUSTED_CA === undefined && existsSync(HOST_CA_BUNDLE)
      ? { trustedCA: HOST_CA_BUNDLE }
      : {}),
  });
  // Redis gets a password up keeps in the data directory; the URL carries it from here on.
  const redis = await ensureRedis({
    redisUrl: cfg.redisUrl,
    dataDir: cfg.dataDir,
    generate: generateToken,
  });
  console.log(redis.message);
  cfg.redisUrl = redis.url;
  const notifyToken = registryNotifyToken(cfg.dataDir, cfg.registryNotifyToken, generateToken);
  console.log(
    await ensureRegistry(cfg.registry, cfg.dataDir, {
      url: `http://${cfg.listen}/webhooks/registry`,
      token: notifyToken,
    }),
  );
  const rt = await createRuntime({ ...cfg, registryNotifyToken: notifyToken });
  let token = cfg.adminToken;
  const saved = readCredentials();
  if (!token && saved && (await rt.tokens.verify(saved.token))) token = saved.token;
  const http = await startHttpServer(rt);
  if (!token) {
    token = generateToken();
    await rt.tokens.add(token, 'admin');
    console.log(`\nAdmin token (shown once; saved for the CLI): ${token}`);
  }
  writeCredentials({ server: http.url, token });
  const worker = startWorker(rt);
  const routing = startPushRouting(rt);
  const deployments = await startDeployments(rt, { apiUrl: http.url });
  // The router proxies to replicas on this machine's loopback: only the local target has them.
  const router = rt.deployTarget.name === 'docker' ? await startRouter(rt) : undefined;
  const builders = await registerBuilderImages({
    docker: rt.docker,
    store: rt.store,
    registry: cfg.registry,
    log: (l) => console.log(l),
  });
  console.log(`\nSlipway v${slipwayVersion()} is up.`);
  console.log(`  API:                  ${http.url}/apis`);
  console.log(`  Web UI:               ${http.url}/ui`);
  console.log(`  GitHub webhooks:      ${http.url}/webhooks/github`);
  console.log(`  Registry webhooks:    ${http.url}/webhooks/registry`);
  console.log(`  Metrics:              ${http.url}/metrics`);
  console.log(`  Health:               ${http.url}/healthz  ${http.url}/readyz`);
  console.log(`  Image registry:       http://${cfg.registry}/v2/`);
  console.log(`  Redis:                ${redactRedisUrl(cfg.redisUrl)}`);
  if (router)
    console.log(
      `  Router (Routes):      ${router.url}  (a Route without spec.host answers to NAME-NAMESPACE.${cfg.routerDomain})`,
    );
  else console.log(`  Deploy target:        Kubernetes (${cfg.kubeconfig ?? 'in-cluster'})`);
  if (builders.length > 0) console.log(`  S2I builder streams:  ${builders.join(', ')}`);
  onShutdown(
    [
      () => routing.close(),
      () => worker.close(),
      () => deployments.close(),
      () => router?.close(),
      () => http.close(),
      () => rt.close(),
    ],
    { graceSeconds: cfg.shutdownGraceSeconds, running: () => worker.running() },
  );
  if (opts.sample) {
    const repo = ensureSampleRepo(cfg.dataDir, cfg.baseImage);
    const c = new SlipwayClient({ server: http.url, token });
    const bc = sampleBuildConfig(repo);
    const existing = await c.get(BUILD_CONFIG, 'default', 'hello');
    if (existing)
      await c.json('PUT', resourcePath(BUILD_CONFIG, 'default', 'hello'), {
        ...bc,
        metadata: { ...bc.metadata, resourceVersion: existing.metadata.resourceVersion },
      });
    else await c.json('POST', resourcePath(BUILD_CONFIG, 'default'), bc);
    const build = await c.json('POST', `${resourcePath(BUILD_CONFIG, 'default', 'hello')}/instantiate`, {
      kind: 'BuildRequest',
      apiVersion: 'build.openshift.io/v1',
      metadata: { name: 'hello' },
    });
    console.log(`\nSample: build.build.openshift.io/${build.metadata.name} started; following its log\n`);
    const done = await followBuildLog(c, 'default', build.metadata.name);
    const s = (done.status ?? {}) as {
      phase?: string;
      outputDockerImageReference?: string;
      output?: { to?: { imageDigest?: string } };
    };
    console.log(
      `\nSample build ${done.metadata.name}: ${s.phase}${s.outputDockerImageReference ? `, pushed ${s.outputDockerImageReference} (${s.output?.to?.imageDigest})` : ''}`,
    );
    console.log('Slipway keeps running; Ctrl-C stops it.');
  }
}

/** `slipway server`: the HTTP server (API and webhooks) only. */
export async function runServer(globals: RunGlobals, opts: { allowHostPaths?: string }): Promise<void> {
  const rt = await createRuntime(config(globals, { allowHostPaths: opts.allowHostPaths }));
  const http = await startHttpServer(rt);
  console.log(`Slipway server listening on ${http.url}`);
  onShutdown([() => http.close(), () => rt.close()]);
}

/** `slipway worker`: builds, rollouts and, for the local Docker target, its router. */
export async function runWorker(globals: RunGlobals, opts: { concurrency?: string }): Promise<void> {
  const rt = await createRuntime(
    config(globals, opts.concurrency ? { workerConcurrency: opts.concurrency } : {}),
  );
  const worker = startWorker(rt);
  const routing = startPushRouting(rt);
  // Replicas publish on this machine's loopback: the router runs where they do.
  const deployments = await startDeployments(rt);
  const router = rt.deployTarget.name === 'docker' ? await startRouter(rt) : undefined;
  console.log(
    `Slipway worker ${worker.id} taking builds and rollouts from ${redactRedisUrl(rt.config.redisUrl)}`,
  );
  if (router) console.log(`Router (Routes) listening on ${router.url}`);
  onShutdown(
    [
      () => routing.close(),
      () => worker.close(),
      () => deployments.close(),
      () => router?.close(),
      () => rt.close(),
    ],
    {
      graceSeconds: rt.config.shutdownGraceSeconds,
      running: () => worker.running(),
    },
  );
}
