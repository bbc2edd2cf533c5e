/**
 * Runs one Build from New to an end phase: claim it, fetch the source, run the
 * strategy's builder, push, record the image on its ImageStream. Every outcome ends in
 * a phase with OpenShift's reason and a closed log; nothing is left in Running.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type {
  BuildPhase,
  BuildSpec,
  BuildStatus,
  EnvVar,
  ObjectReference,
  StageInfo,
} from '../core/build-types.js';
import { isTerminal } from '../core/build-phase.js';
import type { SlipwayConfig } from '../core/config.js';
import { BuildFailure, BuildReasons, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { lookupKind, nowTimestamp, type Resource } from '../core/resource.js';
import { redactUri } from '../core/redact.js';
import { secretValue } from '../core/secret-types.js';
import { ensureImage } from '../builders/images.js';
import { buildScopedDocker, buildTag, removeBuildLeftovers } from '../builders/build-scope.js';
import { containerLimits } from '../core/quantity.js';
import { unpackBinarySource } from '../builders/source/binary-source.js';
import { copyImageSources, type ImageSourceCopy } from '../builders/source/image-source.js';
import { resolveContextDir } from '../builders/source/checkout-paths.js';
import { fetchGitSource, resolveGitCommit, type SourceCredentials } from '../builders/source/git-source.js';
import type { Builder, BuildInputFiles, SourceInfo } from '../builders/types.js';
import { registryAuthFromSecret, type RegistryAuth } from '../registry/credentials.js';
import {
  latestTagReference,
  recordImageStreamTag,
  resolveImageReference,
  IMAGE_STREAM,
} from '../registry/image-streams.js';
import { pushImage } from '../registry/push.js';
import { resolveOutput, type OutputTarget } from '../registry/references.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { BinaryInputStore } from '../store/binary-store.js';
import type { BuildFingerprints } from '../store/build-fingerprints.js';
import type { BuildLogStore } from '../store/build-logs.js';
import { buildRunInfo, type BuildRunInfo } from './run-policy.js';
import {
  decideAvoidance,
  decideFailure,
  decideRunPolicy,
  decideStoredBuild,
  endStatusPatch,
  ownBinaryInput,
  reusedBuildEnd,
  runPolicyOf,
  type BuildEnd,
} from './build-decisions.js';
import {
  digestOf,
  findReusable,
  fingerprintOf,
  localImageId,
  registryTagDigest,
  tagReusedImage,
  type AvoidanceContext,
  type Reusable,
  type ResolvedInputs,
} from './build-avoidance.js';
import { readBuildInputs } from './build-inputs.js';
import { BuildLogWriter } from './build-log-writer.js';
import { BUILD } from './instantiate.js';
import { buildRequest } from '../core/quota.js';
import type { QuotaLedger } from '../store/quotas.js';
import { pruneBuildHistory } from './prune.js';

const SECRET = lookupKind('v1', 'Secret')!;

export type BuildRunnerConfig = Pick<
  SlipwayConfig,
  | 'registry'
  | 'pushAttempts'
  | 'pushRetryDelayMs'
  | 'allowFileSources'
  | 'trustedCA'
  | 'httpProxy'
  | 'httpsProxy'
  | 'noProxy'
  | 'workDir'
>;

export interface BuildRunnerDeps {
  store: ResourceStore;
  logs: BuildLogStore;
  binaries: BinaryInputStore;
  docker: Docker;
  config: BuildRunnerConfig;
  builders: Partial<Record<'Docker' | 'Source', Builder>>;
  logger: Logger;
  /**
   * Images of Complete builds by input fingerprint, shared by the fleet. When set, a
   * build with the same inputs as an earlier one reuses its image instead of building
   * (docs/build-lifecycle.md); when unset, every build builds.
   */
  fingerprints?: BuildFingerprints;
  /** Told of every phase change a worker makes (metrics, commit statuses, image triggers). */
  onPhase?: (build: Resource) => void | Promise<void>;
  /** Before the output image is pushed (the runtime marks its provenance for the loop guard). A failure fails the build. */
  beforeImagePush?: (image: OutputImage) => Promise<void>;
  /**
   * After the output image is pushed and recorded on its ImageStream tag (the runtime
   * fires image change triggers). A failure is logged in the build log, not fatal: the
   * registry's notification of the same push fires them too.
   */
  onImagePushed?: (image: OutputImage & { digest: string }) => Promise<void>;
  /** The projects' quotas: a build takes a pod (and its limits) while it runs. Unset: no quotas. */
  quotas?: QuotaLedger;
}

/** A build's output image, as the push hooks see it. */
export interface OutputImage {
  build: Resource;
  /** The registry as pushed to (`127.0.0.1:5000`). */
  registry: string;
  /** `namespace/name` in the registry. */
  repository: string;
  tag: string;
  /** The ImageStream tag the digest is recorded on, when the output is an ImageStreamTag. */
  imageStream?: { namespace: string; name: string; tag: string };
}

export type RunOutcome =
  | { kind: 'finished'; phase: BuildPhase }
  | { kind: 'waiting'; reason: string }
  /** The worker shut down before the build ended: the build is New again and must be re-queued. */
  | { kind: 'handedBack' };

