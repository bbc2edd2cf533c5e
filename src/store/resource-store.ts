/**
 * Resources in Redis, with Kubernetes' optimistic concurrency: every write bumps a
 * global resourceVersion, and a write that names a stale one is a 409. One Lua script
 * does the compare-and-set, so two servers sharing one Redis never lose an update.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../core/errors.js';
import { countExceeded, countLimits, type QuotaLimit } from '../core/quota.js';
import { apiVersionOf, KINDS, nowTimestamp, type KindInfo, type Resource } from '../core/resource.js';
import { retryOnConflict } from './backoff.js';
import { deletedNamespacesKey, namespaceTerminatingError } from './namespace-keys.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface WatchEvent {
  type: WatchEventType;
  object: Resource;
}

/** The store's verbs; tests and other backends implement the same. */
export interface ResourceStore {
  get(info: KindInfo, namespace: string, name: string): Promise<Resource | undefined>;
  /** Lists one namespace, or all when `namespace` is undefined; `labelSelector` is `k=v,k2=v2`. */
  list(info: KindInfo, namespace?: string, labelSelector?: string): Promise<Resource[]>;
  create(info: KindInfo, obj: Resource): Promise<Resource>;
  /** Replaces an object; when `obj.metadata.resourceVersion` is set it must be current. */
  replace(info: KindInfo, obj: Resource): Promise<Resource>;
  /**
   * Read-modify-write, retried on conflict with jittered backoff for a bounded time;
   * `mutate` returns the new object, or undefined to skip.
   */
  update(
    info: KindInfo,
    namespace: string,
    name: string,
    mutate: (current: Resource) => Resource | undefined,
  ): Promise<Resource>;
  delete(info: KindInfo, namespace: string, name: string): Promise<Resource>;
  /**
   * Hands out the next number of a counter kept with the object (a BuildConfig's build
   * numbers), atomically: concurrent callers on any server get distinct numbers. The
   * counter never goes below the object's `status[statusField]`, lives and dies with the
   * object (a recreated object starts again), and the caller writes the number back to
   * the status when it wants it shown.
   */
  nextNumber(info: KindInfo, namespace: string, name: string, statusField: string): Promise<number>;
  /** Subscribes to every change; returns a function that unsubscribes. */
  watch(onEvent: (event: WatchEvent, info: KindInfo) => void): Promise<() => Promise<void>>;
}

const RV_PLACEHOLDER = '"__SLIPWAY_RESOURCE_VERSION__"';

// KEYS: object hash, namespace index, rv counter, namespaces set, deleted namespaces (namespace-keys.ts),
//       the namespace's ResourceQuota index
// ARGV: mode (create|replace|delete), expected rv ('' = any), json with placeholder, name, namespace, events channel, event type,
//       on create the count quotas of the kind in the namespace ('' or JSON [{quota, resource, hard}]),
//       and whether they were read ('1'); unread, a create in a namespace with quotas answers
//       'quotas' and writes nothing, so the caller reads them and tries again
// The count is the namespace index's size, checked in the same script that adds to it: two
// servers creating at once cannot both take the last slot, and a delete frees it by itself.
// A namespace without quotas, most of them, costs a create one round trip.
const PUT_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'rv')
if ARGV[1] == 'create' then
  if current then return {'exists', ''} end
  -- A namespace being deleted takes no new objects: a build or rollout ending after its
  -- project's deletion cannot make one there again.
  local deletedUntil = redis.call('ZSCORE', KEYS[5], ARGV[5])
  if deletedUntil then
    local t = redis.call('TIME')
    if tonumber(deletedUntil) > tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) then
      return {'terminating', ''}
    end
  end
  if ARGV[9] ~= '1' and redis.call('ZCARD', KEYS[6]) > 0 then return {'quotas', ''} end
  if ARGV[8] ~= '' then
    local used = redis.call('ZCARD', KEYS[2])
    for _, l in ipairs(cjson.decode(ARGV[8])) do
      if used + 1 > l.hard then
        return {'quota', cjson.encode({quota = l.quota, resource = l.resource, hard = l.hard, used = used})}
      end
    end
  end
else
  if not current then return {'missing', ''} end
  if ARGV[2] ~= '' and ARGV[2] ~= current then return {'conflict', current} end
end
if ARGV[1] == 'delete' then
  local old = redis.call('HGET', KEYS[1], 'json')
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[4])
  redis.call('PUBLISH', ARGV[6], cjson.encode({type = 'DELETED', key = KEYS[1]}) .. '\\n' .. old)
  return {'ok', current, old}
