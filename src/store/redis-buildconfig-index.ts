/**
 * The BuildConfig-by-repository index in Redis, shared by every server:
 *
 * - `{prefix}:bcidx:repo:{repository key}`: a SET of `namespace/name`, one per repository;
 * - `{prefix}:bcidx:entries`: a HASH `namespace/name` → `rv|deleted|repository key`,
 *   so a change can leave its old repository's set and a stale event can be refused.
 *
 * Each change is one Lua script (compare resourceVersions, move between sets), so
 * servers applying the same watch events in different interleavings converge. The
 * script names repository-set keys it computes itself: fine on one Redis, not on a
 * Redis Cluster (where the sets would need a hash tag).
 */
import type { Redis } from 'ioredis';
import type { Resource } from '../core/resource.js';
import {
  indexKey,
  parseIndexKey,
  repositoryKeyOf,
  repositoryKeys,
  resourceVersionOf,
  type BuildConfigIndex,
} from '../triggers/buildconfig-index.js';
import type { ObjectKey } from '../triggers/types.js';

// KEYS[1] entries hash. ARGV: repo-set key prefix, object key, rv, deleted (0|1), repository key.
const APPLY = `
local cur = redis.call('HGET', KEYS[1], ARGV[2])
local rv = tonumber(ARGV[3])
local del = ARGV[4] == '1'
if cur then
  local bar = string.find(cur, '|', 1, true)
  local crv = tonumber(string.sub(cur, 1, bar - 1))
  local cdel = string.sub(cur, bar + 1, bar + 1) == '1'
  local crepo = string.sub(cur, bar + 3)
  if rv < crv then return 0 end
  if rv == crv and ((not del) or cdel) then return 0 end
  if (not cdel) and crepo ~= '' then redis.call('SREM', ARGV[1] .. crepo, ARGV[2]) end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. '|' .. ARGV[4] .. '|' .. ARGV[5])
if (not del) and ARGV[5] ~= '' then redis.call('SADD', ARGV[1] .. ARGV[5], ARGV[2]) end
return 1
`;

// KEYS[1] entries hash. ARGV: repo-set key prefix, object key, the entry value the sweep read.
// Drops an entry only if nothing changed it since it was read.
const SWEEP = `
local cur = redis.call('HGET', KEYS[1], ARGV[2])
if cur ~= ARGV[3] then return 0 end
local bar = string.find(cur, '|', 1, true)
local cdel = string.sub(cur, bar + 1, bar + 1) == '1'
local crepo = string.sub(cur, bar + 3)
if (not cdel) and crepo ~= '' then redis.call('SREM', ARGV[1] .. crepo, ARGV[2]) end
redis.call('HDEL', KEYS[1], ARGV[2])
return 1
`;

type ScriptFn = (...args: (string | number)[]) => Promise<number>;

/** Repositories whose set keys lookup remembers (a few MB at most). */
const SET_KEYS_CACHED = 10_000;
const MAX_CACHED_KEY_CHARS = 2048;

/** How many changes one pipeline round trip carries during a rebuild. */
const REBUILD_BATCH = 500;

export class RedisBuildConfigIndex implements BuildConfigIndex {
  private readonly entriesKey: string;
  private readonly repoPrefix: string;
  private readonly setKeys = new Map<string, string[]>();

  constructor(
    private readonly redis: Redis,
    prefix = 'slipway',
  ) {
    this.entriesKey = `${prefix}:bcidx:entries`;
    this.repoPrefix = `${prefix}:bcidx:repo:`;
    // defineCommand sends EVALSHA and falls back to EVAL after a Redis restart (NOSCRIPT).
    redis.defineCommand('slipwayBcIndexApply', { numberOfKeys: 1, lua: APPLY });
    redis.defineCommand('slipwayBcIndexSweep', { numberOfKeys: 1, lua: SWEEP });
  }

