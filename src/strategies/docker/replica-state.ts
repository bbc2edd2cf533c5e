/**
 * What every Slipway process knows about the local target's replicas, kept in Redis: the
 * replica monitor (one leader at a time) writes readiness and host ports, the router and
 * rollouts read them, and a replica marked *draining* leaves the router before it is
 * stopped. One shared view, so the router never disagrees with a rollout about which
 * replicas are ready.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface ReplicaState {
  /** Docker container id. */
  id: string;
  /** Container name, `slipway-{ns}-{revision}-{suffix}`. */
  name: string;
  namespace: string;
  deploymentConfig: string;
  /** Revision (RC) name, `web-3`. */
  revision: string;
  /** The pod template's labels plus `deployment`/`deploymentconfig`: what Service selectors match. */
  podLabels: Record<string, string>;
  /** Container port → host port on 127.0.0.1. */
  ports: Record<string, number>;
  /** Named container ports → port number (for named targetPorts and probes). */
  portNames: Record<string, number>;
  running: boolean;
  ready: boolean;
  /** When the replica last became ready (ms since the epoch); `available` counts from here. */
  readySince?: number;
  /** Why it is not ready, or why it keeps restarting. */
  message?: string;
  restarts: number;
  /** Last write by the monitor (ms since the epoch). */
  updated: number;
}

export class ReplicaStateStore {
  /** Who may create or remove a revision's containers right now. */
  readonly leases: RevisionLeases;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {
    this.leases = new RevisionLeases(redis, prefix);
  }

  private get statesKey(): string {
    return `${this.prefix}:deploy:replicas`;
  }
  private get drainingKey(): string {
    return `${this.prefix}:deploy:draining`;
  }
  private get failuresKey(): string {
    return `${this.prefix}:deploy:failures`;
  }

  async list(): Promise<ReplicaState[]> {
    const all = await this.redis.hvals(this.statesKey);
    return all.map((json) => JSON.parse(json) as ReplicaState);
  }

  async put(states: ReplicaState[]): Promise<void> {
    if (states.length === 0) return;
    await this.redis.hset(this.statesKey, Object.fromEntries(states.map((s) => [s.id, JSON.stringify(s)])));
  }

  async remove(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis.hdel(this.statesKey, ...ids);
    await this.redis.hdel(this.drainingKey, ...ids);
  }

  /** Takes replicas out of the router (and out of ready counts) ahead of stopping them. */
  async markDraining(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const now = String(Date.now());
    await this.redis.hset(this.drainingKey, Object.fromEntries(ids.map((id) => [id, now])));
  }

  async draining(): Promise<Set<string>> {
    return new Set(await this.redis.hkeys(this.drainingKey));
  }

  /** Why replicas of a revision cannot be created (image pull, bad env); empty clears it. */
  async setFailure(namespace: string, revision: string, message: string | undefined): Promise<void> {
    const field = `${namespace}/${revision}`;
    if (message) await this.redis.hset(this.failuresKey, field, message);
    else await this.redis.hdel(this.failuresKey, field);
  }

  async failure(namespace: string, revision: string): Promise<string | undefined> {
    return (await this.redis.hget(this.failuresKey, `${namespace}/${revision}`)) ?? undefined;
  }
}

const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const RENEW_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

export interface RevisionLeaseOptions {
  /** Wait for a busy lease (a rollout's scale) instead of giving up at once (the reconciler). */
  wait: boolean;
  signal?: AbortSignal;
  /** Lease lifetime; renewed at a third of it while `fn` runs, so a dead holder frees it this fast. */
  ttlMs?: number;
  /**
   * Stop renewing after this long even if `fn` has not settled: an engine call that never
   * answers must not keep a revision from every rollout for good.
   */
  maxHoldMs?: number;
}

/**
 * One actor per revision across every Slipway process sharing this Redis: a rollout's
 * scale step and the reconciler's repair both count a revision's containers and then
 * create or remove some, and two doing that at once would both create the same
 * replacement. Kept beside the replica states because it guards the same containers.
 */
export class RevisionLeases {
  private readonly id = randomUUID();

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {}

  private key(namespace: string, revision: string): string {
    return `${this.prefix}:deploy:revision-lease:${namespace}/${revision}`;
  }

  /** Runs `fn` holding the revision's lease; resolves `{ ran: false }` when busy and not waiting. */
  async run<T>(
    namespace: string,
    revision: string,
    options: RevisionLeaseOptions,
    fn: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }> {
    const key = this.key(namespace, revision);
    const ttlMs = options.ttlMs ?? 15000;
    const token = `${this.id}:${randomUUID()}`;
    for (;;) {
      if (options.signal?.aborted) throw options.signal.reason as Error;
      if ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK') break;
      if (!options.wait) return { ran: false };
      await new Promise((r) => setTimeout(r, 100));
    }
    const held = Date.now();
    const renew = setInterval(
      () => {
        if (options.maxHoldMs !== undefined && Date.now() - held > options.maxHoldMs) {
          clearInterval(renew);
          return;
        }
        void this.redis.eval(RENEW_SCRIPT, 1, key, token, String(ttlMs)).catch(() => undefined);
      },
      Math.max(100, Math.floor(ttlMs / 3)),
    );
    try {
      return { ran: true, value: await fn() };
    } finally {
      clearInterval(renew);
      await this.redis.eval(RELEASE_SCRIPT, 1, key, token).catch(() => undefined);
    }
  }
}

/** Kubernetes equality-based selector: every key of `selector` has that value in `labels`. */
export function selectorMatches(
  selector: Record<string, string> | null | undefined,
  labels: Record<string, string>,
): boolean {
  const entries = Object.entries(selector ?? {});
  // A Service without a selector selects nothing (its endpoints are managed by hand in Kubernetes).
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}
