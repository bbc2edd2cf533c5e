/**
 * The first step of an org/App push: claim the delivery (src/store/delivery-claims.ts)
 * and find the BuildConfigs that use its repository (the BuildConfig index). The two are
 * independent, and on one Redis they are one script, so a delivery costs one command
 * there: a push matching nothing, most of an org's pushes, is then a single round trip,
 * and each command the client sends and reads back costs the server as much CPU as
 * verifying the payload's signature (docs/webhooks.md, "The ingest path").
 *
 * Deliveries that arrive together share that command (a group commit): every
 * claimAndLookup made in one turn of the event loop joins one script call, which claims
 * and looks up each delivery in order and answers each its own result. Under load the
 * per-command cost on both sides of the connection is then paid once per batch, not once
 * per delivery; a lone delivery waits for nothing but the end of the current turn.
 *
 * Other pairs of claims and index (an in-memory index in tests) are composed as two
 * concurrent calls by `separatePushIntake`.
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
import type { RedisBuildConfigIndex } from './redis-buildconfig-index.js';

export interface PushIntakeResult {
  /** False when another delivery with this id was handled first: nothing to do. */
  claimed: boolean;
  /** The BuildConfigs the index names for the push's repository URLs, sorted. */
  candidates: ObjectKey[];
}

export interface PushIntake {
  /** Claims `deliveryId` (when there is one) and looks up the repository URLs. */
  claimAndLookup(deliveryId: string | undefined, repoUrls: readonly string[]): Promise<PushIntakeResult>;
  /** The lookup alone. */
  lookup(repoUrls: readonly string[]): Promise<ObjectKey[]>;
}

// A batch of deliveries. KEYS: for each delivery its claim's key, then its repository
// sets. ARGV[1] the claims' value, ARGV[2] their TTL in seconds, then for each delivery
// how many repository sets follow its claim key. Returns, per delivery in order, false
// when its claim is taken, else the union of its sets. In order: two deliveries with one
// id in one batch give the first the claim, as two separate calls would.
const CLAIM_AND_LOOKUP_BATCH = `
local out = {}
local k = 1
for i = 3, #ARGV do
  local sets = tonumber(ARGV[i])
  if redis.call('SET', KEYS[k], ARGV[1], 'EX', ARGV[2], 'NX') then
    if sets == 0 then out[i - 2] = {} else out[i - 2] = redis.call('SUNION', unpack(KEYS, k + 1, k + sets)) end
  else
    out[i - 2] = false
  end
  k = k + 1 + sets
end
return out
`;

/** Deliveries in one script call at most: bounds the call's size and Redis' time in it. */
export const MAX_INTAKE_BATCH = 256;

type BatchFn = (...args: (string | number)[]) => Promise<(string[] | null)[]>;

interface Waiting {
  keys: string[];
  resolve(r: PushIntakeResult): void;
  reject(err: unknown): void;
}

export class RedisPushIntake implements PushIntake {
  private readonly run: BatchFn;
  private waiting: Waiting[] = [];

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly index: RedisBuildConfigIndex,
  ) {
    // EVALSHA, with EVAL again after a Redis restart forgot the script (NOSCRIPT).
    redis.defineCommand('slipwayClaimAndLookupBatch', { lua: CLAIM_AND_LOOKUP_BATCH });
    const fn = (redis as unknown as Record<string, BatchFn>).slipwayClaimAndLookupBatch!;
    this.run = fn.bind(redis);
  }

  async claimAndLookup(
    deliveryId: string | undefined,
    repoUrls: readonly string[],
  ): Promise<PushIntakeResult> {
    // Without an id there is nothing to claim: the lookup alone is one command already.
    if (deliveryId === undefined) return { claimed: true, candidates: await this.index.lookup(repoUrls) };
    checkClaim(deliveryId, DEFAULT_DELIVERY_TTL_SECONDS);
    const keys = [deliveryClaimKey(this.prefix, deliveryId), ...this.index.repositorySetKeys(repoUrls)];
    return new Promise<PushIntakeResult>((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => this.flush());
      this.waiting.push({ keys, resolve, reject });
      if (this.waiting.length >= MAX_INTAKE_BATCH) this.flush();
    });
  }

  lookup(repoUrls: readonly string[]): Promise<ObjectKey[]> {
    return this.index.lookup(repoUrls);
  }

  /** Sends the waiting deliveries as one script call and answers each. */
  private flush(): void {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    const keys: string[] = [];
    const counts: number[] = [];
    for (const w of batch) {
      keys.push(...w.keys);
      counts.push(w.keys.length - 1);
    }
    // The number of keys comes first: the script takes any number of them.
    this.run(keys.length, ...keys, new Date().toISOString(), DEFAULT_DELIVERY_TTL_SECONDS, ...counts).then(
      (results) => {
        batch.forEach((w, i) => {
          const members = results[i];
          w.resolve(
            members === null || members === undefined
              ? { claimed: false, candidates: [] }
              : { claimed: true, candidates: members.sort().map(parseIndexKey) },
          );
        });
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}

/** Claims and looks up as two concurrent calls: for any claims and index. */
export function separatePushIntake(claims: DeliveryClaims, index: BuildConfigIndex): PushIntake {
  return {
    async claimAndLookup(deliveryId, repoUrls) {
      const [claimed, candidates] = await Promise.all([
        deliveryId === undefined ? true : claims.claimDelivery(deliveryId),
        index.lookup(repoUrls),
      ]);
      return claimed ? { claimed, candidates } : { claimed, candidates: [] };
    },
    lookup: (repoUrls) => index.lookup(repoUrls),
  };
}
