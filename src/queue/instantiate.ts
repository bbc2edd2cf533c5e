/**
 * Turning a BuildConfig (+ a BuildRequest) into a Build: number it from the
 * BuildConfig's counter (kept in step with `status.lastVersion`), copy the spec, record
 * why, store it in phase New and queue it.
 * Every event source (API, webhooks, image changes, ConfigChange) goes through here.
 */
import type {
  BuildConfigSpec,
  BuildSpec,
  BuildTriggerCause,
  EnvVar,
  SourceRevision,
} from '../core/build-types.js';
import { buildRequestCauses } from '../core/build-input-rules.js';
import { buildName } from '../core/build-phase.js';
import { AlreadyExistsError, InputError, NotFoundError } from '../core/errors.js';
import { lookupKind, type Resource } from '../core/resource.js';
import { redactUri } from '../core/redact.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { BuildQueue } from './build-queue.js';

export const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;
export const BUILD = lookupKind('build.openshift.io/v1', 'Build')!;

/** OpenShift's BuildRequest: the body of `instantiate`. */
export interface BuildRequest {
  revision?: SourceRevision;
  triggeredBy?: BuildTriggerCause[];
  env?: EnvVar[];
  from?: { kind?: string; name: string; namespace?: string };
  /** The image ID an image-change trigger fired for; recorded as the build's `from`. */
  triggeredByImage?: { name?: string };
  dockerStrategyOptions?: { buildArgs?: EnvVar[]; noCache?: boolean };
  sourceStrategyOptions?: { incremental?: boolean };
  /** Set by `instantiatebinary`: the uploaded archive's id in the binary store, and OpenShift's asFile. */
  binary?: { blobId: string; asFile?: string };
}

export interface InstantiateOptions {
  store: ResourceStore;
  queue: BuildQueue;
  namespace: string;
  buildConfig: string;
  request?: BuildRequest;
  /**
   * The BuildConfig as the caller has just read it (the org webhook's routing did), for
   * the checks before a number is taken; read from the store when not given.
   */
  current?: Resource;
  /** Runs after the Build is stored and before it is queued (run-policy decisions). */
  beforeEnqueue?: (build: Resource, buildConfig: Resource) => Promise<void>;
}

function mergeEnv(base: EnvVar[] | undefined, extra: EnvVar[] | undefined): EnvVar[] | undefined {
  if (!extra || extra.length === 0) return base;
  const out = [...(base ?? []).filter((e) => !extra.some((x) => x.name === e.name)), ...extra];
  return out;
}

/** Applies a BuildRequest's overrides to a copy of the BuildConfig's spec. */
export function buildSpecFor(bcSpec: BuildConfigSpec, request: BuildRequest = {}): BuildSpec {
  const {
    triggers: _triggers,
    runPolicy: _runPolicy,
    successfulBuildsHistoryLimit: _s,
    failedBuildsHistoryLimit: _f,
    ...common
  } = structuredClone(bcSpec);
  const spec: BuildSpec = { ...common };
  // A BuildConfig stored before credentials in URIs were refused must not hand them on.
  if (spec.source.git?.uri) spec.source.git.uri = redactUri(spec.source.git.uri);
  if (request.revision) spec.revision = request.revision;
  const strategy = spec.strategy;
  if (strategy.dockerStrategy || strategy.type === 'Docker') {
    const ds = { ...(strategy.dockerStrategy ?? {}) };
    const env = mergeEnv(ds.env, request.env);
    if (env) ds.env = env;
    const args = mergeEnv(ds.buildArgs, request.dockerStrategyOptions?.buildArgs);
    if (args) ds.buildArgs = args;
    if (request.dockerStrategyOptions?.noCache !== undefined)
      ds.noCache = request.dockerStrategyOptions.noCache;
    if (request.from) ds.from = request.from;
    strategy.dockerStrategy = ds;
  }
  if (strategy.sourceStrategy) {
    const ss = strategy.sourceStrategy;
    const env = mergeEnv(ss.env, request.env);
    if (env) ss.env = env;
    if (request.sourceStrategyOptions?.incremental !== undefined)
      ss.incremental = request.sourceStrategyOptions.incremental;
    // `oc start-build --no-cache` sends dockerStrategyOptions.noCache whatever the
    // strategy; for a Source build it means what it means for a Docker one: a real build,
    // never the reused image of an earlier build (docs/build-lifecycle.md).
    if (request.dockerStrategyOptions?.noCache !== undefined)
      ss.noCache = request.dockerStrategyOptions.noCache;
    if (request.from) ss.from = request.from;
  }
  if (request.binary) {
    spec.source = {
      ...spec.source,
      type: 'Binary',
      binary: request.binary.asFile ? { asFile: request.binary.asFile } : {},
    };
  }
  spec.triggeredBy =
    request.triggeredBy && request.triggeredBy.length > 0
      ? request.triggeredBy
      : [{ message: 'Manually triggered' }];
  return spec;
}

