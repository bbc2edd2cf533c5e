/**
 * Build history pruning, OpenShift's `successfulBuildsHistoryLimit` and
 * `failedBuildsHistoryLimit` (both 5 when unset, as build.openshift.io/v1 defaults them):
 * once a build ends, the oldest ended builds of its BuildConfig beyond the limits are
 * deleted with their logs.
 */
import type { BuildConfigSpec, BuildStatus } from '../core/build-types.js';
import type { Resource } from '../core/resource.js';
import type { BuildLogStore } from '../store/build-logs.js';
import type { ResourceStore } from '../store/resource-store.js';
import { BUILD, BUILD_CONFIG } from './instantiate.js';

export const DEFAULT_HISTORY_LIMIT = 5;

function number(b: Resource): number {
  return Number(b.metadata.annotations?.['openshift.io/build.number'] ?? 0);
}

/** Pure: the names of the builds to delete, oldest first. Running builds are never pruned. */
export function buildsToPrune(builds: Resource[], limits: { successful: number; failed: number }): string[] {
  const ended = [...builds].sort((a, b) => number(b) - number(a));
  const ok = ended.filter((b) => (b.status as BuildStatus | undefined)?.phase === 'Complete');
  const bad = ended.filter((b) =>
    ['Failed', 'Error', 'Cancelled'].includes((b.status as BuildStatus | undefined)?.phase ?? ''),
  );
  return [...ok.slice(limits.successful), ...bad.slice(limits.failed)]
    .sort((a, b) => number(a) - number(b))
    .map((b) => b.metadata.name);
}

export async function pruneBuildHistory(options: {
  store: ResourceStore;
  logs: BuildLogStore;
  namespace: string;
  buildConfig: string;
}): Promise<string[]> {
  const { store, logs, namespace, buildConfig } = options;
  const bc = await store.get(BUILD_CONFIG, namespace, buildConfig);
  if (!bc) return [];
  const spec = bc.spec as BuildConfigSpec;
  const builds = await store.list(BUILD, namespace, `openshift.io/build-config.name=${buildConfig}`);
  const names = buildsToPrune(builds, {
    successful: spec.successfulBuildsHistoryLimit ?? DEFAULT_HISTORY_LIMIT,
    failed: spec.failedBuildsHistoryLimit ?? DEFAULT_HISTORY_LIMIT,
  });
  for (const name of names) {
    await store.delete(BUILD, namespace, name).catch(() => undefined);
    await logs.deleteLog(namespace, name);
  }
  return names;
}