end
local rv = tostring(redis.call('INCR', KEYS[3]))
local json = string.gsub(ARGV[3], '${RV_PLACEHOLDER}', '"' .. rv .. '"', 1)
redis.call('HSET', KEYS[1], 'json', json, 'rv', rv)
redis.call('ZADD', KEYS[2], 0, ARGV[4])
redis.call('SADD', KEYS[4], ARGV[5])
redis.call('PUBLISH', ARGV[6], cjson.encode({type = ARGV[7], key = KEYS[1]}) .. '\\n' .. json)
return {'ok', rv, json}
`;

// KEYS: object hash. ARGV: status field. The counter is a field of the object's own hash,
// so deleting the object deletes it. Reading the status with cjson is safe (nothing is
// re-encoded); the floor keeps the counter in step with a status someone else raised.
const NEXT_NUMBER_SCRIPT = `
local json = redis.call('HGET', KEYS[1], 'json')
if not json then return -1 end
local field = 'counter:' .. ARGV[1]
local n = tonumber(redis.call('HGET', KEYS[1], field) or '0')
local ok, obj = pcall(cjson.decode, json)
if ok and type(obj) == 'table' and type(obj.status) == 'table' then
  local floor = obj.status[ARGV[1]]
  if type(floor) == 'number' and floor > n then n = math.floor(floor) end
