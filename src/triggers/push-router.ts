/**
 * The org/App endpoint's routing step: index lookup → the candidate BuildConfigs →
 * routePush's decision. Reads only the candidates, never every BuildConfig.
 */
import type { Resource } from '../core/resource.js';
import type { BuildConfigIndex } from './buildconfig-index.js';
import { routePush, type RoutedBuild, type SkippedBuildConfig } from './push-decision.js';
import type { ObjectKey, PushEvent } from './types.js';

export interface PushRouting {
  builds: RoutedBuild[];
  skipped: SkippedBuildConfig[];
  /** How many BuildConfigs the index named for the repository. */
  candidates: number;
}

/**
 * The builds a push starts: one per BuildConfig whose git URI names the pushed
 * repository (any URL form), that has a trigger of the push's type, and whose ref and
 * paths match. A candidate deleted since it was indexed is skipped.
 */
export async function findBuildsForPush(input: {
  push: PushEvent;
  index: BuildConfigIndex;
  getBuildConfig(namespace: string, name: string): Promise<Resource | undefined>;
}): Promise<PushRouting> {
  const candidates = await input.index.lookup(input.push.repoUrls);
  return routeCandidates({ push: input.push, candidates, getBuildConfig: input.getBuildConfig });
}

/** The routing step after the lookup: the candidates the index named, read and decided. */
export async function routeCandidates(input: {
  push: PushEvent;
  candidates: readonly ObjectKey[];
  getBuildConfig(namespace: string, name: string): Promise<Resource | undefined>;
}): Promise<PushRouting> {
  const keys = input.candidates;
  // Most of an org's pushes name a repository no BuildConfig uses: routePush would only
  // normalise the push's URLs again (a WHATWG URL parse each) to decide nothing.
  if (keys.length === 0) return { builds: [], skipped: [], candidates: 0 };
  const loaded = await Promise.all(
    keys.map(async (k) => ({ key: k, bc: await input.getBuildConfig(k.namespace, k.name) })),
  );
  const present = loaded.filter((l): l is { key: ObjectKey; bc: Resource } => l.bc !== undefined);
  const routed = routePush({ push: input.push, buildConfigs: present.map((l) => l.bc) });
  const gone = loaded
    .filter((l) => l.bc === undefined)
    .map((l) => ({ buildConfig: l.key, reason: 'it was deleted' }));
  return { builds: routed.builds, skipped: [...routed.skipped, ...gone], candidates: keys.length };
}
