/**
 * How the org/App endpoint takes in a push: claim the delivery (src/store/delivery-claims.ts),
 * find the BuildConfigs that use its repository (the BuildConfig index) and, when there
 * are any, record the delivery in the push inbox (src/store/push-inbox.ts), where a
 * worker routes it to builds (src/webhooks/push-routing.ts). On one Redis the three are
 * one script, so a delivery is one command there whether it matches or not, and the
 * answer is sent only once the delivery is durable.
 *
 * Deliveries that arrive together share that command (a group commit): every `accept`
 * made in one turn of the event loop joins one script call, which handles each delivery
 * in order and answers each its own result. Under load the per-command cost on both
 * sides of the connection is paid once per batch, not once per delivery, and that cost
 * was as large as verifying a payload's signature (docs/webhooks.md, "The ingest path");
 * a lone delivery waits for nothing but the end of the current turn.
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
import { pushInboxKey } from './push-inbox.js';
import type { RedisBuildConfigIndex } from './redis-buildconfig-index.js';

/** A verified push, as the endpoint takes it in. */
export interface IncomingPush {
  /** The claim's id: `github:{X-GitHub-Delivery}`. */
  deliveryId: string;
  /** The repository's URLs, to look up. */
  repoUrls: readonly string[];
  /** The payload exactly as received: what the inbox keeps for routing. */
  payload: Buffer;
}

export interface PushIntakeResult {
  /** False when another delivery with this id was taken in first: nothing was done. */
  claimed: boolean;
  /** The BuildConfigs the index names for the repository, sorted; the push was recorded when any. */
  candidates: ObjectKey[];
}

export interface PushIntake {
  accept(push: IncomingPush): Promise<PushIntakeResult>;
}

// KEYS[1] the inbox stream; then, for each delivery, its claim's key and its repository
// sets. ARGV[1] the claims' value, ARGV[2] their TTL in seconds; then, for each delivery,
// how many repository sets follow its claim key, its id and its payload. Returns, per
// delivery in order, false when its claim is taken, else the union of its sets (the
// delivery recorded in the inbox when that is not empty). In order: two deliveries with
// one id in one batch give the first the claim, as two separate calls would.
const ACCEPT_BATCH = `
local out = {}
local k = 2
local n = 0
for i = 3, #ARGV, 3 do
  n = n + 1
  local sets = tonumber(ARGV[i])
  if redis.call('SET', KEYS[k], ARGV[1], 'EX', ARGV[2], 'NX') then
    local found = {}
    if sets > 0 then found = redis.call('SUNION', unpack(KEYS, k + 1, k + sets)) end
    if #found > 0 then
      redis.call('XADD', KEYS[1], '*', 'delivery', ARGV[i + 1], 'payload', ARGV[i + 2])
    end
    out[n] = found
  else
    out[n] = false
  end
  k = k + 1 + sets
end
return out
`;

/** Deliveries in one script call at most: bounds the call's size and Redis' time in it. */
export const MAX_INTAKE_BATCH = 128;

type BatchFn = (...args: (string | number | Buffer)[]) => Promise<(string[] | null)[]>;

interface Waiting {
  push: IncomingPush;
  keys: string[];
  resolve(r: PushIntakeResult): void;
  reject(err: unknown): void;
}

export class RedisPushIntake implements PushIntake {
  private readonly run: BatchFn;
  private readonly inbox: string;
  private waiting: Waiting[] = [];

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly index: RedisBuildConfigIndex,
  ) {
    // EVALSHA, with EVAL again after a Redis restart forgot the script (NOSCRIPT).
    redis.defineCommand('slipwayAcceptPushes', { lua: ACCEPT_BATCH });
    const fn = (redis as unknown as Record<string, BatchFn>).slipwayAcceptPushes!;
    this.run = fn.bind(redis);
    this.inbox = pushInboxKey(prefix);
  }

  accept(push: IncomingPush): Promise<PushIntakeResult> {
    checkClaim(push.deliveryId, DEFAULT_DELIVERY_TTL_SECONDS);
    const keys = [
      deliveryClaimKey(this.prefix, push.deliveryId),
      ...this.index.repositorySetKeys(push.repoUrls),
    ];
    return new Promise<PushIntakeResult>((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => this.flush());
      this.waiting.push({ push, keys, resolve, reject });
      if (this.waiting.length >= MAX_INTAKE_BATCH) this.flush();
    });
  }

  /** Sends the waiting deliveries as one script call and answers each. */
  private flush(): void {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    const keys: string[] = [this.inbox];
    const args: (string | number | Buffer)[] = [new Date().toISOString(), DEFAULT_DELIVERY_TTL_SECONDS];
    for (const w of batch) {
      keys.push(...w.keys);
      args.push(w.keys.length - 1, w.push.deliveryId, w.push.payload);
    }
    // The number of keys comes first: the script takes any number of them.
    this.run(keys.length, ...keys, ...args).then(
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

/** A recorded push, as memoryPushIntake keeps it. */
export interface RecordedPush {
  deliveryId: string;
  payload: Buffer;
}

/** The same steps over any claims and index, recording into `recorded`. */
export function memoryPushIntake(
  claims: DeliveryClaims,
  index: BuildConfigIndex,
): PushIntake & { recorded: RecordedPush[] } {
  const recorded: RecordedPush[] = [];
  return {
    recorded,
    async accept(push) {
      if (!(await claims.claimDelivery(push.deliveryId))) return { claimed: false, candidates: [] };
      const candidates = await index.lookup(push.repoUrls);
      if (candidates.length > 0) recorded.push({ deliveryId: push.deliveryId, payload: push.payload });
      return { claimed: true, candidates };
    },
  };
}