export interface RunBuildOptions {
  namespace: string;
  name: string;
  /** The Build's uid when it was queued; a namesake made since is not this job's build. */
  uid?: string;
  /** Aborts when the worker's shutdown grace period is over: the build is handed back. */
  signal: AbortSignal;
  /** A label for the worker, recorded on the Build. */
  worker: string;
}

interface Ctx {
  deps: BuildRunnerDeps;
  namespace: string;
  name: string;
  log: BuildLogWriter;
  stages: StageInfo[];
}

async function setStatus(ctx: Ctx, patch: Partial<BuildStatus>, spec?: BuildSpec): Promise<Resource> {
  const updated = await ctx.deps.store.update(BUILD, ctx.namespace, ctx.name, (cur) => {
    cur.status = { ...(cur.status ?? {}), ...patch, stages: ctx.stages };
    if (spec) cur.spec = spec;
    return cur;
  });
  await ctx.deps.onPhase?.(updated);
  return updated;
}

async function stage<T>(ctx: Ctx, name: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  const info: StageInfo = {
    name,
    startTime: new Date(start).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    durationMilliseconds: 0,
    steps: [],
  };
  ctx.stages.push(info);
  try {
    return await fn();
  } finally {
    info.durationMilliseconds = Date.now() - start;
  }
}

async function readSecret(
  deps: BuildRunnerDeps,
  namespace: string,
  name: string,
): Promise<Resource & { data?: Record<string, string> }> {
  const secret = await deps.store.get(SECRET, namespace, name);
  if (!secret)
    throw new BuildFailure(
      'CannotRetrieveSecret',
      `Secret "${name}" named by the build does not exist in namespace "${namespace}"`,
    );
  return secret as Resource & { data?: Record<string, string> };
}

async function sourceCredentials(
  deps: BuildRunnerDeps,
  namespace: string,
  spec: BuildSpec,
): Promise<SourceCredentials | undefined> {
  if (!spec.source.sourceSecret) return undefined;
  const secret = await readSecret(deps, namespace, spec.source.sourceSecret.name);
  const creds: SourceCredentials = {};
  const fields: [keyof SourceCredentials, string][] = [
    ['username', 'username'],
    ['password', 'password'],
    ['sshPrivateKey', 'ssh-privatekey'],
    ['knownHosts', 'known_hosts'],
    ['caCert', 'ca.crt'],
  ];
  for (const [field, key] of fields) {
    const v = secretValue(secret, key);
    if (v !== undefined) creds[field] = v;
  }
  if (Object.keys(creds).length === 0) {
    throw new BuildFailure(
      'CannotRetrieveSecret',
      `source secret "${spec.source.sourceSecret.name}" has none of username/password, ssh-privatekey, ca.crt`,
    );
  }
  return creds;
}

async function registryAuth(
  deps: BuildRunnerDeps,
  namespace: string,
  secretName: string | undefined,
  registry: string,
): Promise<RegistryAuth | undefined> {
  if (!secretName) return undefined;
  const secret = await readSecret(deps, namespace, secretName);
  const auth = registryAuthFromSecret(secret, registry);
  if (!auth)
    throw new BuildFailure(
      'CannotRetrieveSecret',
      `Secret "${secretName}" holds no credentials for registry ${registry}`,
    );
  return auth;
}

/**
 * Resolves an image a build names (through ImageStreams) and makes sure the engine has it,
 * pulling with the named pull secret; both failures end the build with `reason`, the
 * message naming the image.
 */
