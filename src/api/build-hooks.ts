/** What the API does around writes of build resources: ConfigChange builds, cancel, cascade delete. */
import type { BuildStatus } from '../core/build-types.js';
import { isTerminal } from '../core/build-phase.js';
import type { Logger } from '../core/logger.js';
import type { KindInfo, Resource } from '../core/resource.js';
import type { BuildQueue } from '../queue/build-queue.js';
import { cancelBuild } from '../queue/cancel.js';
import { BUILD, instantiateBuild, type BuildRequest } from '../queue/instantiate.js';
import { decideConfigChange } from '../triggers/config-change.js';
import type { BuildLogStore } from '../store/build-logs.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { ResourceHooks } from './resources.js';

export interface BuildHookDeps {
  store: ResourceStore;
  queue: BuildQueue;
  logs: BuildLogStore;
  logger: Logger;
  /** How every build is started (run-policy decisions live behind it). */
  instantiate?: (namespace: string, buildConfig: string, request: BuildRequest) => Promise<Resource>;
}

export function buildHooks(deps: BuildHookDeps): ResourceHooks {
  const { store, queue, logs } = deps;
  const instantiate =
    deps.instantiate ??
    ((namespace: string, buildConfig: string, request: BuildRequest) =>
      instantiateBuild({ store, queue, namespace, buildConfig, request }));
  const cancel = (b: Resource): Promise<Resource> =>
    cancelBuild({ store, queue, logs, namespace: b.metadata.namespace!, name: b.metadata.name });

  return {
    async afterCreate(info: KindInfo, obj: Resource) {
      if (info.kind === 'BuildConfig') {
        // OpenShift starts a new BuildConfig's first build when it has a ConfigChange
        // trigger, unless it is created paused. Only the server that stored it gets here.
        const decision = decideConfigChange(obj);
        if (decision.fire) await instantiate(obj.metadata.namespace!, obj.metadata.name, decision.request);
      } else if (info.kind === 'Build') {
        // A Build created directly (not through instantiate) runs like any other.
        const stored = await store.update(BUILD, obj.metadata.namespace!, obj.metadata.name, (cur) => {
          cur.status = { phase: 'New' };
          return cur;
        });
        await queue.enqueue(stored);
      }
    },

    async beforeReplace(info: KindInfo, requested: Resource, toStore: Resource) {
      if (info.kind !== 'Build') return toStore;
      const wantsCancel = (requested.status as BuildStatus | undefined)?.cancelled === true;
      const current = (toStore.status ?? {}) as BuildStatus;
      if (!wantsCancel || current.cancelled || isTerminal(current.phase)) return toStore;
      const after = await cancel(toStore);
      return {
        ...toStore,
        metadata: { ...toStore.metadata, resourceVersion: after.metadata.resourceVersion! },
        status: after.status ?? {},
      };
    },

    async beforeDelete(info: KindInfo, obj: Resource) {
      if (info.kind === 'Build' && !isTerminal((obj.status as BuildStatus | undefined)?.phase))
        await cancel(obj);
    },

    async afterDelete(info: KindInfo, obj: Resource) {
      const ns = obj.metadata.namespace!;
      if (info.kind === 'Build') {
        await logs.deleteLog(ns, obj.metadata.name);
      } else if (info.kind === 'BuildConfig') {
        // OpenShift deletes a BuildConfig's builds with it.
        const builds = await store.list(BUILD, ns, `openshift.io/build-config.name=${obj.metadata.name}`);
        for (const b of builds) {
          if (!isTerminal((b.status as BuildStatus | undefined)?.phase))
            await cancel(b).catch(() => undefined);
          await store.delete(BUILD, ns, b.metadata.name).catch(() => undefined);
          await logs.deleteLog(ns, b.metadata.name);
        }
      }
    },
  };
}
