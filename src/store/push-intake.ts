/**
 * How the org/App endpoint takes in a push: claim the delivery
 * (src/store/delivery-claims.ts), find the BuildConfigs that use its repository (the
 * BuildConfig index) and, when there are any, record the push in the push inbox
 * (src/store/push-inbox.ts), where a worker routes it to builds
 * (src/webhooks/push-routing.ts). On one Redis the three are one script, and the answer
 * is sent only once the delivery is durable.
 *
 * What is recorded is the endpoint's reading of the push (a PushRecord, about 0.6 KB),
 * not the 7.7 KB payload: copying payloads into Redis cost more than everything else the
 * endpoint does (docs/webhooks.md, "The ingest path"). Reading a push costs a parse, and
 * most of an org's pushes name a repository no BuildConfig uses, so a push goes to Redis
 * with its record only when its repository was found used before (`expectsUse`, a hint
 * each process learns from Redis' answers); otherwise it goes without, and when Redis
 * then finds BuildConfigs it answers `used` without claiming anything, and the caller
 * reads the push and sends it again with the record. The hint decides only how many
 * round trips a push takes, never its outcome: Redis decides that, for the whole fleet.
 *
 * Deliveries that arrive together share the command (a group commit): every `accept`
 * made in one turn of the event loop joins one script call, which handles each delivery
 * in order and answers each its own result. Under load the per-command cost on both sides
 * of the connection is paid once per batch, not once per delivery; a lone delivery waits
 * for nothing but the end of the current turn.
 *
 * `memoryPushIntake` does the same over any claims and index and keeps what it records
 * in an array: for tests of the delivery logic without Redis.
 */
import type { Redis } from 'ioredis';
import { parseIndexKey, type BuildConfigIndex } from '../triggers/buildconfig-index.js';
import type { ObjectKey } from '../triggers/types.js';
import {
  checkClaim,
  DEFAULT_DELIVERY_TTL_SECONDS,
  deliveryClaimKey,
  type DeliveryClaims,
} from './delivery-claims.js';
import { pushInboxKey, type PushRecord } from './push-inbox.js';
import type { RedisBuildConfigIndex } from './redis-buildconfig-index.js';

/** A verified push, as the endpoint takes it in. */
export interface IncomingPush {
  /** The claim's id: `github:{X-GitHub-Delivery}`. */
  deliveryId: string;
  /** The repository's URLs, to look up. */
  repoUrls: readonly string[];
  /** What to record when a BuildConfig uses the repository; without it, nothing is. */
  record?: PushRecord;
}

export type PushIntakeResult =
  /** Taken in before (a redelivery): nothing was done. */
  | { state: 'duplicate' }
  /** No BuildConfig uses the repository: the delivery is claimed, nothing recorded. */
  | { state: 'unused' }
  /** These BuildConfigs (sorted) use the repository; the push was claimed and recorded. */
  | { state: 'recorded'; candidates: ObjectKey[] }
  /** These BuildConfigs use it and no record came: nothing was claimed; accept it again with one. */
  | { state: 'used'; candidates: ObjectKey[] };

export interface PushIntake {
  accept(push: IncomingPush): Promise<PushIntakeResult>;
  /** Whether a push of these URLs is likely to be used: if so, accept it with its record at once. */
  expectsUse(repoUrls: readonly string[]): boolean;
}

// KEYS[1] the inbox stream; then, for each delivery, its claim's key and its repository
// sets. ARGV[1] the claims' value, ARGV[2] their TTL in seconds; then, for each delivery,
// how many repository sets follow its claim key, its id and its record ('' for none).
// Returns, per delivery in order: false when its claim is taken; else the union of its
// sets, claimed when that is empty or a record came (and then the record added to the
// inbox), left unclaimed otherwise. In order: two deliveries with one id in one batch
// give the first the claim, as two separate calls would.
const ACCEPT_BATCH = `
local out = {}
local k = 2
local n = 0
for i = 3, #ARGV, 3 do
  n = n + 1
  local sets = tonumber(ARGV[i])
  local claim = KEYS[k]
  if redis.call('EXISTS', claim) == 1 then
    out[n] = false
  else
    local found = {}
    if sets > 0 then found = redis.call('SUNION', unpack(KEYS, k + 1, k + sets)) end
    if #found > 0 and ARGV[i + 2] == '' then
      out[n] = found
    else
      redis.call('SET', claim, ARGV[1], 'EX', ARGV[2])
      if #found > 0 then
        redis.call('XADD', KEYS[1], '*', 'delivery', ARGV[i + 1], 'push', ARGV[i + 2])
      end
      out[n] = {found}
    end
  end
  k = k + 1 + sets
end
return out
`;

/** Deliveries in one script call at most: bounds the call's size and Redis' time in it. */
export const MAX_INTAKE_BATCH = 128;

/** Repositories `expectsUse` remembers as used, at most (the oldest forgotten first). */
const USED_REMEMBERED = 10_000;

/**
 * Calls made in one turn of the event loop, sent as one: `send` gets them in order and
 * answers each, in the same order. At most MAX_INTAKE_BATCH a call.
 */
