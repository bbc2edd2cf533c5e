/** Cancelling a build at any phase: New ends at once, a running build is stopped by its worker. */
import type { BuildConfigSpec, BuildStatus } from '../core/build-types.js';
import { isTerminal } from '../core/build-phase.js';
import { recordBuildEnd } from '../core/metrics.js';
import { nowTimestamp, type Resource } from '../core/resource.js';
import type { BuildLogStore } from '../store/build-logs.js';
import type { ResourceStore } from '../store/resource-store.js';
import { buildRunInfo, buildsToCancel, type BuildRunInfo } from './run-policy.js';
import type { BuildQueue } from './build-queue.js';
import { BUILD, instantiateBuild, type BuildRequest } from './instantiate.js';

export interface CancelBuildOptions {
  store: ResourceStore;
  queue: BuildQueue;
  logs: BuildLogStore;
  namespace: string;
  name: string;
  /** `status.message` of a build ended here; the default says a user cancelled it. */
  message?: string;
}

/**
 * Sets `status.cancelled`. A build that has not been claimed by a worker is Cancelled
 * here; a claimed one is stopped by its worker, which watches the flag.
 */
export async function cancelBuild(options: CancelBuildOptions): Promise<Resource> {
  const { store, namespace, name } = options;
  let endedHere = false;
  const updated = await store.update(BUILD, namespace, name, (cur) => {
    const status = (cur.status ?? {}) as BuildStatus;
    if (isTerminal(status.phase) || status.cancelled) return undefined;
    const next: BuildStatus = { ...status, cancelled: true };
    endedHere = (status.phase ?? 'New') === 'New';
    if (endedHere) {
      next.phase = 'Cancelled';
      next.reason = 'CancelledBuild';
      next.message = options.message ?? 'The build was cancelled by the user.';
      next.completionTimestamp = nowTimestamp();
    }
    cur.status = next;
    return cur;
  });
  if (endedHere) {
    recordBuildEnd(updated);
    await options.queue.removeIfWaiting(updated);
    await options.logs.appendLog(namespace, name, [
      options.message
        ? `Build cancelled before it started. ${options.message}`
        : 'Build cancelled before it started.',
    ]);
    await options.logs.closeLog(namespace, name, 'Cancelled');
  }
  return updated;
}

/**
 * SerialLatestOnly, when `build` has just been created: cancels every older build of its
 * BuildConfig that has not started (`buildsToCancel`), before `build` is queued. Returns
 * the names cancelled. Other run policies cancel nothing.
 */
export async function cancelSupersededBuilds(options: {
  store: ResourceStore;
  queue: BuildQueue;
  logs: BuildLogStore;
  build: Resource;
  buildConfig: Resource;
}): Promise<string[]> {
  const runPolicy = (options.buildConfig.spec as Partial<BuildConfigSpec> | undefined)?.runPolicy;
  const newBuild = buildRunInfo(options.build);
  if (runPolicy !== 'SerialLatestOnly' || !newBuild) return [];
  const namespace = options.build.metadata.namespace ?? 'default';
  const siblings = await options.store.list(
    BUILD,
    namespace,
    `openshift.io/build-config.name=${options.buildConfig.metadata.name}`,
  );
  const builds = siblings.map(buildRunInfo).filter((b): b is BuildRunInfo => b !== undefined);
  const names = buildsToCancel({ runPolicy, builds, newBuild });
  for (const name of names) {
    await cancelBuild({
      ...options,
      namespace,
      name,
      message: `The build was cancelled: ${newBuild.name} is newer (runPolicy SerialLatestOnly).`,
    });
  }
  return names;
}

/** Marks a build whose job BullMQ gave up on (stalled too often) as Error, if it has not ended. */
export async function failOrphanedBuild(
  store: ResourceStore,
  logs: BuildLogStore,
  namespace: string,
  name: string,
  why: string,
): Promise<void> {
  let changed = false;
  const updated = await store.update(BUILD, namespace, name, (cur) => {
    const status = (cur.status ?? {}) as BuildStatus;
    if (isTerminal(status.phase)) return undefined;
    changed = true;
    cur.status = {
      ...status,
      phase: 'Error',
      reason: 'BuildPodDeleted',
      message: `The worker running this build stopped before the build finished (${why}); start a new build.`,
      completionTimestamp: nowTimestamp(),
    };
    return cur;
  });
  if (changed) {
    recordBuildEnd(updated);
    await logs.appendLog(namespace, name, [`error: ${why}`]);
    await logs.closeLog(namespace, name, 'Error');
  }
}

/**
 * How every build is started: `instantiateBuild`, with the run policy applied between
 * storing the Build and queueing it (SerialLatestOnly cancels the older queued builds of
 * its BuildConfig, so the newest is the one that waits).
 */
export function instantiateWithRunPolicy(deps: {
  store: ResourceStore;
  queue: BuildQueue;
  logs: BuildLogStore;
  logger: { info(obj: object, msg: string): void };
}): (
  namespace: string,
  buildConfig: string,
  request?: BuildRequest,
  current?: Resource,
) => Promise<Resource> {
  const { store, queue, logs, logger } = deps;
  return (namespace, buildConfig, request = {}, current) =>
    instantiateBuild({
      store,
      queue,
      namespace,
      buildConfig,
      request,
      ...(current ? { current } : {}),
      beforeEnqueue: async (build, bc) => {
        const cancelled = await cancelSupersededBuilds({ store, queue, logs, build, buildConfig: bc });
        if (cancelled.length > 0)
          logger.info(
            { namespace, build: build.metadata.name, cancelled },
            'SerialLatestOnly cancelled older queued builds',
          );
      },
    });
}
