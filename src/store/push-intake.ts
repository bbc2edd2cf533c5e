/**
 * The first step of an org/App push: claim the delivery (src/store/delivery-claims.ts)
 * and find the BuildConfigs that use its repository (the BuildConfig index). The two are
 * independent, and on one Redis they are one script, so a delivery costs one command
 * there: a push matching nothing, most of an org's pushes, is then a single round trip,
 * and each command the client sends and reads back costs the server as much CPU as
 * verifying the payload's signature (docs/webhooks.md, "The ingest path").
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
}

// KEYS[1] the claim's key, KEYS[2..] the repository sets; ARGV: the claim's value, its
// TTL in seconds. Returns false when the claim is taken, else the union of the sets.
const CLAIM_AND_LOOKUP = `
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then return false end
if #KEYS == 1 then return {} end
return redis.call('SUNION', unpack(KEYS, 2))
`;

type ClaimAndLookupFn = (...args: (string | number)[]) => Promise<string[] | null>;

export class RedisPushIntake implements PushIntake {
  private readonly run: ClaimAndLookupFn;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly index: RedisBuildConfigIndex,
  ) {
    // EVALSHA, with EVAL again after a Redis restart forgot the script (NOSCRIPT).
    redis.defineCommand('slipwayClaimAndLookup', { lua: CLAIM_AND_LOOKUP });
    const fn = (redis as unknown as Record<string, ClaimAndLookupFn>).slipwayClaimAndLookup!;
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
    // The number of keys comes first: the script takes any number of repository sets.
    const members = await this.run(
      keys.length,
      ...keys,
      new Date().toISOString(),
      DEFAULT_DELIVERY_TTL_SECONDS,
    );
    if (members === null) return { claimed: false, candidates: [] };
    return { claimed: true, candidates: members.sort().map(parseIndexKey) };
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
  };
}