/**
 * Raises the BuildConfig's `status.lastVersion` to `version`. A writer that finds it
 * already as high writes nothing, which keeps this compare-and-set short under a flood.
 */
async function raiseLastVersion(
  store: ResourceStore,
  namespace: string,
  buildConfig: string,
  version: number,
): Promise<Resource> {
  return store.update(BUILD_CONFIG, namespace, buildConfig, (cur) => {
    const status = (cur.status ?? {}) as { lastVersion?: number };
    if ((status.lastVersion ?? 0) >= version) return undefined;
    cur.status = { ...status, lastVersion: version };
    return cur;
  });
}

/**
 * Stores the Build; when its name is taken (a Build left from a deleted BuildConfig of
 * the same name, not yet cleaned up, or one created by hand), the next number is taken.
 */
async function createNumbered(store: ResourceStore, build: Resource, buildConfig: string): Promise<Resource> {
  const namespace = build.metadata.namespace!;
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.create(BUILD, build);
    } catch (err) {
      if (!(err instanceof AlreadyExistsError) || attempt >= 20) throw err;
      const version = await store.nextNumber(BUILD_CONFIG, namespace, buildConfig, 'lastVersion');
      await raiseLastVersion(store, namespace, buildConfig, version);
      build.metadata.name = buildName(buildConfig, version);
      build.metadata.annotations = {
        ...build.metadata.annotations,
        'openshift.io/build.number': String(version),
      };
    }
  }
}

/** Creates Build `{bc}-{N}` in phase New and queues it; returns the stored Build. */
export async function instantiateBuild(options: InstantiateOptions): Promise<Resource> {
  const { store, queue, namespace, buildConfig } = options;
  // Every event source passes here: a commit for git and env names for a Dockerfile are checked once for all.
  const causes = buildRequestCauses(options.request ?? {});
  if (causes.length > 0) {
    throw new InputError(
      `BuildRequest for BuildConfig "${buildConfig}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
      { causes },
    );
  }
  const existing = options.current ?? (await store.get(BUILD_CONFIG, namespace, buildConfig));
  if (!existing)
    throw new NotFoundError(`BuildConfig "${buildConfig}" not found in namespace "${namespace}"`);
  const bcSource = (existing.spec as BuildConfigSpec).source;
  const takesBinary = bcSource.type === 'Binary' || (bcSource.binary !== undefined && !bcSource.git);
  if (takesBinary && !options.request?.binary) {
    throw new InputError(
      `BuildConfig "${buildConfig}" takes binary input: start it with instantiatebinary (slipway start-build --from-dir)`,
      {
        causes: [{ field: 'spec.source.type', message: 'Binary builds need an uploaded archive' }],
      },
    );
  }
  if (existing.metadata.annotations?.['openshift.io/build-config.paused'] === 'true') {
    throw new InputError(`BuildConfig "${buildConfig}" is paused; unpause it to start builds`, { code: 422 });
  }
  // The number comes from an atomic counter kept with the BuildConfig, so concurrent
  // requests on any server get distinct numbers without racing on the object.
  const version = await store.nextNumber(BUILD_CONFIG, namespace, buildConfig, 'lastVersion');
  const bc = await raiseLastVersion(store, namespace, buildConfig, version);
  const spec = buildSpecFor(bc.spec as BuildConfigSpec, options.request);
  const name = buildName(buildConfig, version);
  const build: Resource = {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: {
      name,
      namespace,
      labels: {
        ...(bc.metadata.labels ?? {}),
        buildconfig: buildConfig,
        'openshift.io/build-config.name': buildConfig,
        'openshift.io/build.start-policy': (bc.spec as BuildConfigSpec).runPolicy ?? 'Serial',
      },
      annotations: {
        'openshift.io/build-config.name': buildConfig,
        'openshift.io/build.number': String(version),
        ...(options.request?.binary ? { 'slipway.dev/binary-input': options.request.binary.blobId } : {}),
      },
      ownerReferences: [
        {
          apiVersion: 'build.openshift.io/v1',
          kind: 'BuildConfig',
          name: buildConfig,
          uid: bc.metadata.uid,
          controller: true,
        },
      ],
    },
    spec,
    status: {
      phase: 'New',
      config: { kind: 'BuildConfig', namespace, name: buildConfig },
    },
  };
  const stored = await createNumbered(store, build, buildConfig);
  if (options.beforeEnqueue) await options.beforeEnqueue(stored, bc);
  await queue.enqueue(stored);
  return stored;
}
