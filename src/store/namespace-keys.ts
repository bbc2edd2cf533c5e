/**
 * Everything Slipway keeps in Redis about one namespace, in one place: what a project's
 * deletion removes once its objects are gone (docs/access-control.md, "Deleting a
 * project"). Every store that keys data by namespace is listed here; a new one must be
 * added, or deleting a project leaves it behind (test/integration/project-deletion.test.ts
 * scans the whole keyspace for the namespace's name).
 *
 * Keys of their own (`{prefix}:…`, found with SCAN MATCH, never KEYS):
 * - `obj:{type}:{ns}:{name}`, `idx:{type}:{ns}`          resources (resource-store.ts)
 * - `log:{ns}:{build}`, `rollout:log:{ns}:{revision}`   build and rollout logs (build-logs.ts)
 * - `build-fingerprint:{ns}:{fingerprint}`              build avoidance (build-fingerprints.ts)
 * - `binary:{ns}/{uuid}`, `binary-usage:{ns}`           uploads and their quota (binary-store.ts)
 * - `delivery:…:{ns}/{bc}`, `delivery:imagechange:{ns}/…` delivery claims (delivery-claims.ts)
 * - `provenance:pushing:{registry}/{ns}/…`, `provenance:digest:{registry}/{ns}/…` (image-provenance.ts)
 * - `deploy:revision-lease:{ns}/{rc}`, `deploy:steps:{kind}:{ns}/{rc}` (strategies/docker, deployer-steps.ts)
 * - `quota:held:{ns}`, `quota:refused:{ns}`, `usage:build-time:{ns}` quota usage (quotas.ts)
 *
 * Fields of shared hashes and sets:
 * - `ns:{type}` (SET of namespaces), `namespace-targets` (HASH ns → kind)
 * - `bcidx:entries` (HASH `ns/bc` → entry) and `bcidx:repo:*` (SETs of `ns/bc`)
 * - `deploy:replicas` (HASH container id → state naming the namespace), `deploy:draining`
 *   (HASH container id), `deploy:failures` (HASH `ns/rc`)
 *
 * - `token-scope:deployer:{ns}/{dc}:{hash}` with its `token:{hash}`: a Custom deployer's
 *   token (src/api/auth.ts), normally revoked when its rollout ends
 *
 * Not here, because their owners remove them: `{prefix}:projects` (AccessStore) and BullMQ
 * jobs `bull:{queue}:{ns}/…` (src/queue/namespace-jobs.ts, through BullMQ so its lists
 * stay consistent). The fleet's metrics (`metrics:*`) carry no namespace label.
 */
import type { Redis } from 'ioredis';
import { ForbiddenError } from '../core/errors.js';

/** How long a deleted namespace refuses new objects after its deletion began. */
export const DELETED_NAMESPACE_SECONDS = 15 * 60;

const SCAN_COUNT = 1000;

/** `*`, `?`, `[`, `]` and `\` taken literally in a SCAN MATCH pattern. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** The error a write into a namespace being deleted gets, in OpenShift's words. */
export function namespaceTerminatingError(namespace: string): ForbiddenError {
  return new ForbiddenError(
    `unable to create new content in namespace ${namespace} because it is being terminated`,
  );
}

/** The sorted set of namespaces being (or just) deleted: member = namespace, score = until (ms). */
export function deletedNamespacesKey(prefix: string): string {
  return `${prefix}:deleted-namespaces`;
}

export interface PurgeResult {
  /** Keys deleted. */
  keys: number;
  /** Fields and members removed from shared hashes and sets. */
  fields: number;
}

export class RedisNamespaceKeys {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {}

  /**
   * Marks `namespace` deleted for {@link DELETED_NAMESPACE_SECONDS}: the resource store
   * refuses to create objects in it (a build or rollout ending late, a registry
   * notification, a trigger firing) until the mark expires or the project is made again.
   */
  async markDeleted(namespace: string): Promise<void> {
    const key = deletedNamespacesKey(this.prefix);
    const now = Date.now();
    await this.redis
      .multi()
      .zremrangebyscore(key, '-inf', now)
      .zadd(key, now + DELETED_NAMESPACE_SECONDS * 1000, namespace)
      .exec();
  }

  /** Lifts the mark (a project of that name is requested again). */
  async forgetDeleted(namespace: string): Promise<void> {
    await this.redis.zrem(deletedNamespacesKey(this.prefix), namespace);
  }

