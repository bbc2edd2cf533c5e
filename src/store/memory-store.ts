/**
 * The resource store in one process's memory, for unit tests of pure decisions: the same
 * verbs and the same optimistic concurrency as the Redis store (one global
 * resourceVersion, a stale write is a ConflictError, a missing object a NotFoundError),
 * so a decision tested here behaves the same against Redis. Never for a server: a fleet
 * shares its objects through Redis.
 */
import { randomUUID } from 'node:crypto';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../core/errors.js';
import { countExceeded, countLimits } from '../core/quota.js';
import { apiVersionOf, lookupKind, nowTimestamp, type KindInfo, type Resource } from '../core/resource.js';
import { matchesSelector, type ResourceStore, type WatchEvent } from './resource-store.js';

const RESOURCE_QUOTA = lookupKind('v1', 'ResourceQuota')!;

type Listener = (event: WatchEvent, info: KindInfo) => void;

export class MemoryResourceStore implements ResourceStore {
  private readonly objects = new Map<string, Resource>();
  private readonly counters = new Map<string, number>();
  private readonly listeners = new Set<Listener>();
  private rv = 0;

  private key(info: KindInfo, ns: string, name: string): string {
    return `${info.plural}.${info.group || 'core'}/${ns}/${name}`;
  }

  private emit(type: WatchEvent['type'], object: Resource, info: KindInfo): void {
    for (const l of this.listeners) l({ type, object: structuredClone(object) }, info);
  }

  async get(info: KindInfo, namespace: string, name: string): Promise<Resource | undefined> {
    const obj = this.objects.get(this.key(info, namespace, name));
    return obj === undefined ? undefined : structuredClone(obj);
  }

  async list(info: KindInfo, namespace?: string, labelSelector?: string): Promise<Resource[]> {
    const prefix = `${info.plural}.${info.group || 'core'}/`;
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .map(([, v]) => v)
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .filter((o) => matchesSelector(o, labelSelector))
      .sort((a, b) =>
        `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
          `${b.metadata.namespace}/${b.metadata.name}`,
        ),
      )
      .map((o) => structuredClone(o));
  }

  async create(info: KindInfo, obj: Resource): Promise<Resource> {
    const ns = obj.metadata.namespace ?? 'default';
    const key = this.key(info, ns, obj.metadata.name);
    if (this.objects.has(key))
      throw new AlreadyExistsError(`${info.kind} "${obj.metadata.name}" already exists in namespace "${ns}"`);
    const used = (await this.list(info, ns)).length;
    for (const limit of countLimits(await this.list(RESOURCE_QUOTA, ns), info))
      if (used + 1 > limit.hard) throw countExceeded(info, obj.metadata.name, { ...limit, used });
    const stored: Resource = {
      ...structuredClone(obj),
      apiVersion: apiVersionOf(info),
      kind: info.kind,
      metadata: {
        ...structuredClone(obj.metadata),
        namespace: ns,
        uid: randomUUID(),
        creationTimestamp: nowTimestamp(),
        generation: 1,
        resourceVersion: String(++this.rv),
      },
    };
    this.objects.set(key, stored);
    this.emit('ADDED', stored, info);
    return structuredClone(stored);
  }

  async replace(info: KindInfo, obj: Resource): Promise<Resource> {
    const ns = obj.metadata.namespace ?? 'default';
    const name = obj.metadata.name;
    const key = this.key(info, ns, name);
    const current = this.objects.get(key);
    if (!current) throw new NotFoundError(`${info.kind} "${name}" not found in namespace "${ns}"`);
    const expected = obj.metadata.resourceVersion;
    if (expected !== undefined && expected !== current.metadata.resourceVersion) {
      throw new ConflictError(
        `Operation cannot be fulfilled on ${info.plural}.${info.group || 'core'} "${name}": the object has been modified (resourceVersion ${expected}, now ${current.metadata.resourceVersion}); please apply your changes to the latest version and try again`,
      );
    }
    const specChanged = JSON.stringify(current.spec) !== JSON.stringify(obj.spec);
    const stored: Resource = {
      ...structuredClone(obj),
      apiVersion: apiVersionOf(info),
      kind: info.kind,
      metadata: {
        ...structuredClone(obj.metadata),
        namespace: ns,
        uid: current.metadata.uid!,
        creationTimestamp: current.metadata.creationTimestamp!,
        generation: (current.metadata.generation ?? 1) + (specChanged ? 1 : 0),
        resourceVersion: String(++this.rv),
      },
    };
    this.objects.set(key, stored);
    this.emit('MODIFIED', stored, info);
    return structuredClone(stored);
  }

  async update(
    info: KindInfo,
    namespace: string,
    name: string,
    mutate: (current: Resource) => Resource | undefined,
  ): Promise<Resource> {
    // One process, no await between read and write: a conflict cannot happen here.
    const current = await this.get(info, namespace, name);
    if (!current) throw new NotFoundError(`${info.kind} "${name}" not found in namespace "${namespace}"`);
    const next = mutate(structuredClone(current));
    if (next === undefined) return current;
    next.metadata.resourceVersion = current.metadata.resourceVersion!;
    return this.replace(info, next);
  }

  async delete(info: KindInfo, namespace: string, name: string): Promise<Resource> {
    const key = this.key(info, namespace, name);
    const old = this.objects.get(key);
    if (!old) throw new NotFoundError(`${info.kind} "${name}" not found in namespace "${namespace}"`);
    this.objects.delete(key);
    for (const k of [...this.counters.keys()]) if (k.startsWith(`${key}#`)) this.counters.delete(k);
    this.emit('DELETED', old, info);
    return old;
  }

  async nextNumber(info: KindInfo, namespace: string, name: string, statusField: string): Promise<number> {
    const key = this.key(info, namespace, name);
    const obj = this.objects.get(key);
    if (!obj) throw new NotFoundError(`${info.kind} "${name}" not found in namespace "${namespace}"`);
    const floor = (obj.status as Record<string, unknown> | undefined)?.[statusField];
    let n = this.counters.get(`${key}#${statusField}`) ?? 0;
    if (typeof floor === 'number' && floor > n) n = Math.floor(floor);
    this.counters.set(`${key}#${statusField}`, ++n);
    return n;
  }

  async watch(onEvent: Listener): Promise<() => Promise<void>> {
    this.listeners.add(onEvent);
    return async () => {
      this.listeners.delete(onEvent);
    };
  }
}
