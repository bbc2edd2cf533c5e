/**
 * ResourceQuota (`v1`), the pure part: which `spec.hard` names Slipway enforces, how a
 * request is checked against them, and the words of a refusal, which are Kubernetes'
 * (`exceeded quota: NAME, requested: pods=1, used: pods=1, limited: pods=1`).
 * The atomic check-and-reserve is in Redis (src/store/resource-store.ts for object
 * counts, src/store/quotas.ts for pods and limits); docs/quotas.md says what counts.
 * https://kubernetes.io/docs/concepts/policy/resource-quotas/
 */
import { ForbiddenError, type FieldCause } from './errors.js';
import { cpuCores, memoryBytes } from './quantity.js';
import { KINDS, type KindInfo, type Resource } from './resource.js';

/** Compute resources summed over running builds and replicas (the ledger's names). */
export const COMPUTE_RESOURCES = ['pods', 'limits.cpu', 'limits.memory'] as const;
export type ComputeResource = (typeof COMPUTE_RESOURCES)[number];

/** Kubernetes' older names for core object counts, still common in quota YAML. */
const LEGACY_COUNTS: Record<string, string> = {
  secrets: 'Secret',
  configmaps: 'ConfigMap',
  services: 'Service',
  persistentvolumeclaims: 'PersistentVolumeClaim',
  replicationcontrollers: 'ReplicationController',
  resourcequotas: 'ResourceQuota',
  // OpenShift's own name for the number of image streams in a project.
  'openshift.io/imagestreams': 'ImageStream',
};

/** `count/buildconfigs.build.openshift.io`, `count/secrets`: Kubernetes' object-count name of a kind. */
export function countName(info: KindInfo): string {
  return `count/${info.plural}${info.group ? `.${info.group}` : ''}`;
}

/** Every `spec.hard` name that counts objects of `info`. */
export function countNamesOf(info: KindInfo): string[] {
  return [
    countName(info),
    ...Object.entries(LEGACY_COUNTS)
      .filter(([, kind]) => kind === info.kind)
      .map(([name]) => name),
  ];
}

/** The kind a `spec.hard` count name counts, or undefined when it is not a count Slipway knows. */
export function kindOfCount(name: string): KindInfo | undefined {
  const legacy = LEGACY_COUNTS[name];
  if (legacy) return KINDS.find((k) => k.kind === legacy);
  return KINDS.find((k) => countName(k) === name);
}

function isCompute(name: string): name is ComputeResource {
  return (COMPUTE_RESOURCES as readonly string[]).includes(name);
}

/**
 * A `spec.hard` value as a number in the unit the ledger keeps: objects and pods as
 * counts, `limits.cpu` in millicores, `limits.memory` in bytes. Throws on a bad quantity.
 */
export function hardAmount(name: string, value: unknown): number {
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error('must be a quantity');
  if (name === 'limits.cpu') return Math.round(cpuCores(value) * 1000);
  if (name === 'limits.memory') return memoryBytes(value);
  const n = typeof value === 'number' ? value : Number(/^\d+$/.test(value.trim()) ? value : NaN);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('must be a whole number, such as "10"');
  return n;
}

const SUPPORTED =
  'Slipway enforces pods, limits.cpu, limits.memory and count/RESOURCE.GROUP for its kinds (count/buildconfigs.build.openshift.io, count/secrets…)';

/** Why a ResourceQuota cannot be stored, field by field (empty when it can). */
export function resourceQuotaCauses(obj: Resource): FieldCause[] {
  const spec = obj.spec as Record<string, unknown> | undefined;
  if (spec === undefined || spec === null || typeof spec !== 'object' || Array.isArray(spec))
    return [{ field: 'spec', message: 'Required value: a ResourceQuota needs spec.hard' }];
  const causes: FieldCause[] = [];
  for (const field of ['scopes', 'scopeSelector'])
    if (spec[field] !== undefined && spec[field] !== null)
      causes.push({
        field: `spec.${field}`,
        message: 'quota scopes are not supported: a quota applies to every object of the project',
      });
  const hard = spec.hard;
  if (hard === null || typeof hard !== 'object' || Array.isArray(hard)) {
    causes.push({ field: 'spec.hard', message: 'Required value: a map of resource names to quantities' });
    return causes;
  }
  for (const [name, value] of Object.entries(hard as Record<string, unknown>)) {
    const field = `spec.hard[${name}]`;
    if (!isCompute(name) && !kindOfCount(name)) {
      causes.push({ field, message: `Unsupported value: "${name}"; ${SUPPORTED}` });
      continue;
    }
    try {
      hardAmount(name, value);
    } catch (err) {
      causes.push({ field, message: `Invalid value: ${JSON.stringify(value)}: ${(err as Error).message}` });
    }
  }
  return causes;
}

/** One quota's limit on one resource, as the Redis scripts check it. */
export interface QuotaLimit {
  quota: string;
  resource: string;
  hard: number;
}

function hardOf(quota: Resource): Record<string, unknown> {
  const hard = (quota.spec as { hard?: unknown } | undefined)?.hard;
  return hard !== null && typeof hard === 'object' && !Array.isArray(hard)
    ? (hard as Record<string, unknown>)
    : {};
}

/** The limits `quotas` put on the number of `info` objects in their namespace. */
export function countLimits(quotas: readonly Resource[], info: KindInfo): QuotaLimit[] {
  const names = countNamesOf(info);
  const out: QuotaLimit[] = [];
  for (const q of quotas)
    for (const [resource, value] of Object.entries(hardOf(q)))
      if (names.includes(resource))
        out.push({ quota: q.metadata.name, resource, hard: hardAmount(resource, value) });
  return out;
}

