/**
 * What deleting a project does once its objects are gone (docs/access-control.md,
 * "Deleting a project"): the namespace's queued jobs go, its running builds and rollouts
 * (cancelled with their objects) are waited for, the deploy target removes what still
 * runs there, the registry drops the ImageStreams' manifests, and every Redis key of the
 * namespace is purged (src/store/namespace-keys.ts).
 *
 * Ordering is the safety: keys are purged only after the jobs that could write them have
 * ended; and the namespace is marked deleted before anything is removed, so a write that
 * comes later still (a registry notification, a worker past the wait) cannot create an
 * object there again (the resource store refuses it).
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { removeNamespaceJobs } from '../queue/namespace-jobs.js';
import { deleteManifest, listTags, getManifest } from '../registry/manifests.js';
import type { RedisNamespaceKeys } from '../store/namespace-keys.js';
import type { NamespaceTargets } from '../store/namespace-targets.js';
import { otherTargetError, targetKind } from '../strategies/target-guard.js';
import type { DeployTarget } from '../strategies/target.js';

/** How long deletion waits for the namespace's running builds and rollouts to stop. */
export const DRAIN_WAIT_MS = 60_000;

export interface NamespaceTeardownDeps {
  redis: Redis;
  keys: RedisNamespaceKeys;
  /** The build queue and every rollout queue. */
  queues: () => Queue[];
  target?: DeployTarget;
  /** Which kind of target each namespace deploys to: a namespace of the other kind is deleted by a server of that kind. */
  targets?: NamespaceTargets;
  /** The internal registry (`host:port`), whose repositories `{namespace}/{stream}` are the ImageStreams'. */
  registry?: string;
  logger: Logger;
  drainWaitMs?: number;
}

export interface NamespaceTeardown {
  /**
   * Before the objects go: no new object may be created in the namespace from now on. A
   * ConflictError, before anything is touched, when the namespace deploys to the other
   * kind of target than this server's (its replicas are out of this server's reach).
   */
  begin(namespace: string): Promise<void>;
  /** After the objects went (`imageStreams` are the names the namespace had). */
  finish(namespace: string, imageStreams: string[]): Promise<void>;
  /** A project of that name is requested again: it may hold objects again. */
  reopen(namespace: string): Promise<void>;
}

/** Deletes every manifest of `{namespace}/{stream}` in the registry; false when deletes are disabled there. */
async function deleteRepository(registry: string, repository: string): Promise<boolean> {
  const target = { registry, repository, internalRegistry: registry };
  const digests = new Set<string>();
  for (const tag of await listTags(target)) {
    const manifest = await getManifest(target, tag);
    if (manifest) digests.add(manifest.digest);
  }
  for (const digest of digests) if (!(await deleteManifest(target, digest))) return false;
  return true;
}

export function namespaceTeardown(deps: NamespaceTeardownDeps): NamespaceTeardown {
  const { logger } = deps;
  return {
    async begin(namespace) {
      if (deps.target && deps.targets) {
        const own = targetKind(deps.target);
        const recorded = await deps.targets.get(namespace);
        if (recorded && recorded !== own) throw otherTargetError(namespace, recorded, own);
      }
      await deps.keys.markDeleted(namespace);
    },

    async finish(namespace, imageStreams) {
      const waitMs = deps.drainWaitMs ?? DRAIN_WAIT_MS;
      for (const queue of deps.queues()) {
        const { stillActive } = await removeNamespaceJobs(deps.redis, queue, namespace, { waitMs });
        if (stillActive.length > 0)
          logger.warn(
            { namespace, queue: queue.name, jobs: stillActive },
            `project ${namespace}: jobs still running after ${Math.round(waitMs / 1000)}s were left to their workers`,
          );
      }
      await deps.target?.deleteNamespace?.(namespace, { signal: AbortSignal.timeout(300_000) });
      if (deps.registry) {
        for (const stream of imageStreams) {
          try {
            if (!(await deleteRepository(deps.registry, `${namespace}/${stream}`))) {
              logger.warn(
                { namespace, registry: deps.registry },
                `project ${namespace}: the registry does not allow deletes (storage.delete.enabled); its images stay there`,
              );
              break;
            }
          } catch (err) {
            logger.warn(
              { namespace, stream, err: errorMessage(err) },
              `project ${namespace}: could not delete the images of ImageStream ${stream} from the registry`,
            );
          }
        }
      }
      const purged = await deps.keys.purge(namespace);
      logger.info({ namespace, ...purged }, `project ${namespace}: its keys were removed from Redis`);
    },

    reopen: (namespace) => deps.keys.forgetDeleted(namespace),
  };
}
