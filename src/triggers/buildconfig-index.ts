/**
 * BuildConfigs by repository: the org/App endpoint finds the BuildConfigs a push may
 * build by looking up the repository's canonical URL (git-uri.ts), not by reading every
 * BuildConfig. Two implementations share one interface: MemoryBuildConfigIndex (one
 * process, tests) and RedisBuildConfigIndex (servers sharing one Redis).
 *
 * Both apply changes by resourceVersion, so an event that arrives late (a watch message
 * overtaken by a full rebuild, or by the same event handled on another server) never
 * undoes a newer one, and a deletion is remembered until the next rebuild so a stale
 * update cannot bring the entry back.
 */
import type { BuildConfigSpec } from '../core/build-types.js';
import type { KindInfo, Resource } from '../core/resource.js';
import type { ResourceStore, WatchEvent } from '../store/resource-store.js';
import { normalizeGitUri } from './git-uri.js';
import type { ObjectKey } from './types.js';

export interface BuildConfigIndex {
  /** The BuildConfigs whose `spec.source.git.uri` names any of these repository URLs (any form). */
  lookup(repoUrls: readonly string[]): Promise<ObjectKey[]>;
  /** Applies a created or changed BuildConfig. */
  upsert(buildConfig: Resource): Promise<void>;
  /** Applies a deleted BuildConfig (the object as it was when deleted). */
  remove(buildConfig: Resource): Promise<void>;
  /** Replaces the index with a full listing of BuildConfigs, keeping changes newer than the listing. */
  rebuild(buildConfigs: readonly Resource[]): Promise<void>;
}

/** What the index keeps per BuildConfig: its repository key at a resourceVersion, or a deletion. */
export interface IndexEntry {
  rv: number;
  /** Normalised repository; '' when the BuildConfig has no git source. */
  repo: string;
  deleted: boolean;
}

export function indexKey(obj: Resource): string {
  return `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`;
}

export function parseIndexKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function resourceVersionOf(obj: Resource): number {
  const rv = Number(obj.metadata.resourceVersion);
  return Number.isFinite(rv) ? rv : 0;
}

export function repositoryKeyOf(obj: Resource): string {
  const uri = (obj.spec as Partial<BuildConfigSpec> | undefined)?.source?.git?.uri;
  return (uri === undefined ? undefined : normalizeGitUri(uri)) ?? '';
}

/**
 * Whether `incoming` should replace `current`. Newer resourceVersions win; at the same
 * version a deletion wins, because this store's DELETED event carries the object's
 * last resourceVersion.
 */
export function supersedes(
  incoming: Pick<IndexEntry, 'rv' | 'deleted'>,
  current: IndexEntry | undefined,
): boolean {
  if (!current) return true;
  if (incoming.rv !== current.rv) return incoming.rv > current.rv;
  return incoming.deleted && !current.deleted;
}

/** Repository keys for a set of URLs, de-duplicated, unparseable ones dropped. */
export function repositoryKeys(repoUrls: readonly string[]): string[] {
  return [...new Set(repoUrls.map(normalizeGitUri).filter((k): k is string => k !== undefined))];
}

/** The in-memory index: a Map per repository key. Pure, synchronous underneath. */
export class MemoryBuildConfigIndex implements BuildConfigIndex {
  private readonly byRepo = new Map<string, Set<string>>();
  private readonly entries = new Map<string, IndexEntry>();

  lookupSync(repoUrls: readonly string[]): ObjectKey[] {
    const out = new Set<string>();
    for (const repo of repositoryKeys(repoUrls)) for (const k of this.byRepo.get(repo) ?? []) out.add(k);
    return [...out].sort().map(parseIndexKey);
  }

  async lookup(repoUrls: readonly string[]): Promise<ObjectKey[]> {
    return this.lookupSync(repoUrls);
  }