  private script(target: Redis | ReturnType<Redis['pipeline']>, name: string): ScriptFn {
    const fn = (target as unknown as Record<string, ScriptFn>)[name];
    if (typeof fn !== 'function') throw new Error(`Redis script ${name} is not defined on this connection`);
    return fn.bind(target);
  }

  /**
   * The Redis keys of a push's repository URLs. Normalising them (git-uri.ts parses each
   * with WHATWG URL) cost as much as the rest of a lookup, and an org's pushes name the
   * same repositories again and again: remembered, up to a bound.
   */
  repositorySetKeys(repoUrls: readonly string[]): string[] {
    const cacheKey = JSON.stringify(repoUrls);
    let keys = this.setKeys.get(cacheKey);
    if (keys === undefined) {
      keys = repositoryKeys(repoUrls).map((r) => this.repoPrefix + r);
      // Payloads are hostile: a URL longer than any real one is normalised every time.
      if (cacheKey.length <= MAX_CACHED_KEY_CHARS) {
        if (this.setKeys.size >= SET_KEYS_CACHED) this.setKeys.clear();
        this.setKeys.set(cacheKey, keys);
      }
    }
    return keys;
  }

  async lookup(repoUrls: readonly string[]): Promise<ObjectKey[]> {
    const keys = this.repositorySetKeys(repoUrls);
    if (keys.length === 0) return [];
    const members =
      keys.length === 1 ? await this.redis.smembers(keys[0]!) : await this.redis.sunion(...keys);
    return members.sort().map(parseIndexKey);
  }

  private applyArgs(bc: Resource, deleted: boolean): (string | number)[] {
    return [
      this.entriesKey,
      this.repoPrefix,
      indexKey(bc),
      resourceVersionOf(bc),
      deleted ? '1' : '0',
      deleted ? '' : repositoryKeyOf(bc),
    ];
  }

  async upsert(buildConfig: Resource): Promise<void> {
    await this.script(this.redis, 'slipwayBcIndexApply')(...this.applyArgs(buildConfig, false));
  }

  async remove(buildConfig: Resource): Promise<void> {
    await this.script(this.redis, 'slipwayBcIndexApply')(...this.applyArgs(buildConfig, true));
  }

  async rebuild(buildConfigs: readonly Resource[]): Promise<void> {
    const listed = new Set<string>();
    let listRv = 0;
    for (let i = 0; i < buildConfigs.length; i += REBUILD_BATCH) {
      const pipeline = this.redis.pipeline();
      const apply = this.script(pipeline, 'slipwayBcIndexApply');
      for (const bc of buildConfigs.slice(i, i + REBUILD_BATCH)) {
        listed.add(indexKey(bc));
        listRv = Math.max(listRv, resourceVersionOf(bc));
        void apply(...this.applyArgs(bc, false));
      }
      await execOrThrow(pipeline);
    }
    // Sweep entries the listing does not contain and that are not newer than it: they
    // were deleted before the listing was taken (or are tombstones no longer needed).
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.entriesKey, cursor, 'COUNT', 1000);
      cursor = next;
      const pipeline = this.redis.pipeline();
      const sweep = this.script(pipeline, 'slipwayBcIndexSweep');
      let queued = 0;
      for (let j = 0; j + 1 < flat.length; j += 2) {
        const key = flat[j]!;
        const value = flat[j + 1]!;
        const rv = Number(value.slice(0, value.indexOf('|')));
        if (listed.has(key) || rv > listRv) continue;
        void sweep(this.entriesKey, this.repoPrefix, key, value);
        queued++;
      }
      if (queued > 0) await execOrThrow(pipeline);
    } while (cursor !== '0');
  }
}

async function execOrThrow(pipeline: ReturnType<Redis['pipeline']>): Promise<void> {
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed)
    throw new Error(`BuildConfig index update failed in Redis: ${String(failed[0])}`, { cause: failed[0] });
}