end
n = n + 1
redis.call('HSET', KEYS[1], field, n)
return n
`;

const RESOURCE_QUOTA = KINDS.find((k) => k.kind === 'ResourceQuota')!;

/** Whether an object's labels satisfy a `k=v,k2!=v2,k3` selector (every store filters the same way). */
export function matchesSelector(obj: Resource, selector?: string): boolean {
  if (!selector) return true;
  const labels = obj.metadata.labels ?? {};
  return selector
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .every((term) => {
      const ne = term.split('!=');
      if (ne.length === 2) return labels[ne[0]!.trim()] !== ne[1]!.trim();
      const [k, v] = term.split(/==?/);
      return v === undefined ? k!.trim() in labels : labels[k!.trim()] === v.trim();
    });
}

/** A script defined on the connection (EVALSHA): its keys, then its arguments. */
type Script = (...args: string[]) => Promise<unknown>;

export class RedisResourceStore implements ResourceStore {
  private readonly channel: string;
  private readonly putScript: Script;
  private readonly nextNumberScript: Script;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {
    this.channel = `${prefix}:events`;
    // EVALSHA: every write sends the script's hash, not its text (EVAL again after a
    // Redis restart forgot it, NOSCRIPT).
    redis.defineCommand('slipwayPut', { numberOfKeys: 6, lua: PUT_SCRIPT });
    redis.defineCommand('slipwayNextNumber', { numberOfKeys: 1, lua: NEXT_NUMBER_SCRIPT });
    const scripts = redis as unknown as Record<string, Script>;
    this.putScript = scripts.slipwayPut!.bind(redis);
    this.nextNumberScript = scripts.slipwayNextNumber!.bind(redis);
  }

  private typeKey(info: KindInfo): string {
    return `${info.plural}.${info.group || 'core'}`;
  }
  private objKey(info: KindInfo, ns: string, name: string): string {
    return `${this.prefix}:obj:${this.typeKey(info)}:${ns}:${name}`;
  }
  private idxKey(info: KindInfo, ns: string): string {
    return `${this.prefix}:idx:${this.typeKey(info)}:${ns}`;
  }
  private nsKey(info: KindInfo): string {
    return `${this.prefix}:ns:${this.typeKey(info)}`;
  }

  private async put(
    mode: 'create' | 'replace' | 'delete',
    info: KindInfo,
    ns: string,
    name: string,
    expectedRv: string,
    json: string,
    eventType: WatchEventType,
    countLimits?: QuotaLimit[],
  ): Promise<[string, string, string?]> {
    return (await this.putScript(
      this.objKey(info, ns, name),
      this.idxKey(info, ns),
      `${this.prefix}:rv`,
      this.nsKey(info),
      deletedNamespacesKey(this.prefix),
      this.idxKey(RESOURCE_QUOTA, ns),
      mode,
      expectedRv,
      json,
      name,
      ns,
      this.channel,
      eventType,
      countLimits && countLimits.length > 0 ? JSON.stringify(countLimits) : '',
      countLimits ? '1' : '0',
    )) as [string, string, string?];
  }

  async get(info: KindInfo, namespace: string, name: string): Promise<Resource | undefined> {
    const json = await this.redis.hget(this.objKey(info, namespace, name), 'json');
    return json === null ? undefined : (JSON.parse(json) as Resource);
  }

  async list(info: KindInfo, namespace?: string, labelSelector?: string): Promise<Resource[]> {
    const namespaces =
      namespace === undefined ? (await this.redis.smembers(this.nsKey(info))).sort() : [namespace];
    const out: Resource[] = [];
    for (const ns of namespaces) {
      const names = await this.redis.zrange(this.idxKey(info, ns), '0', '-1');
      if (names.length === 0) continue;
      const pipeline = this.redis.pipeline();
      for (const name of names) pipeline.hget(this.objKey(info, ns, name), 'json');
      const results = (await pipeline.exec()) ?? [];
      for (const [, json] of results) {
        if (typeof json === 'string') {
          const obj = JSON.parse(json) as Resource;
          if (matchesSelector(obj, labelSelector)) out.push(obj);
        }
      }
    }
    return out;
  }

  async create(info: KindInfo, obj: Resource): Promise<Resource> {
    const ns = obj.metadata.namespace ?? 'default';
    const stored: Resource = {
      ...obj,
      apiVersion: apiVersionOf(info),
      kind: info.kind,
      metadata: {
        ...obj.metadata,
        namespace: ns,
        uid: randomUUID(),
        creationTimestamp: nowTimestamp(),
        generation: 1,
        resourceVersion: '__RV__',
      },
    };
    const json = JSON.stringify(stored).replace('"__RV__"', RV_PLACEHOLDER);
    let [result, detail, saved] = await this.put('create', info, ns, obj.metadata.name, '', json, 'ADDED');
    if (result === 'quotas') {
      // The namespace has quotas: the kind's count limits go with the second try.
      const limits = countLimits(await this.list(RESOURCE_QUOTA, ns), info);
      [result, detail, saved] = await this.put(
        'create',
        info,
        ns,
        obj.metadata.name,
        '',
        json,
        'ADDED',
        limits,
      );
    }
    if (result === 'terminating') throw namespaceTerminatingError(ns);
    if (result === 'exists') {
      throw new AlreadyExistsError(`${info.kind} "${obj.metadata.name}" already exists in namespace "${ns}"`);
    }
    if (result === 'quota')
      throw countExceeded(info, obj.metadata.name, JSON.parse(detail) as QuotaLimit & { used: number });
    return JSON.parse(saved!) as Resource;
  }

  async replace(info: KindInfo, obj: Resource): Promise<Resource> {
    const ns = obj.metadata.namespace ?? 'default';
    const name = obj.metadata.name;
    const current = await this.get(info, ns, name);
    if (!current) throw new NotFoundError(`${info.kind} "${name}" not found in namespace "${ns}"`);
    return this.replaceFrom(info, obj, current);
  }

  /** Replaces `current`, just read, with `obj`: the write fails with a conflict if it changed since. */
  private async replaceFrom(info: KindInfo, obj: Resource, current: Resource): Promise<Resource> {
    const ns = obj.metadata.namespace ?? 'default';
    const name = obj.metadata.name;
    const expected = obj.metadata.resourceVersion ?? current.metadata.resourceVersion ?? '';
    const specChanged = JSON.stringify(current.spec) !== JSON.stringify(obj.spec);
    const stored: Resource = {
      ...obj,
      apiVersion: apiVersionOf(info),
      kind: info.kind,
      metadata: {
        ...obj.metadata,
        namespace: ns,
        uid: current.metadata.uid!,
        creationTimestamp: current.metadata.creationTimestamp!,
        generation: (current.metadata.generation ?? 1) + (specChanged ? 1 : 0),
        resourceVersion: '__RV__',
      },
    };
    const json = JSON.stringify(stored).replace('"__RV__"', RV_PLACEHOLDER);
    const [result, rv, saved] = await this.put('replace', info, ns, name, expected, json, 'MODIFIED');
    if (result === 'missing')
      throw new NotFoundError(`${info.kind} "${name}" not found in namespace "${ns}"`);
    if (result === 'conflict') {
      throw new ConflictError(
        `Operation cannot be fulfilled on ${info.plural}.${info.group || 'core'} "${name}": the object has been modified (resourceVersion ${expected}, now ${rv}); please apply your changes to the latest version and try again`,
      );
    }
    return JSON.parse(saved!) as Resource;
  }

  async update(
    info: KindInfo,
    namespace: string,
    name: string,
    mutate: (current: Resource) => Resource | undefined,
  ): Promise<Resource> {
    return retryOnConflict(async () => {
      const current = await this.get(info, namespace, name);
      if (!current) throw new NotFoundError(`${info.kind} "${name}" not found in namespace "${namespace}"`);
      const next = mutate(structuredClone(current));
      if (next === undefined) return current;
      next.metadata.resourceVersion = current.metadata.resourceVersion!;
      // The object was just read: compare-and-set against it, without reading it again.
      return this.replaceFrom(info, next, current);
    });
  }

  async delete(info: KindInfo, namespace: string, name: string): Promise<Resource> {
    const [result, , old] = await this.put('delete', info, namespace, name, '', '', 'DELETED');
    if (result === 'missing')
      throw new NotFoundError(`${info.kind} "${name}" not found in namespace "${namespace}"`);
    return JSON.parse(old!) as Resource;
  }

  async nextNumber(info: KindInfo, namespace: string, name: string, statusField: string): Promise<number> {
    const n = Number(await this.nextNumberScript(this.objKey(info, namespace, name), statusField));
    if (n < 0) throw new NotFoundError(`${info.kind} "${name}" not found in namespace "${namespace}"`);
    return n;
  }

  async watch(onEvent: (event: WatchEvent, info: KindInfo) => void): Promise<() => Promise<void>> {
    const sub = this.redis.duplicate();
    await sub.subscribe(this.channel);
    sub.on('message', (_channel: string, message: string) => {
      const nl = message.indexOf('\n');
      const head = JSON.parse(message.slice(0, nl)) as { type: WatchEventType; key: string };
      const object = JSON.parse(message.slice(nl + 1)) as Resource;
      const info = KINDS.find((k) => head.key.includes(`:obj:${this.typeKey(k)}:`));
      if (info) onEvent({ type: head.type, object }, info);
    });
    return async () => {
      await sub.unsubscribe();
      sub.disconnect();
    };
  }
}