async function pullNamedImage(
  ctx: Ctx,
  o: {
    from: ObjectReference;
    pullSecret: string | undefined;
    forcePull?: boolean | undefined;
    reason: 'PullBuilderImageFailed' | 'FetchImageContentFailed';
    what?: string;
    masked: (auth: RegistryAuth | undefined) => RegistryAuth | undefined;
  },
): Promise<{ reference: string; id: string }> {
  const { deps, namespace, log } = ctx;
  let reference: string;
  try {
    reference = await resolveImageReference(deps.store, o.from, namespace);
  } catch (err) {
    throw new BuildFailure(
      o.reason,
      `cannot resolve ${o.from.kind ?? 'DockerImage'} "${o.from.name}"${o.what ?? ''}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  const registry = reference.split('/')[0] ?? '';
  const auth = o.masked(await registryAuth(deps, namespace, o.pullSecret, registry));
  try {
    const id = await ensureImage({
      docker: deps.docker,
      reference,
      auth,
      forcePull: o.forcePull,
      log: log.line,
    });
    return { reference, id };
  } catch (err) {
    if (err instanceof BuildFailure && err.reason !== o.reason)
      throw new BuildFailure(o.reason, err.message, { cause: err });
    throw err;
  }
}

/**
 * `spec.source.images`: pulls each image (with its pullSecret) and copies its paths into
 * the source (src/builders/source/image-source.ts); returns the images' engine IDs, in
 * order, for the build's fingerprint.
 */
async function fetchImageSources(
  ctx: Ctx,
  spec: BuildSpec,
  sourceDir: string,
  masked: (auth: RegistryAuth | undefined) => RegistryAuth | undefined,
): Promise<string[]> {
  const copies: ImageSourceCopy[] = [];
  for (const image of spec.source.images ?? []) {
    const { id } = await pullNamedImage(ctx, {
      from: image.from,
      pullSecret: image.pullSecret?.name,
      reason: 'FetchImageContentFailed',
      what: ' of spec.source.images',
      masked,
    });
    copies.push({ image: id, name: image.from.name, paths: image.paths ?? [] });
  }
  if (copies.length > 0)
    await copyImageSources({ docker: ctx.deps.docker, sourceDir, copies, log: ctx.log.line });
  return copies.map((c) => c.image);
}

function buildEnv(config: BuildRunnerConfig): EnvVar[] {
  const env: EnvVar[] = [];
  const add = (name: string, value: string | undefined): void => {
    if (value) env.push({ name, value }, { name: name.toLowerCase(), value });
  };
  add('HTTP_PROXY', config.httpProxy);
  add('HTTPS_PROXY', config.httpsProxy);
  add('NO_PROXY', config.noProxy);
  return env;
}

/** Runs the build; `signal` is the worker's (shutdown) and cancellation is watched here. */
export async function runBuild(deps: BuildRunnerDeps, options: RunBuildOptions): Promise<RunOutcome> {
  const { namespace, name } = options;
  const stored = await deps.store.get(BUILD, namespace, name);
  const decision = decideStoredBuild(stored, options.uid);
  // Deleted (or deleted and made again under the same name: the new Build has its own job).
  if (decision.kind === 'gone') return { kind: 'finished', phase: 'Cancelled' };
  if (decision.kind === 'ended') return { kind: 'finished', phase: decision.phase };
  const build = stored!;
  const ctx: Ctx = { deps, namespace, name, log: new BuildLogWriter(deps.logs, namespace, name), stages: [] };
  if (decision.kind === 'orphaned') {
    const { logLine, ...end } = decision.end;
    if (logLine) ctx.log.line(logLine);
    // What the dead worker left running or tagged in the engine goes with it.
    for (const problem of await removeBuildLeftovers(deps.docker, { namespace, name }))
      ctx.log.line(`warning: could not remove what the stopped build left: ${problem}`);
    return finish(ctx, build, end);
  }
  if (decision.kind === 'end') return finish(ctx, build, decision.end);

  const { runPolicy, buildConfig: bcName } = runPolicyOf(build);
  const self = buildRunInfo(build);
  if (runPolicy !== 'Parallel' && bcName && self) {
    const siblings = (await deps.store.list(BUILD, namespace, `openshift.io/build-config.name=${bcName}`))
      .map(buildRunInfo)
      .filter((b): b is BuildRunInfo => b !== undefined);
    const policy = decideRunPolicy({ runPolicy, build: self, siblings });
    if (policy.kind === 'wait') return { kind: 'waiting', reason: policy.reason };
    if (policy.kind === 'end') return finish(ctx, build, policy.end);
  }

  // The build's pod is taken from the project's quota before the claim, atomically for the
  // fleet; past the quota the build stays New and says why (docs/quotas.md).
  const holder = `build/${name}`;
  if (deps.quotas) {
    const reservation = await deps.quotas.reserve(namespace, holder, buildRequest(build));
    if (reservation.kind === 'refused')
      return finish(ctx, build, {
        phase: 'Failed',
        reason: BuildReasons.CannotCreateBuildPodSpec,
        message: `The build pod cannot be created: ${reservation.message}.`,
        logLine: `error: ${reservation.message}`,
      });
    if (reservation.kind === 'exceeded') {
      await noteQuotaWait(deps, build, `Waiting for quota "${reservation.quota}": ${reservation.message}`);
      return { kind: 'waiting', reason: reservation.message };
    }
  }

  // Claim: a compare-and-set from New, so a cancel that lands first wins.
  let claimed = false;
  const start = nowTimestamp();
  const afterClaim = await deps.store
    .update(BUILD, namespace, name, (cur) => {
      const s = (cur.status ?? {}) as BuildStatus;
      if (s.phase !== 'New' || s.cancelled) return undefined;
      claimed = true;
      const { message, ...rest } = s;
      cur.status = {
        ...rest,
        ...(message !== undefined && !message.startsWith(QUOTA_WAIT) ? { message } : {}),
        phase: 'Pending',
        startTimestamp: start,
      };
      cur.metadata.annotations = {
        ...(cur.metadata.annotations ?? {}),
        'slipway.dev/worker': options.worker,
      };
      return cur;
    })
    .catch(async (err: unknown) => {
      await deps.quotas?.release(namespace, holder);
      throw err;
    });
  if (!claimed) {
    await deps.quotas?.release(namespace, holder);
    return runBuild(deps, options);
  }
  await deps.onPhase?.(afterClaim);

  const cancel = new AbortController();
  // completionDeadlineSeconds counts from the build's start (its claim), as OpenShift's
  // counts from the build pod's start; past it the build is stopped and ends Failed.
  let deadlineExceeded = false;
  const deadlineSeconds = (afterClaim.spec as BuildSpec).completionDeadlineSeconds;
  const deadline = deadlineSeconds
    ? setTimeout(() => {
        deadlineExceeded = true;
        cancel.abort();
      }, deadlineSeconds * 1000)
    : undefined;
  const onShutdown = (): void => cancel.abort();
  options.signal.addEventListener('abort', onShutdown, { once: true });
  const poll = setInterval(() => {
    void deps.store.get(BUILD, namespace, name).then(
      (b) => {
        if (!b || (b.status as BuildStatus | undefined)?.cancelled) cancel.abort();
      },
      () => undefined,
    );
  }, 1000);
  const work = mkdtempSync(join(deps.config.workDir ?? tmpdir(), `slipway-${namespace}-${name}-`));
  const tag = buildTag({ namespace, name });
  try {
    // Every container the build makes is named for it and gets its resources.limits.
    const limits = (afterClaim.spec as BuildSpec).resources?.limits as Parameters<typeof containerLimits>[0];
    ctx.deps = {
      ...deps,
      docker: buildScopedDocker(deps.docker, { namespace, name }, containerLimits(limits)),
    };
    const result = await execute(ctx, afterClaim, work, tag, cancel.signal);
    return await finish(
      ctx,
      (await deps.store.get(BUILD, namespace, name)) ?? afterClaim,
      result.reusedFrom ? reusedBuildEnd({ namespace, ...result.reusedFrom }) : { phase: 'Complete' },
      result,
    );
  } catch (err) {
    const current = (await deps.store.get(BUILD, namespace, name)) ?? afterClaim;
    const failure = decideFailure({
      err,
      deadlineExceeded,
      deadlineSeconds,
      aborted: cancel.signal.aborted,
      shuttingDown: options.signal.aborted,
      cancelledByUser: (current.status as BuildStatus).cancelled === true,
    });
    if (failure.kind === 'handBack') {
      const handedBack = await handBack(ctx, options.worker);
      if (handedBack) return handedBack;
      // No longer this worker's to hand back (cancelled or ended meanwhile): it ends cancelled.
      ctx.log.line('Build cancelled.');
      return await finish(ctx, current, {
        phase: 'Cancelled',
        reason: 'CancelledBuild',
        message: 'The build was cancelled by the user.',
      });
    }
    if (failure.unexpected)
      deps.logger.error({ err, build: `${namespace}/${name}` }, 'build failed unexpectedly');
    return await finish(ctx, current, failure.end);
  } finally {
    clearInterval(poll);
    clearTimeout(deadline);
    options.signal.removeEventListener('abort', onShutdown);
    rmSync(work, { recursive: true, force: true });
    // Containers and the temporary tag go whatever the outcome (cancel, failure, deadline).
    for (const problem of await removeBuildLeftovers(deps.docker, { namespace, name }))
      deps.logger.warn({ build: `${namespace}/${name}`, problem }, 'could not remove what the build left');
    // Ended or handed back, the build holds no pod: a build waiting for quota may start.
    await deps.quotas
      ?.release(namespace, holder)
      .catch((err: unknown) =>
        deps.logger.warn(
          { err, build: `${namespace}/${name}` },
          'could not release the build pod from quota',
        ),
      );
  }
}

/** How a New build's `status.message` starts while it waits for a quota. */
const QUOTA_WAIT = 'Waiting for quota';

/** Says on the New build why it waits (written once per change of message, not per retry). */
async function noteQuotaWait(deps: BuildRunnerDeps, build: Resource, message: string): Promise<void> {
  if ((build.status as BuildStatus | undefined)?.message === message) return;
  await deps.store.update(BUILD, build.metadata.namespace!, build.metadata.name, (cur) => {
    const s = (cur.status ?? {}) as BuildStatus;
    if (s.phase !== 'New' || s.message === message) return undefined;
    cur.status = { ...s, message };
    return cur;
  });
}

/**
 * The worker is shutting down and its grace period is over: the build goes back to New
 * (claim, start time and stages cleared), its partial log is replaced by one line saying
 * so, and the caller re-queues the job so another worker runs it from the start. Never
 * Error: nothing went wrong with the build. Returns undefined when the build is no longer
 * this worker's to hand back (cancelled or ended meanwhile).
 */
async function handBack(ctx: Ctx, worker: string): Promise<RunOutcome | undefined> {
  let reset = false;
  const updated = await ctx.deps.store.update(BUILD, ctx.namespace, ctx.name, (cur) => {
    const s = (cur.status ?? {}) as BuildStatus;
    if (s.cancelled || isTerminal(s.phase)) return undefined;
    if (cur.metadata.annotations?.['slipway.dev/worker'] !== worker) return undefined;
    reset = true;
    const { 'slipway.dev/worker': _worker, ...annotations } = cur.metadata.annotations ?? {};
    cur.metadata.annotations = annotations;
    cur.status = { phase: 'New', ...(s.config ? { config: s.config } : {}) };
    return cur;
  });
  if (!reset) return undefined;
  await ctx.log.discard();
  await ctx.deps.logs.deleteLog(ctx.namespace, ctx.name);
  await ctx.deps.logs.appendLog(ctx.namespace, ctx.name, [
    `The worker ${worker} shut down before this build finished; the build was handed back to the queue and runs again from the start.`,
  ]);
  ctx.deps.logger.info({ build: `${ctx.namespace}/${ctx.name}`, worker }, 'build handed back to the queue');
  await ctx.deps.onPhase?.(updated);
  return { kind: 'handedBack' };
}

interface ExecResult {
  output?: { reference: string; digest: string };
  revision?: SourceInfo;
  /** The earlier build whose image this build reused instead of building. */
  reusedFrom?: { build: string; digest: string };
}

/** The strategy's builder image reference and how it is pulled. */
function strategyImage(spec: BuildSpec): {
  from: { kind?: string | undefined; name: string; namespace?: string | undefined } | undefined;
  pullSecret: { name: string } | undefined;
  forcePull: boolean | undefined;
} {
  const options =
    spec.strategy.type === 'Source' ? spec.strategy.sourceStrategy : spec.strategy.dockerStrategy;
  return { from: options?.from, pullSecret: options?.pullSecret, forcePull: options?.forcePull };
}

/** An extended S2I build's runtime image, as the BuildConfig names it. */
function runtimeImageOf(spec: BuildSpec): { kind?: string; name: string; namespace?: string } | undefined {
  if (spec.strategy.type !== 'Source') return undefined;
  return (
    spec.strategy.sourceStrategy as
      { runtimeImage?: { kind?: string; name: string; namespace?: string } } | undefined
  )?.runtimeImage;
}

/**
 * Build avoidance's context for this build, or undefined when its image is neither
 * reused nor recorded (no fingerprint store, a binary source, no output:
 * decideAvoidance). A build forced by noCache gets one that only records its image.
 */
function avoidanceFor(
  ctx: Ctx,
  build: Resource,
  spec: BuildSpec,
  output: OutputTarget | undefined,
  masked: <T extends RegistryAuth>(creds: T | undefined) => T | undefined,
  signal: AbortSignal,
): AvoidanceContext | undefined {
  const { deps, namespace, log } = ctx;
  if (!deps.fingerprints) return undefined;
  const decision = decideAvoidance(build);
  if (decision.kind === 'build') {
    if (!decision.forced) return undefined;
    log.line(decision.why);
  }
  if (!output) return undefined;
  let auth: Promise<RegistryAuth | undefined> | undefined;
  return {
    fingerprints: deps.fingerprints,
    lookUp: decision.kind === 'lookUp',
    namespace,
    output,
    config: deps.config,
    pushAuth: () =>
      (auth ??= registryAuth(deps, namespace, spec.output?.pushSecret?.name, output.registry).then(masked)),
    log: log.line,
    signal,
  };
}

/**
 * An incremental build's previous output as a digest: the ImageStream tag's newest
 * image, or the output tag's manifest in the registry. Undefined when it cannot be told
 * (the build is then not avoided).
 */
async function previousOutputDigest(ctx: Ctx, avoid: AvoidanceContext): Promise<string | undefined> {
  const { output } = avoid;
  if (output.imageStream) {
    const stream = await ctx.deps.store.get(
      IMAGE_STREAM,
      output.imageStream.namespace,
      output.imageStream.name,
    );
    const ref = stream ? latestTagReference(stream, output.imageStream.tag) : undefined;
    return ref === undefined ? '' : digestOf(ref);
  }
  try {
    return await registryTagDigest(avoid);
  } catch (err) {
    avoid.log(`warning: could not read the previous image of ${output.pushReference} (${errorMessage(err)})`);
    return undefined;
  }
}

/** The runtime image's engine ID when the engine has it (the S2I builder pulls it otherwise). */
async function runtimeImageId(ctx: Ctx, spec: BuildSpec): Promise<string | undefined | null> {
  const runtime = runtimeImageOf(spec);
  if (!runtime) return null;
  try {
    const ref = await resolveImageReference(ctx.deps.store, runtime, ctx.namespace);
    return await localImageId(ctx.deps.docker, ref);
  } catch {
    return undefined;
  }
}

/**
 * The inputs as they can be told before cloning: the commit from `git ls-remote` (or the
 * request), builder images by the IDs of the engine's copies. Undefined when any part
 * needs the clone or a pull (an abbreviated commit, forcePull, an image not here yet):
 * the check is then made after the checkout and the pulls.
 */
async function inputsBeforeFetch(
  ctx: Ctx,
  spec: BuildSpec,
  resolveCommit: (() => Promise<string | undefined>) | undefined,
  previousDigest: string | undefined,
): Promise<ResolvedInputs | undefined> {
  const commit = resolveCommit ? await resolveCommit() : '';
  if (commit === undefined || previousDigest === undefined) return undefined;
  const { from, forcePull } = strategyImage(spec);
  let fromId: string | undefined;
  if (from) {
    if (forcePull) return undefined;
    const ref = await resolveImageReference(ctx.deps.store, from, ctx.namespace).catch(() => undefined);
    fromId = ref === undefined ? undefined : await localImageId(ctx.deps.docker, ref);
    if (!fromId) return undefined;
  }
  const runtimeId = await runtimeImageId(ctx, spec);
  if (runtimeId === undefined) return undefined;
  // Image sources as the engine has them now; one it does not have (or cannot name) means no early reuse.
  const imageSourceIds: string[] = [];
  for (const image of spec.source.images ?? []) {
    const ref = await resolveImageReference(ctx.deps.store, image.from, ctx.namespace).catch(() => undefined);
    const id = ref === undefined ? undefined : await localImageId(ctx.deps.docker, ref);
    if (!id) return undefined;
    imageSourceIds.push(id);
  }
  return {
    spec,
    commit,
    fromId,
    runtimeImageId: runtimeId ?? undefined,
    previousDigest,
    ...(imageSourceIds.length > 0 ? { imageSourceIds } : {}),
  };
}

/** Records `slipway.dev/reused-from` on the Build. */
async function markReused(ctx: Ctx, from: string): Promise<void> {
  await ctx.deps.store.update(BUILD, ctx.namespace, ctx.name, (cur) => {
    cur.metadata.annotations = { ...(cur.metadata.annotations ?? {}), 'slipway.dev/reused-from': from };
    return cur;
  });
}

/** The commit and its details, from the reused build when it is still there (otherwise the id alone). */
async function reusedRevision(
  ctx: Ctx,
  commit: string,
  from: string,
  uri: string | undefined,
): Promise<SourceInfo> {
  const earlier = await ctx.deps.store.get(BUILD, ctx.namespace, from);
  const git = (earlier?.spec as BuildSpec | undefined)?.revision?.git;
  const info: SourceInfo = { commit };
  if (uri) info.uri = uri;
  if (git?.commit === commit) {
    if (git.author) info.author = git.author as SourceInfo['author'] & object;
    if (git.committer) info.committer = git.committer as SourceInfo['committer'] & object;
    if (git.message !== undefined) info.message = git.message;
  }
  return info;
}

async function execute(
  ctx: Ctx,
  build: Resource,
  work: string,
  tag: string,
  signal: AbortSignal,
): Promise<ExecResult> {
  const { deps, namespace, log } = ctx;
  const spec = structuredClone(build.spec) as BuildSpec;
  // Every secret value resolved for this build is masked in its log from then on.
  const masked = <T extends { username?: string; password?: string; sshPrivateKey?: string }>(
    creds: T | undefined,
  ): T | undefined => {
    if (creds) {
      log.mask(creds.password, creds.sshPrivateKey);
      if (creds.password !== undefined) log.mask(`${creds.username ?? ''}:${creds.password}`);
    }
    return creds;
  };
  const sourceUri = spec.source.git?.uri;
  if (spec.source.git && sourceUri) spec.source.git.uri = redactUri(sourceUri);
  const sourceDir = join(work, 'source');
  const secretsDir = join(work, 'secrets');
  mkdirSync(sourceDir, { mode: 0o755 });
  mkdirSync(secretsDir, { mode: 0o700 });
  await setStatus(ctx, { phase: 'Running' });
  ctx.deps.logger.info(
    { build: `${ctx.namespace}/${ctx.name}` },
    `build ${ctx.namespace}/${ctx.name} running`,
  );

  let output: OutputTarget | undefined;
  let outputProblem: unknown;
  if (spec.output?.to) {
    try {
      output = resolveOutput(spec.output.to, namespace, deps.config.registry);
    } catch (err) {
      outputProblem = err;
    }
  }
  const avoid = avoidanceFor(ctx, build, spec, output, masked, signal);
  // The spec as the BuildConfig made it: the steps below resolve and rewrite parts of `spec`.
  const inputsSpec = structuredClone(spec);
  // Read before this build pushes: the output it would build on.
  const incremental = spec.strategy.type === 'Source' && spec.strategy.sourceStrategy?.incremental === true;
  const previousDigest = avoid && incremental ? await previousOutputDigest(ctx, avoid) : '';
  /** The fingerprint already looked up, and what it found. */
  let looked: string | undefined;
  let reusable: Reusable | undefined;

  let source: SourceInfo = {};
  let inputs: BuildInputFiles[] = [];
  let imageSourceIds: string[] = [];
  const otherInputs = async (): Promise<void> => {
    inputs = await readBuildInputs(deps.store, namespace, spec, (v) => log.mask(v));
    imageSourceIds = await fetchImageSources(ctx, spec, sourceDir, masked);
  };
  await stage(ctx, 'FetchInputs', async () => {
    const binaryId = build.metadata.annotations?.['slipway.dev/binary-input'];
    if (binaryId) {
      // An upload belongs to its namespace: a Build naming another namespace's gets nothing.
      const ours = ownBinaryInput(build, namespace);
      const data = ours ? await deps.binaries.getBinary(ours) : undefined;
      if (!data)
        throw new BuildFailure(
          'FetchSourceFailed',
          'the uploaded binary input has expired or was never stored; start the build again',
        );
      // Gone (and off the namespace's upload quota) once the build ends, whatever the
      // outcome (`finish`); not before, so a build handed back on shutdown can read it again.
      await unpackBinarySource({ data, dir: sourceDir, asFile: spec.source.binary?.asFile, log: log.line });
      await otherInputs();
      return;
    }
    const git = spec.source.git;
    const gitOptions = git
      ? {
          uri: sourceUri ?? git.uri,
          ref: git.ref,
          commit: spec.revision?.git?.commit,
          dir: sourceDir,
          secretsDir,
          credentials: masked(await sourceCredentials(deps, namespace, spec)),
          proxy: {
            httpProxy: git.httpProxy ?? deps.config.httpProxy,
            httpsProxy: git.httpsProxy ?? deps.config.httpsProxy,
            noProxy: git.noProxy ?? deps.config.noProxy,
          },
          allowFileSources: deps.config.allowFileSources,
          log: log.line,
          signal,
        }
      : undefined;
    if (avoid?.lookUp) {
      // A ref resolved with `git ls-remote` costs one round trip; a clone can cost minutes.
      const early = await inputsBeforeFetch(
        ctx,
        inputsSpec,
        gitOptions && (() => resolveGitCommit(gitOptions)),
        previousDigest,
      );
      if (early) {
        looked = fingerprintOf(avoid, early);
        reusable = await findReusable(avoid, looked);
        if (reusable) {
          source = await reusedRevision(ctx, early.commit, reusable.image.build, spec.source.git?.uri);
          return;
        }
      }
    }
    if (gitOptions) source = await fetchGitSource(gitOptions);
    await otherInputs();
  });
  if (source.commit) {
    spec.revision = {
      type: 'Git',
      git: {
        commit: source.commit,
        author: source.author ?? {},
        committer: source.committer ?? {},
        message: source.message ?? '',
      },
    };
    await setStatus(ctx, {}, spec);
  }
  if (avoid && reusable) return deliverReused(ctx, { build, spec, avoid, reusable, source });
  // Links followed and kept inside the checkout (docs/hostile-repositories.md).
  const contextDir = resolveContextDir(sourceDir, spec.source.contextDir);

  const strategyType = spec.strategy.type;
  const builder =
    strategyType === 'Docker' || strategyType === 'Source' ? deps.builders[strategyType] : undefined;
  if (!builder)
    throw new BuildFailure(
      'CannotCreateBuildPodSpec',
      `strategy "${strategyType}" is not supported by this worker`,
    );

  const { from, pullSecret, forcePull } = strategyImage(spec);
  let fromImage: string | undefined;
  let fromId: string | undefined;
  let previousImage: string | undefined;
  if (outputProblem !== undefined)
    throw new BuildFailure('InvalidOutputReference', errorMessage(outputProblem), { cause: outputProblem });
  await stage(ctx, 'PullImages', async () => {
    if (from) {
      const pulled = await pullNamedImage(ctx, {
        from,
        pullSecret: pullSecret?.name,
        forcePull,
        reason: 'PullBuilderImageFailed',
        masked,
      });
      fromImage = pulled.reference;
      fromId = pulled.id;
    }
    // An extended build's runtime image: the S2I builder takes a DockerImage reference.
    const runtime = runtimeImageOf(spec);
    if (strategyType === 'Source' && runtime && (runtime.kind ?? 'DockerImage') !== 'DockerImage') {
      try {
        const ref = await resolveImageReference(deps.store, runtime, namespace);
        (spec.strategy.sourceStrategy as Record<string, unknown>).runtimeImage = {
          kind: 'DockerImage',
          name: ref,
        };
      } catch (err) {
        throw new BuildFailure(
          'PullBuilderImageFailed',
          `cannot resolve runtimeImage ${runtime.kind} "${runtime.name}": ${errorMessage(err)}`,
          { cause: err },
        );
      }
    }
    if (strategyType === 'Source' && spec.strategy.sourceStrategy?.incremental && output) {
      previousImage = await previousOutput(ctx, output, log.line);
    }
  });

  // After the checkout and the pulls, every input is known: the check the ls-remote could not make.
  const inputsNow = async (): Promise<string | undefined> => {
    if (!avoid || previousDigest === undefined || (spec.source.git && !source.commit)) return undefined;
    const runtimeId = await runtimeImageId(ctx, spec);
    if (runtimeId === undefined) return undefined;
    return fingerprintOf(avoid, {
      spec: inputsSpec,
      commit: source.commit ?? '',
      fromId,
      runtimeImageId: runtimeId ?? undefined,
      previousDigest,
      ...(imageSourceIds.length > 0 ? { imageSourceIds } : {}),
    });
  };
  let fingerprint = await inputsNow();
  if (avoid?.lookUp && fingerprint && fingerprint !== looked) {
    reusable = await findReusable(avoid, fingerprint);
    if (reusable) return deliverReused(ctx, { build, spec, avoid, reusable, source });
  }

  const result = await stage(ctx, 'Build', () =>
    builder({
      docker: deps.docker,
      buildRef: { namespace, name: ctx.name },
      spec,
      sourceDir,
      contextDir,
      source,
      fromImage,
      previousImage,
      tag,
      outputReference: output?.pushReference,
      inputs,
      extraEnv: buildEnv(deps.config),
      trustedCA: deps.config.trustedCA,
      log: log.line,
      signal,
    }),
  );

  if (!output) {
    log.line('Build complete, no image push requested');
    return { revision: source };
  }
  const target = output;
  const digest = await deliver(ctx, { build, spec, target }, async () =>
    pushImage({
      docker: deps.docker,
      image: result.imageId,
      reference: target.pushReference,
      auth: masked(await registryAuth(deps, namespace, spec.output?.pushSecret?.name, target.registry)),
      attempts: deps.config.pushAttempts,
      retryDelayMs: deps.config.pushRetryDelayMs,
      log: log.line,
      signal,
    }),
  );
  // A runtime image the builder pulled is known only now.
  fingerprint ??= await inputsNow();
  if (avoid && fingerprint) {
    const image = { build: ctx.name, digest, registry: target.registry, repository: target.repository };
    await deps.fingerprints!.record(namespace, fingerprint, image).catch((err: unknown) => {
      log.line(`warning: later builds with the same inputs cannot reuse this image: ${errorMessage(err)}`);
    });
  }
  return { output: { reference: target.pushReference, digest }, revision: source };
}

/**
 * Hands a pushed (or reused) image on as every build's output is: the provenance mark
 * before the push, the push itself as the PushImage stage, the ImageStream tag, and the
 * image change hook. Returns the digest.
 */
async function deliver(
  ctx: Ctx,
  options: { build: Resource; spec: BuildSpec; target: OutputTarget },
  push: () => Promise<string>,
): Promise<string> {
  const { deps, log } = ctx;
  const { build, target } = options;
  const image: OutputImage = {
    build,
    registry: target.registry,
    repository: target.repository,
    tag: target.tag,
  };
  if (target.imageStream) image.imageStream = target.imageStream;
  await deps.beforeImagePush?.(image);
  const digest = await stage(ctx, 'PushImage', push);
  if (target.imageStream) {
    await recordImageStreamTag({
      store: deps.store,
      namespace: target.imageStream.namespace,
      name: target.imageStream.name,
      tag: target.imageStream.tag,
      digest,
      repository: `${target.registry}/${target.repository}`,
    });
  }
  if (deps.onImagePushed) {
    try {
      await deps.onImagePushed({ ...image, digest });
    } catch (err) {
      log.line(
        `warning: image change triggers for ${target.pushReference} did not fire here (${errorMessage(err)}); the registry's notification retries them`,
      );
    }
  }
  return digest;
}

