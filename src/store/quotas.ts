/**
 * What a project's running builds and replicas hold against its quotas' `pods`,
 * `limits.cpu` and `limits.memory`, shared by the fleet through Redis.
 *
 * Each holder (`build/web-3`, `rc/web-2`) has one entry in a hash per namespace
 * (`{prefix}:quota:held:{ns}`) with what it takes. Taking or growing an entry is one Lua
 * script that sums the others and refuses past a quota's hard limit, so two workers
 * cannot both take the last pod; shrinking or releasing is never refused. Object counts
 * are not kept here: the resource store checks them against its own index on create.
 */
import type { Redis } from 'ioredis';
import {
  COMPUTE_RESOURCES,
  computeDecision,
  countNamesOf,
  exceededMessage,
  kindOfCount,
  quotaStatus,
  type ComputeRequest,
  type ComputeResource,
  type QuotaLimit,
} from '../core/quota.js';
import { lookupKind, type Resource } from '../core/resource.js';
import type { ResourceStore } from './resource-store.js';

export const RESOURCE_QUOTA = lookupKind('v1', 'ResourceQuota')!;
const BUILD = lookupKind('build.openshift.io/v1', 'Build')!;

// KEYS: the namespace's holders hash. ARGV: holder, amounts (JSON), limits (JSON [{quota, resource, hard}]).
// A resource the holder does not grow is not checked: scaling down under a lowered quota works.
// A refusal names the growth as requested and everything held (the holder's share too) as used.
const RESERVE_SCRIPT = `
local held = redis.call('HGETALL', KEYS[1])
local used, mine = {}, {}
for i = 1, #held, 2 do
  local ok, v = pcall(cjson.decode, held[i + 1])
  if ok and type(v) == 'table' then
    for k, n in pairs(v) do
      if held[i] == ARGV[1] then mine[k] = n else used[k] = (used[k] or 0) + n end
    end
  end
end
local want = cjson.decode(ARGV[2])
for _, l in ipairs(cjson.decode(ARGV[3])) do
  local r = want[l.resource] or 0
  local u = used[l.resource] or 0
  local m = mine[l.resource] or 0
  if r > m and u + r > l.hard then
    return cjson.encode({quota = l.quota, resource = l.resource, hard = l.hard, used = u + m, requested = r - m})
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return ''
`;

export type Reservation =
  | { kind: 'reserved' }
  /** Over a quota now; may fit later (`message` in Kubernetes' words). */
  | { kind: 'exceeded'; quota: string; message: string }
  /** Never fits: a quota limits cpu or memory and the pod gives no limit. */
  | { kind: 'refused'; message: string };

export interface ProjectUsage {
  pods: number;
  /** Millicores. */
  'limits.cpu': number;
  /** Bytes. */
  'limits.memory': number;
}

/** The quota verbs the build runner, the deploy target and the API use. */
export interface QuotaLedger {
  /** Takes (or resizes) `holder`'s share; refused past a quota, leaving the old share. */
  reserve(namespace: string, holder: string, request: ComputeRequest): Promise<Reservation>;
  release(namespace: string, holder: string): Promise<void>;
  /** Adds a finished build's run time to the project's total (the usage report's build minutes). */
  addBuildTime(namespace: string, seconds: number): Promise<void>;
  /**
   * Keeps (or, with undefined, clears) why `holder`'s last scale was refused, for every
   * server of the fleet to report as the revision's replica failure.
   */
  noteRefusal(namespace: string, holder: string, message: string | undefined): Promise<void>;
  refusal(namespace: string, holder: string): Promise<string | undefined>;
}

export class RedisQuotas implements QuotaLedger {
  constructor(
    private readonly redis: Redis,
    private readonly store: ResourceStore,
    private readonly prefix = 'slipway',
  ) {}

  private heldKey(namespace: string): string {
    return `${this.prefix}:quota:held:${namespace}`;
  }

  async reserve(namespace: string, holder: string, request: ComputeRequest): Promise<Reservation> {
    const quotas = await this.store.list(RESOURCE_QUOTA, namespace);
    const decision = computeDecision(quotas, request);
    if (decision.kind === 'missing') return { kind: 'refused', message: decision.message };
    const answer = (await this.redis.eval(
      RESERVE_SCRIPT,
      1,
      this.heldKey(namespace),
      holder,
      JSON.stringify(decision.amounts),
      JSON.stringify(decision.limits),
    )) as string;
    if (!answer) return { kind: 'reserved' };
    const e = JSON.parse(answer) as QuotaLimit & { used: number; requested: number };
    return { kind: 'exceeded', quota: e.quota, message: exceededMessage(e) };
  }