/** What a build or a revision's replicas take: pods, and the sum of their limits where given. */
export interface ComputeRequest {
  pods: number;
  /** Millicores; undefined when some pod has no cpu limit. */
  'limits.cpu'?: number | undefined;
  /** Bytes; undefined when some pod has no memory limit. */
  'limits.memory'?: number | undefined;
}

export type ComputeDecision =
  | { kind: 'check'; limits: QuotaLimit[]; amounts: Record<ComputeResource, number> }
  /** A quota limits a resource the pod gives no limit for: Kubernetes refuses such a pod. */
  | { kind: 'missing'; message: string };

/**
 * What the ledger must check for `request` under `quotas`: the limits on pods and
 * limits.*, or a refusal when a quota sets limits.cpu/memory and the pod has none
 * (Kubernetes: `failed quota: NAME: must specify limits.cpu,limits.memory`).
 */
export function computeDecision(quotas: readonly Resource[], request: ComputeRequest): ComputeDecision {
  const limits: QuotaLimit[] = [];
  for (const q of quotas) {
    const missing: string[] = [];
    for (const [resource, value] of Object.entries(hardOf(q))) {
      if (!isCompute(resource)) continue;
      if (resource !== 'pods' && request[resource] === undefined && request.pods > 0) missing.push(resource);
      limits.push({ quota: q.metadata.name, resource, hard: hardAmount(resource, value) });
    }
    if (missing.length > 0)
      return {
        kind: 'missing',
        message: `failed quota: ${q.metadata.name}: must specify ${missing.sort().join(',')}`,
      };
  }
  return {
    kind: 'check',
    limits,
    amounts: {
      pods: request.pods,
      'limits.cpu': request['limits.cpu'] ?? 0,
      'limits.memory': request['limits.memory'] ?? 0,
    },
  };
}

/** A container's (or a build's) `resources.limits` as ledger amounts: millicores and bytes. */
export function limitsAmounts(limits: unknown): { cpu?: number; memory?: number } {
  const l = (limits ?? {}) as { cpu?: string | number; memory?: string | number };
  return {
    ...(l.cpu === undefined ? {} : { cpu: Math.round(cpuCores(l.cpu) * 1000) }),
    ...(l.memory === undefined ? {} : { memory: memoryBytes(l.memory) }),
  };
}

/** A Build's request: one pod, with its `spec.resources.limits`. */
export function buildRequest(build: Resource): ComputeRequest {
  const a = limitsAmounts(
    (build.spec as { resources?: { limits?: unknown } } | undefined)?.resources?.limits,
  );
  return { pods: 1, 'limits.cpu': a.cpu, 'limits.memory': a.memory };
}

/**
 * `replicas` pods of a pod template: each pod's limits are the sum of its containers'
 * (undefined when one container has none, as Kubernetes then refuses the pod).
 */
export function replicasRequest(template: unknown, replicas: number): ComputeRequest {
  let cpu: number | undefined = 0;
  let memory: number | undefined = 0;
  const t = template as { spec?: { containers?: { resources?: { limits?: unknown } }[] } } | undefined;
  for (const c of t?.spec?.containers ?? []) {
    const a = limitsAmounts(c.resources?.limits);
    cpu = cpu === undefined || a.cpu === undefined ? undefined : cpu + a.cpu;
    memory = memory === undefined || a.memory === undefined ? undefined : memory + a.memory;
  }
  return {
    pods: replicas,
    'limits.cpu': cpu === undefined ? undefined : cpu * replicas,
    'limits.memory': memory === undefined ? undefined : memory * replicas,
  };
}

/** A ledger amount in Kubernetes' notation: counts as they are, `500m`/`2` cpu, `512Mi` memory. */
export function formatAmount(resource: string, amount: number): string {
  if (resource === 'limits.cpu') return amount % 1000 === 0 ? String(amount / 1000) : `${amount}m`;
  if (resource === 'limits.memory') {
    for (const [suffix, factor] of [
      ['Ti', 2 ** 40],
      ['Gi', 2 ** 30],
      ['Mi', 2 ** 20],
      ['Ki', 2 ** 10],
    ] as const)
      if (amount >= factor && amount % factor === 0) return `${amount / factor}${suffix}`;
    return String(amount);
  }
  return String(amount);
}

/** Kubernetes' refusal: `exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1`. */
export function exceededMessage(e: QuotaLimit & { used: number; requested: number }): string {
  const f = (n: number): string => `${e.resource}=${formatAmount(e.resource, n)}`;
  return `exceeded quota: ${e.quota}, requested: ${f(e.requested)}, used: ${f(e.used)}, limited: ${f(e.hard)}`;
}

/** Kubernetes' 403 for a create past a count quota (every store words it the same). */
export function countExceeded(
  info: KindInfo,
  name: string,
  e: QuotaLimit & { used: number },
): ForbiddenError {
  return new ForbiddenError(
    `${info.plural}${info.group ? `.${info.group}` : ''} "${name}" is forbidden: ${exceededMessage({ ...e, requested: 1 })}`,
  );
}

/** `status` of a quota: `hard` as written, `used` in the same names from `usedOf`. */
export function quotaStatus(
  quota: Resource,
  usedOf: (resource: string) => number,
): { hard: Record<string, unknown>; used: Record<string, string> } {
  const hard = hardOf(quota);
  const used: Record<string, string> = {};
  for (const resource of Object.keys(hard)) used[resource] = formatAmount(resource, usedOf(resource));
  return { hard, used };
}