/** Ends a build by tagging an earlier build's image (same inputs) to its output. */
async function deliverReused(
  ctx: Ctx,
  options: {
    build: Resource;
    spec: BuildSpec;
    avoid: AvoidanceContext;
    reusable: Reusable;
    source: SourceInfo;
  },
): Promise<ExecResult> {
  const { avoid, reusable } = options;
  const from = reusable.image.build;
  ctx.log.line(`Input fingerprint ${reusable.fingerprint}: build ${from} made an image from the same inputs`);
  await markReused(ctx, from);
  const digest = await deliver(ctx, { build: options.build, spec: options.spec, target: avoid.output }, () =>
    tagReusedImage(avoid, reusable),
  );
  return {
    output: { reference: avoid.output.pushReference, digest },
    revision: options.source,
    reusedFrom: { build: from, digest },
  };
}

/** The image an incremental build takes its artifacts from: the output's current image. */
async function previousOutput(
  ctx: Ctx,
  output: OutputTarget,
  log: (l: string) => void,
): Promise<string | undefined> {
  let ref: string | undefined = output.pushReference;
  if (output.imageStream) {
    const stream = await ctx.deps.store.get(
      IMAGE_STREAM,
      output.imageStream.namespace,
      output.imageStream.name,
    );
    ref = stream ? latestTagReference(stream, output.imageStream.tag) : undefined;
  }
  if (!ref) {
    log('No previous image to take artifacts from: this is a clean build');
    return undefined;
  }
  try {
    await ensureImage({ docker: ctx.deps.docker, reference: ref, log });
    return ref;
  } catch (err) {
    log(`warning: previous image ${ref} is not available (${errorMessage(err)}); this is a clean build`);
    return undefined;
  }
}