  async release(namespace: string, holder: string): Promise<void> {
    await this.redis.hdel(this.heldKey(namespace), holder);
  }

  private refusedKey(namespace: string): string {
    return `${this.prefix}:quota:refused:${namespace}`;
  }

  async noteRefusal(namespace: string, holder: string, message: string | undefined): Promise<void> {
    if (message === undefined) await this.redis.hdel(this.refusedKey(namespace), holder);
    else await this.redis.hset(this.refusedKey(namespace), holder, message);
  }

  async refusal(namespace: string, holder: string): Promise<string | undefined> {
    return (await this.redis.hget(this.refusedKey(namespace), holder)) ?? undefined;
  }

  private buildTimeKey(namespace: string): string {
    return `${this.prefix}:usage:build-time:${namespace}`;
  }

  async addBuildTime(namespace: string, seconds: number): Promise<void> {
    await this.redis
      .multi()
      .hincrbyfloat(this.buildTimeKey(namespace), 'seconds', seconds)
      .hincrby(this.buildTimeKey(namespace), 'builds', 1)
      .exec();
  }

  /** Finished builds and their run time in seconds, since the project's first. */
  async buildTime(namespace: string): Promise<{ builds: number; seconds: number }> {
    const h = await this.redis.hgetall(this.buildTimeKey(namespace));
    return { builds: Number(h.builds ?? 0), seconds: Number(h.seconds ?? 0) };
  }

  /** Forgets a deleted project's figures. */
  async forget(namespace: string): Promise<void> {
    await this.redis.del(this.buildTimeKey(namespace), this.heldKey(namespace), this.refusedKey(namespace));
  }

  /**
   * What the namespace's holders take now. Holders of builds that have ended or are gone
   * are dropped first (a worker that died between its claim and its release leaves one),
   * so the figures follow the Builds, the truth, whatever happened to a worker.
   */
  async usage(namespace: string): Promise<ProjectUsage & { holders: Record<string, ProjectUsage> }> {
    const raw = await this.redis.hgetall(this.heldKey(namespace));
    const total: ProjectUsage = { pods: 0, 'limits.cpu': 0, 'limits.memory': 0 };
    const holders: Record<string, ProjectUsage> = {};
    for (const [holder, json] of Object.entries(raw)) {
      if (holder.startsWith('build/')) {
        const build = await this.store.get(BUILD, namespace, holder.slice('build/'.length));
        const phase = (build?.status as { phase?: string } | undefined)?.phase;
        if (!build || (phase !== 'New' && phase !== 'Pending' && phase !== 'Running')) {
          await this.redis.eval(
            // Only the entry read: a build of the same name started since keeps its own.
            `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end`,
            1,
            this.heldKey(namespace),
            holder,
            json,
          );
          continue;
        }
      }
      const amounts = JSON.parse(json) as Partial<ProjectUsage>;
      const entry: ProjectUsage = { pods: 0, 'limits.cpu': 0, 'limits.memory': 0 };
      for (const r of COMPUTE_RESOURCES) {
        entry[r] = amounts[r] ?? 0;
        total[r] += entry[r];
      }
      holders[holder] = entry;
    }
    return { ...total, holders };
  }

  /** The namespace's quotas with `status.hard` and `status.used` as they are now. */
  async withStatus(namespace: string, quotas: Resource[]): Promise<Resource[]> {
    if (quotas.length === 0) return quotas;
    const compute = await this.usage(namespace);
    const counts = new Map<string, number>();
    const usedOf = async (resource: string): Promise<number> => {
      if ((COMPUTE_RESOURCES as readonly string[]).includes(resource))
        return compute[resource as ComputeResource];
      const info = kindOfCount(resource);
      if (!info) return 0;
      const key = countNamesOf(info)[0]!;
      if (!counts.has(key)) counts.set(key, (await this.store.list(info, namespace)).length);
      return counts.get(key)!;
    };
    const out: Resource[] = [];
    for (const q of quotas) {
      const hard = Object.keys(((q.spec as { hard?: object } | undefined)?.hard ?? {}) as object);
      const used = new Map<string, number>();
      for (const r of hard) used.set(r, await usedOf(r));
      out.push({ ...q, status: quotaStatus(q, (r) => used.get(r) ?? 0) });
    }
    return out;
  }
}
