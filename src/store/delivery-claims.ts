/**
 * Idempotent redelivery. GitHub redelivers a webhook with the same `X-GitHub-Delivery`
 * GUID (automatically after a timeout, or when a user presses "Redeliver"), and the
 * registry retries a notification until it gets a 2xx. The first server to claim a
 * delivery id acts on it; every later claim of that id, on any server sharing the
 * Redis, is told it was already handled.
 */
import type { Redis } from 'ioredis';

/**
 * GitHub keeps deliveries for redelivery for 3 days
 * (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks);
 * one more day covers clock skew and slow retries.
 */
export const DEFAULT_DELIVERY_TTL_SECONDS = 4 * 24 * 3600;

export interface DeliveryClaims {
  /**
   * Claims a delivery id for `ttlSeconds`; true when this caller is the first and should
   * act on it, false when it was already claimed.
   */
  claimDelivery(id: string, ttlSeconds?: number): Promise<boolean>;
  /** Gives a claim back, when acting on the delivery failed, so a redelivery can succeed. */
  releaseDelivery(id: string): Promise<void>;
}

/** The Redis key that holds a delivery's claim. */
export function deliveryClaimKey(prefix: string, id: string): string {
  return `${prefix}:delivery:${id}`;
}

/** Checks a claim's arguments: an empty id or a TTL that is not a positive integer is a bug. */
export function checkClaim(id: string, ttlSeconds: number): void {
  if (id === '')
    throw new TypeError('claimDelivery: the delivery id is empty; pass the X-GitHub-Delivery (or event) id');
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new RangeError(`claimDelivery: ttlSeconds must be a positive integer, got ${ttlSeconds}`);
  }
}

export class RedisDeliveryClaims implements DeliveryClaims {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {}

  private key(id: string): string {
    return deliveryClaimKey(this.prefix, id);
  }

  async claimDelivery(id: string, ttlSeconds = DEFAULT_DELIVERY_TTL_SECONDS): Promise<boolean> {
    checkClaim(id, ttlSeconds);
    // SET NX EX is one atomic command: two servers racing on one id get one "OK".
    const result = await this.redis.set(this.key(id), new Date().toISOString(), 'EX', ttlSeconds, 'NX');
    return result === 'OK';
  }

  async releaseDelivery(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}