  private apply(key: string, next: IndexEntry): void {
    if (!supersedes(next, this.entries.get(key))) return;
    const prev = this.entries.get(key);
    if (prev && prev.repo !== '' && !prev.deleted) {
      const set = this.byRepo.get(prev.repo);
      set?.delete(key);
      if (set?.size === 0) this.byRepo.delete(prev.repo);
    }
    this.entries.set(key, next);
    if (!next.deleted && next.repo !== '') {
      let set = this.byRepo.get(next.repo);
      if (!set) this.byRepo.set(next.repo, (set = new Set()));
      set.add(key);
    }
  }

  upsertSync(buildConfig: Resource): void {
    this.apply(indexKey(buildConfig), {
      rv: resourceVersionOf(buildConfig),
      repo: repositoryKeyOf(buildConfig),
      deleted: false,
    });
  }

  removeSync(buildConfig: Resource): void {
    this.apply(indexKey(buildConfig), { rv: resourceVersionOf(buildConfig), repo: '', deleted: true });
  }

  async upsert(buildConfig: Resource): Promise<void> {
    this.upsertSync(buildConfig);
  }

  async remove(buildConfig: Resource): Promise<void> {
    this.removeSync(buildConfig);
  }

  rebuildSync(buildConfigs: readonly Resource[]): void {
    const listed = new Set<string>();
    let listRv = 0;
    for (const bc of buildConfigs) {
      listed.add(indexKey(bc));
      listRv = Math.max(listRv, resourceVersionOf(bc));
      this.upsertSync(bc);
    }
    // Absent from the listing and not newer than it: deleted before the listing was taken.
    for (const [key, entry] of [...this.entries]) {
      if (listed.has(key) || entry.rv > listRv) continue;
      if (!entry.deleted) this.apply(key, { rv: entry.rv, repo: '', deleted: true });
      this.entries.delete(key);
    }
  }

  async rebuild(buildConfigs: readonly Resource[]): Promise<void> {
    this.rebuildSync(buildConfigs);
  }

  /** Number of BuildConfigs indexed under a repository (tests, metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.byRepo.values()) n += set.size;
    return n;
  }
}

/**
 * Keeps an index current from a ResourceStore: subscribes to changes first, then lists
 * every BuildConfig and rebuilds, so no change made between the two is lost. Returns a
 * function that stops watching. Call again (or `index.rebuild`) after a Redis outage:
 * pub/sub does not replay messages missed while disconnected.
 */
export async function startBuildConfigIndexing(options: {
  store: ResourceStore;
  index: BuildConfigIndex;
  buildConfigKind: KindInfo;
  onError?: (err: unknown) => void;
}): Promise<() => Promise<void>> {
  const { store, index, buildConfigKind } = options;
  const onError = options.onError ?? (() => undefined);
  // The repository this process last applied for each BuildConfig. Every build started
  // bumps its BuildConfig's status.lastVersion, and every server hears that change: one
  // that leaves the repository as it was needs no write. Only this process's own writes
  // are skipped by it; every server hears every change, so what is remembered is the
  // newest change, whoever applied it to Redis.
  const applied = new Map<string, string>();
  const stop = await store.watch((event: WatchEvent, info: KindInfo) => {
    if (info.kind !== buildConfigKind.kind || info.group !== buildConfigKind.group) return;
    const key = indexKey(event.object);
    if (event.type === 'DELETED') {
      applied.delete(key);
      index.remove(event.object).catch(onError);
      return;
    }
    const repo = repositoryKeyOf(event.object);
    if (event.type === 'MODIFIED' && applied.get(key) === repo) return;
    applied.set(key, repo);
    index.upsert(event.object).catch((err: unknown) => {
      if (applied.get(key) === repo) applied.delete(key);
      onError(err);
    });
  });
  try {
    const listed = await store.list(buildConfigKind);
    await index.rebuild(listed);
    // A change heard while listing is newer than the listing, or its own event is still
    // to come and will differ from what is remembered: the listing fills in the rest only.
    for (const bc of listed) if (!applied.has(indexKey(bc))) applied.set(indexKey(bc), repositoryKeyOf(bc));
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}
