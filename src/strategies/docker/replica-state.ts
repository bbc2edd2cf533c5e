/**
 * What every Slipway process knows about the local target's replicas, kept in Redis: the
 * replica monitor (one leader at a time) writes readiness and host ports, the router and
 * rollouts read them, and a replica marked *draining* leaves the router before it is
 * stopped. One shared view, so the router never disagrees with a rollout about which
 * replicas are ready.
 */
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
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {}

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

/** Kubernetes equality-based selector: every key of `selector` has that value in `labels`. */
export function selectorMatches(
  selector: Record<string, string> | null | undefined,
  labels: Record<string, string>,
): boolean {
  const entries = Object.entries(selector ?? {});
  // A Service without a selector selects nothing (its endpoints are managed by hand in Kubernetes).
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}
