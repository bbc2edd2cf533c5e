/**
 * Kubernetes resource quantities (`500m`, `0.5`, `128Mi`, `1G`), the one parser every
 * limit goes through: replicas and pods on the local target, build containers.
 * https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
 */
import { InputError } from './errors.js';

const QUANTITY = /^(\d+(?:\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

const FACTORS: Record<string, number> = {
  '': 1,
  m: 0.001,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A quantity as a plain number (`128Mi` → 134217728, `500m` → 0.5). */
export function parseQuantity(q: string | number, what = 'quantity'): number {
  if (typeof q === 'number') {
    if (!Number.isFinite(q) || q < 0) throw new InputError(`${what} quantity ${q} is not valid`);
    return q;
  }
  const m = QUANTITY.exec(q.trim());
  if (!m)
    throw new InputError(
      `${what} quantity "${q}" is not valid; use one such as "500m", "1", "128Mi" or "1G"`,
    );
  return Number(m[1]) * FACTORS[m[2] ?? '']!;
}

/** `128Mi`, `1G`, `512` → bytes (rounded up: a limit is never loosened by rounding). */
export function memoryBytes(q: string | number): number {
  return Math.ceil(parseQuantity(q, 'memory'));
}

/** `500m`, `2`, `0.5` → CPUs. */
export function cpuCores(q: string | number): number {
  return parseQuantity(q, 'cpu');
}

export interface ContainerLimits {
  /** Bytes. */
  memory?: number;
  /** Billionths of a CPU, as Docker's NanoCpus. */
  nanoCpus?: number;
}

/** `resources.limits` (memory, cpu) as numbers; requests have no meaning to Docker. */
export function containerLimits(
  limits: { memory?: string | number | undefined; cpu?: string | number | undefined } | null | undefined,
): ContainerLimits {
  const out: ContainerLimits = {};
  if (limits?.memory !== undefined) out.memory = memoryBytes(limits.memory);
  if (limits?.cpu !== undefined) out.nanoCpus = Math.round(cpuCores(limits.cpu) * 1e9);
  return out;
}