  private async scan(pattern: string, onKeys: (keys: string[]) => Promise<void>): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      cursor = next;
      if (keys.length > 0) await onKeys(keys);
    } while (cursor !== '0');
  }

  /** Deletes the fields of hash `key` (HSCAN MATCH `match`) that `drop` picks; returns how many. */
  private async hdelWhere(
    key: string,
    match: string,
    drop: (field: string, value: string) => boolean,
  ): Promise<number> {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      cursor = next;
      const fields: string[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) if (drop(flat[i]!, flat[i + 1]!)) fields.push(flat[i]!);
      if (fields.length > 0) removed += await this.redis.hdel(key, ...fields);
    } while (cursor !== '0');
    return removed;
  }

  /**
   * Removes every key and shared entry of `namespace` listed above. Call it after the
   * namespace's builds and rollouts have ended (their last writes would make keys
   * again); safe to repeat.
   */
  async purge(namespace: string): Promise<PurgeResult> {
    const p = this.prefix;
    const ns = globEscape(namespace);
    let keys = 0;
    let fields = 0;
    const del = async (batch: string[]): Promise<void> => {
      keys += await this.redis.del(...batch);
    };
    // Each pattern is checked again on the key itself: `*` matches ':' and '/' too, and a
    // namespace's name may be a suffix of another's.
    const own = (after: string, test: (rest: string) => boolean) => async (batch: string[]) => {
      const mine = batch.filter((k) => k.startsWith(after) && test(k.slice(after.length)));
      if (mine.length > 0) await del(mine);
    };
    const segment = (i: number) => (rest: string) => rest.split(':')[i] === namespace;
    await this.scan(`${p}:obj:*:${ns}:*`, own(`${p}:obj:`, segment(1)));
    await this.scan(`${p}:idx:*:${ns}`, own(`${p}:idx:`, segment(1)));
    await this.scan(`${p}:log:${ns}:*`, own(`${p}:log:`, segment(0)));
    await this.scan(`${p}:rollout:log:${ns}:*`, own(`${p}:rollout:log:`, segment(0)));
    await this.scan(`${p}:build-fingerprint:${ns}:*`, own(`${p}:build-fingerprint:`, segment(0)));
    await this.scan(
      `${p}:binary:${ns}/*`,
      own(`${p}:binary:`, (r) => r.startsWith(`${namespace}/`)),
    );
    await this.scan(`${p}:binary-usage:${ns}`, del);
    await this.scan(`${p}:quota:held:${ns}`, del);
    await this.scan(`${p}:quota:refused:${ns}`, del);
    await this.scan(`${p}:usage:build-time:${ns}`, del);
    // Webhook claims end in `:{ns}/{bc}`; image-change claims start `imagechange:{ns}/`.
    await this.scan(
      `${p}:delivery:*:${ns}/*`,
      own(`${p}:delivery:`, (r) => {
        const last = r.slice(r.lastIndexOf(':') + 1);
        return last.startsWith(`${namespace}/`) || r.startsWith(`imagechange:${namespace}/`);
      }),
    );
    // `{registry}/{ns}/{stream}…`: the registry is `host:port`, without a '/'.
    for (const kind of ['pushing', 'digest'])
      await this.scan(
        `${p}:provenance:${kind}:*/${ns}/*`,
        own(`${p}:provenance:${kind}:`, (r) => r.split('/')[1] === namespace),
      );
    await this.scan(
      `${p}:deploy:revision-lease:${ns}/*`,
      own(`${p}:deploy:revision-lease:`, (r) => r.startsWith(`${namespace}/`)),
    );
    await this.scan(
      `${p}:deploy:steps:*:${ns}/*`,
      own(`${p}:deploy:steps:`, (r) => r.slice(r.lastIndexOf(':') + 1).startsWith(`${namespace}/`)),
    );

    // A token's own key is named by its hash, found through the scope's index key.
    await this.scan(`${p}:token-scope:deployer:${ns}/*`, async (batch) => {
      const mine = batch.filter((k) => k.startsWith(`${p}:token-scope:deployer:${namespace}/`));
      if (mine.length === 0) return;
      await del(mine.map((k) => `${p}:token:${k.slice(k.lastIndexOf(':') + 1)}`));
      await del(mine);
    });

    // Shared sets and hashes.
    await this.scan(`${p}:ns:*`, async (batch) => {
      for (const k of batch) fields += await this.redis.srem(k, namespace);
    });
    fields += await this.redis.hdel(`${p}:namespace-targets`, namespace);
    const bcs: string[] = [];
    fields += await this.hdelWhere(`${p}:bcidx:entries`, `${ns}/*`, (field) => {
      bcs.push(field);
      return true;
    });
    if (bcs.length > 0)
      await this.scan(`${p}:bcidx:repo:*`, async (batch) => {
        for (const k of batch) fields += await this.redis.srem(k, ...bcs);
      });
    const replicas: string[] = [];
    fields += await this.hdelWhere(`${p}:deploy:replicas`, '*', (id, json) => {
      try {
        if ((JSON.parse(json) as { namespace?: unknown }).namespace !== namespace) return false;
      } catch {
        return false;
      }
      replicas.push(id);
      return true;
    });
    if (replicas.length > 0) fields += await this.redis.hdel(`${p}:deploy:draining`, ...replicas);
    fields += await this.hdelWhere(`${p}:deploy:failures`, `${ns}/*`, () => true);
    return { keys, fields };
  }
}