async function finish(ctx: Ctx, build: Resource, end: BuildEnd, result?: ExecResult): Promise<RunOutcome> {
  const { phase } = end;
  if (end.logLine) ctx.log.line(end.logLine);
  const patch = endStatusPatch({
    status: (build.status ?? {}) as BuildStatus,
    end,
    completionTimestamp: nowTimestamp(),
    output: result?.output,
    logSnippet: () => ctx.log.snippet(),
    redact: (text) => ctx.log.redact(text),
  });
  if (phase === 'Complete') ctx.log.line(`Build ${ctx.namespace}/${ctx.name} complete`);
  // The one line a person watching `slipway up` needs per build: how it ended, and why.
  const reason = patch.reason ? ` (${String(patch.reason)})` : '';
  ctx.deps.logger.info(
    { build: `${ctx.namespace}/${ctx.name}`, phase, reason: patch.reason },
    `build ${ctx.namespace}/${ctx.name} ${phase}${reason}`,
  );
  await ctx.log.flush();
  try {
    await setStatus(ctx, patch);
  } finally {
    await ctx.log.close(phase);
  }
  // The project's build time, kept apart from the Builds so pruning them does not lose it.
  if (typeof patch.duration === 'number' && patch.duration > 0)
    await ctx.deps.quotas
      ?.addBuildTime(ctx.namespace, patch.duration / 1e9)
      .catch((err: unknown) =>
        ctx.deps.logger.warn(
          { err, build: `${ctx.namespace}/${ctx.name}` },
          'could not record the build time',
        ),
      );
  // Only this namespace's upload: an annotation naming another's must not delete it.
  const binaryId = ownBinaryInput(build, ctx.namespace);
  if (binaryId)
    await ctx.deps.binaries
      .deleteBinary(binaryId)
      .catch((err: unknown) =>
        ctx.deps.logger.warn(
          { err, build: `${ctx.namespace}/${ctx.name}` },
          'could not delete the binary input',
        ),
      );
  const bcName = build.metadata.labels?.['openshift.io/build-config.name'];
  if (bcName) {
    await pruneBuildHistory({
      store: ctx.deps.store,
      logs: ctx.deps.logs,
      namespace: ctx.namespace,
      buildConfig: bcName,
    }).catch((err: unknown) =>
      ctx.deps.logger.warn(
        { err, buildConfig: `${ctx.namespace}/${bcName}` },
        'could not prune build history',
      ),
    );
  }
  return { kind: 'finished', phase };
}
