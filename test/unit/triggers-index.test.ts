/**
 * The BuildConfig-by-repository index, in memory and in a real Redis (started by
 * test/support/stack.ts), including the 10,000-BuildConfig lookup figure.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { lookupKind, type Resource } from '../../src/core/resource.js';
import { RedisResourceStore } from '../../src/store/resource-store.js';
import {
  MemoryBuildConfigIndex,
  startBuildConfigIndexing,
  type BuildConfigIndex,
} from '../../src/triggers/buildconfig-index.js';
import { normalizeGitUri } from '../../src/triggers/git-uri.js';
import { RedisBuildConfigIndex } from '../../src/store/redis-buildconfig-index.js';
import { startRedis, waitFor, type RedisHandle } from '../support/stack.js';

const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;

let redisHandle: RedisHandle;
let redis: Redis;

beforeAll(async () => {
  redisHandle = await startRedis();
  redis = new Redis(redisHandle.url);
});

afterAll(async () => {
  redis.disconnect();
  await redisHandle.stop();
});

function bc(namespace: string, name: string, uri: string | undefined, rv: number): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace, resourceVersion: String(rv) },
    spec: {
      source: uri === undefined ? { type: 'Binary' } : { type: 'Git', git: { uri } },
      strategy: { type: 'Docker' },
      triggers: [{ type: 'GitHub', github: { secret: 's' } }],
    },
  };
}

const implementations: [string, () => BuildConfigIndex][] = [
  ['memory', () => new MemoryBuildConfigIndex()],
  ['redis', () => new RedisBuildConfigIndex(redis, `t-${randomUUID()}`)],
];

describe.each(implementations)('%s index', (_label, make) => {
  it('finds a BuildConfig by any URL form of its repository', async () => {
    const index = make();
    await index.upsert(bc('a', 'web', 'git@github.com:Octo/App.git', 1));
    await index.upsert(bc('b', 'api', 'https://github.com/octo/app', 2));
    await index.upsert(bc('b', 'other', 'https://github.com/octo/other', 3));
    await index.upsert(bc('b', 'binary', undefined, 4));
    const hits = await index.lookup(['https://github.com/Octo/App.git', 'git://github.com/Octo/App.git']);
    expect(hits).toEqual([
      { namespace: 'a', name: 'web' },
      { namespace: 'b', name: 'api' },
    ]);
    expect(await index.lookup(['https://gitlab.com/octo/app'])).toEqual([]);
    expect(await index.lookup([])).toEqual([]);
  });

  it('moves a BuildConfig whose URI changed and drops a deleted one', async () => {
    const index = make();
    await index.upsert(bc('a', 'web', 'https://github.com/o/one', 5));
    await index.upsert(bc('a', 'web', 'https://github.com/o/two', 6));
    expect(await index.lookup(['https://github.com/o/one'])).toEqual([]);
    expect(await index.lookup(['https://github.com/o/two'])).toEqual([{ namespace: 'a', name: 'web' }]);
    await index.remove(bc('a', 'web', 'https://github.com/o/two', 6));
    expect(await index.lookup(['https://github.com/o/two'])).toEqual([]);
  });

  it('refuses stale events: an older version, or an update at the version it was deleted at', async () => {
    const index = make();
    await index.upsert(bc('a', 'web', 'https://github.com/o/new', 10));
    await index.upsert(bc('a', 'web', 'https://github.com/o/old', 9));
    expect(await index.lookup(['https://github.com/o/new'])).toHaveLength(1);
    expect(await index.lookup(['https://github.com/o/old'])).toHaveLength(0);
    await index.remove(bc('a', 'web', 'https://github.com/o/new', 10));
    await index.upsert(bc('a', 'web', 'https://github.com/o/new', 10)); // late duplicate of the last update
    expect(await index.lookup(['https://github.com/o/new'])).toHaveLength(0);
    await index.upsert(bc('a', 'web', 'https://github.com/o/new', 11)); // re-created
    expect(await index.lookup(['https://github.com/o/new'])).toHaveLength(1);
  });

  it('rebuilds from a listing, keeping changes newer than the listing', async () => {
    const index = make();
    await index.upsert(bc('a', 'gone', 'https://github.com/o/r', 3));
    await index.upsert(bc('a', 'newer', 'https://github.com/o/r', 50));
    await index.rebuild([
      bc('a', 'kept', 'https://github.com/o/r', 20),
      bc('a', 'also', 'https://github.com/o/s', 21),
    ]);
    expect(await index.lookup(['https://github.com/o/r'])).toEqual([
      { namespace: 'a', name: 'kept' },
      { namespace: 'a', name: 'newer' },
    ]);
    expect(await index.lookup(['https://github.com/o/s'])).toEqual([{ namespace: 'a', name: 'also' }]);
  });
});

describe('indexing from the store', () => {
  it('follows creates, URI changes and deletes through ResourceStore.watch', async () => {
    const prefix = `t-${randomUUID()}`;
    const store = new RedisResourceStore(redis, prefix);
    // Created before indexing starts: must come in through the initial listing.
    await store.create(BUILD_CONFIG, bc('ns1', 'before', 'https://github.com/o/watched', 0));
    const index = new RedisBuildConfigIndex(redis, prefix);
    const stop = await startBuildConfigIndexing({ store, index, buildConfigKind: BUILD_CONFIG });
    try {
      const url = ['git@github.com:o/watched.git'];
      expect(await index.lookup(url)).toEqual([{ namespace: 'ns1', name: 'before' }]);
      await store.create(BUILD_CONFIG, bc('ns1', 'after', 'https://github.com/o/watched.git', 0));
      await waitFor('the created BuildConfig', async () => (await index.lookup(url)).length === 2, 5000, 20);
      await store.update(BUILD_CONFIG, 'ns1', 'before', (cur) => {
        (cur.spec as { source: { git: { uri: string } } }).source.git.uri = 'https://github.com/o/elsewhere';
        return cur;
      });
      await waitFor(
        'the moved BuildConfig',
        async () => (await index.lookup(['https://github.com/o/elsewhere'])).length === 1,
        5000,
        20,
      );
      expect(await index.lookup(url)).toEqual([{ namespace: 'ns1', name: 'after' }]);
      await store.delete(BUILD_CONFIG, 'ns1', 'after');
      await waitFor('the deleted BuildConfig', async () => (await index.lookup(url)).length === 0, 5000, 20);
    } finally {
      await stop();
    }
  });
});

describe('indexing skips changes that leave the repository as it was', () => {
  it('writes nothing for a status change, and still follows a move away and back, and a delete and re-create', async () => {
    const prefix = `t-${randomUUID()}`;
    const store = new RedisResourceStore(redis, prefix);
    const index = new RedisBuildConfigIndex(redis, prefix);
    const stop = await startBuildConfigIndexing({ store, index, buildConfigKind: BUILD_CONFIG });
    const entry = (): Promise<string | null> => redis.hget(`${prefix}:bcidx:entries`, 'ns1/web');
    const setUri = (uri: string) =>
      store.update(BUILD_CONFIG, 'ns1', 'web', (cur) => {
        (cur.spec as { source: { git: { uri: string } } }).source.git.uri = uri;
        return cur;
      });
    const names = async (url: string) => (await index.lookup([url])).map((k) => k.name);
    try {
      await store.create(BUILD_CONFIG, bc('ns1', 'web', 'https://github.com/o/a', 0));
      await waitFor(
        'the created BuildConfig',
        async () => (await names('https://github.com/o/a')).length === 1,
        5000,
        20,
      );
      const written = await entry();
      // Builds bump status.lastVersion: the index entry keeps the resourceVersion it was written at.
      for (let v = 1; v <= 3; v++)
        await store.update(BUILD_CONFIG, 'ns1', 'web', (cur) => ({ ...cur, status: { lastVersion: v } }));
      await store.create(BUILD_CONFIG, bc('ns1', 'marker', 'https://github.com/o/marker', 0));
      await waitFor(
        'a later change',
        async () => (await names('https://github.com/o/marker')).length === 1,
        5000,
        20,
      );
      expect(await entry()).toBe(written);

      await setUri('https://github.com/o/b');
      await waitFor(
        'the move to b',
        async () => (await names('https://github.com/o/b')).length === 1,
        5000,
        20,
      );
      await setUri('https://github.com/o/a');
      await waitFor(
        'the move back to a',
        async () => (await names('https://github.com/o/a')).length === 1,
        5000,
        20,
      );
      expect(await names('https://github.com/o/b')).toEqual([]);

      await store.delete(BUILD_CONFIG, 'ns1', 'web');
      await waitFor('the delete', async () => (await names('https://github.com/o/a')).length === 0, 5000, 20);
      await store.create(BUILD_CONFIG, bc('ns1', 'web', 'https://github.com/o/a', 0));
      await waitFor(
        'the re-create',
        async () => (await names('https://github.com/o/a')).length === 1,
        5000,
        20,
      );
    } finally {
      await stop();
    }
  });
});

describe('10,000 BuildConfigs', () => {
  const N = 10_000;
  const REPOS = 2_000; // five BuildConfigs per repository
  const configs = Array.from({ length: N }, (_, i) =>
    bc(
      `ns${i % 50}`,
      `bc-${i}`,
      i % 2
        ? `https://github.com/org${i % REPOS}/repo${i % REPOS}.git`
        : `git@github.com:org${i % REPOS}/repo${i % REPOS}`,
      i + 1,
    ),
  );
  const probes = Array.from({ length: 200 }, (_, i) => {
    const r = (i * 7919) % REPOS;
    return {
      urls: [`https://github.com/org${r}/repo${r}.git`, `git@github.com:org${r}/repo${r}.git`],
      repo: r,
    };
  });

  function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  }

  async function measure(
    lookup: (urls: string[]) => Promise<unknown[]> | unknown[],
    count = probes.length,
  ): Promise<number> {
    const times: number[] = [];
    for (const p of probes.slice(0, count)) {
      const t0 = performance.now();
      const hits = await lookup(p.urls);
      times.push(performance.now() - t0);
      expect(hits).toHaveLength(5);
    }
    return median(times);
  }

  it('looks up by index, not by scan (figures printed)', async () => {
    const memory = new MemoryBuildConfigIndex();
    await memory.rebuild(configs);
    const redisIndex = new RedisBuildConfigIndex(redis, `t-${randomUUID()}`);
    const t0 = performance.now();
    await redisIndex.rebuild(configs);
    const rebuildMs = performance.now() - t0;

    // What the index replaces: normalising every BuildConfig's URI on every push.
    const scan = (urls: string[]): Resource[] => {
      const keys = new Set(urls.map(normalizeGitUri));
      return configs.filter((c) =>
        keys.has(normalizeGitUri((c.spec as { source: { git: { uri: string } } }).source.git.uri)),
      );
    };

    const memoryMs = await measure((urls) => memory.lookup(urls));
    const redisMs = await measure((urls) => redisIndex.lookup(urls));
    const scanMs = await measure(scan, 20); // ~40 ms each: 20 are enough for a median
    process.stdout.write(
      `\n10,000 BuildConfigs / 2,000 repositories, median of ${probes.length} lookups:\n` +
        `  memory index ${memoryMs.toFixed(3)} ms, redis index ${redisMs.toFixed(3)} ms, scan ${scanMs.toFixed(3)} ms ` +
        `(scan/redis ${(scanMs / redisMs).toFixed(0)}x); redis rebuild ${rebuildMs.toFixed(0)} ms\n`,
    );
    expect(memoryMs * 10).toBeLessThan(scanMs);
    expect(redisMs).toBeLessThan(scanMs);
  });
});