class GroupCommit<I, R> {
  private waiting: { item: I; resolve(r: R): void; reject(err: unknown): void }[] = [];

  constructor(private readonly send: (items: I[]) => Promise<R[]>) {}

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => this.flush());
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length >= MAX_INTAKE_BATCH) this.flush();
    });
  }

  private flush(): void {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    this.send(batch.map((w) => w.item)).then(
      (results) => batch.forEach((w, i) => w.resolve(results[i]!)),
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}

type Reply = (string[] | [string[]] | null)[];
type BatchFn = (...args: (string | number)[]) => Promise<Reply>;

/** Which repositories were last found used, keyed by their index sets; bounded, oldest out first. */
class UsedRepositories {
  private readonly used = new Map<string, true>();

  has(key: string): boolean {
    return this.used.has(key);
  }

  learn(key: string, used: boolean): void {
    if (!used) {
      this.used.delete(key);
      return;
    }
    if (this.used.has(key)) return;
    if (this.used.size >= USED_REMEMBERED) this.used.delete(this.used.keys().next().value!);
    this.used.set(key, true);
  }
}

interface Item {
  claim: string;
  sets: string[];
  deliveryId: string;
  record: string;
}

export class RedisPushIntake implements PushIntake {
  private readonly batches: GroupCommit<Item, PushIntakeResult>;
  private readonly used = new UsedRepositories();

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly index: RedisBuildConfigIndex,
  ) {
    // EVALSHA, with EVAL again after a Redis restart forgot the script (NOSCRIPT).
    redis.defineCommand('slipwayAcceptPushes', { lua: ACCEPT_BATCH });
    const run = (redis as unknown as Record<string, BatchFn>).slipwayAcceptPushes!.bind(redis);
    const inbox = pushInboxKey(prefix);
    this.batches = new GroupCommit(async (items) => {
      const keys: string[] = [inbox];
      const args: (string | number)[] = [new Date().toISOString(), DEFAULT_DELIVERY_TTL_SECONDS];
      for (const item of items) {
        keys.push(item.claim, ...item.sets);
        args.push(item.sets.length, item.deliveryId, item.record);
      }
      // The number of keys comes first: the script takes any number of them.
      const results = await run(keys.length, ...keys, ...args);
      return items.map((item, i): PushIntakeResult => {
        const r = results[i];
        if (r === null || r === undefined) return { state: 'duplicate' };
        // Claimed: the union came wrapped ({found}); not claimed: bare.
        const claimed = r.length === 1 && Array.isArray(r[0]);
        const members = (claimed ? r[0] : r) as string[];
        if (item.sets.length > 0) this.used.learn(item.sets.join(' '), members.length > 0);
        if (members.length === 0) return { state: 'unused' };
        const candidates = members.sort().map(parseIndexKey);
        return claimed ? { state: 'recorded', candidates } : { state: 'used', candidates };
      });
    });
  }

  expectsUse(repoUrls: readonly string[]): boolean {
    return this.used.has(this.setsOf(repoUrls).join(' '));
  }

  // expectsUse and accept are called with the same URLs, one after the other.
  private lastUrls: readonly string[] | undefined;
  private lastSets: string[] = [];
  private setsOf(repoUrls: readonly string[]): string[] {
    if (repoUrls !== this.lastUrls) {
      this.lastSets = this.index.repositorySetKeys(repoUrls);
      this.lastUrls = repoUrls;
    }
    return this.lastSets;
  }

  accept(push: IncomingPush): Promise<PushIntakeResult> {
    checkClaim(push.deliveryId, DEFAULT_DELIVERY_TTL_SECONDS);
    return this.batches.add({
      claim: deliveryClaimKey(this.prefix, push.deliveryId),
      sets: this.setsOf(push.repoUrls),
      deliveryId: push.deliveryId,
      record: push.record ? JSON.stringify(push.record) : '',
    });
  }
}

/** A recorded push, as memoryPushIntake keeps it: the record as JSON, as the inbox holds it. */
export interface MemoryRecordedPush {
  deliveryId: string;
  record: Buffer;
}

/** The same steps over any claims and index, recording into `recorded`. */
export function memoryPushIntake(
  claims: DeliveryClaims,
  index: BuildConfigIndex,
): PushIntake & { recorded: MemoryRecordedPush[] } {
  const recorded: MemoryRecordedPush[] = [];
  const taken = new Set<string>();
  return {
    recorded,
    expectsUse: () => false,
    async accept(push) {
      // The claims store cannot say "taken" without taking: a claim made here is remembered.
      if (taken.has(push.deliveryId)) return { state: 'duplicate' };
      const candidates = await index.lookup(push.repoUrls);
      if (candidates.length > 0 && !push.record) return { state: 'used', candidates };
      if (!(await claims.claimDelivery(push.deliveryId))) return { state: 'duplicate' };
      taken.add(push.deliveryId);
      if (candidates.length === 0) return { state: 'unused' };
      recorded.push({ deliveryId: push.deliveryId, record: Buffer.from(JSON.stringify(push.record)) });
      return { state: 'recorded', candidates };
    },
  };
}
