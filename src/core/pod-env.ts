/**
 * Pure: the environment a replica's container starts with — Kubernetes' service
 * variables for the project's Services, `envFrom` Secrets, then the container's own `env`
 * — and the CreateContainerConfigError a missing Secret or key is.
 *
 * Service variables: https://kubernetes.io/docs/concepts/services-networking/service/#environment-variables
 */
import type { EnvVar } from './build-types.js';
import type { ServiceSpec } from './deploy-types.js';
import type { Resource } from './resource.js';

export interface ResolvedEnv {
  name: string;
  value: string;
}

/** `my-db` → `MY_DB`: how Kubernetes names a Service's variables. */
export function serviceEnvPrefix(serviceName: string): string {
  return serviceName.toUpperCase().replace(/[-.]/g, '_');
}

/**
 * Kubernetes' variables for each Service: `{SVC}_SERVICE_HOST`, `{SVC}_SERVICE_PORT`,
 * `{SVC}_SERVICE_PORT_{NAME}` for named ports, `{SVC}_PORT` and, per port,
 * `{SVC}_PORT_{P}_{PROTO}` with `_PROTO`, `_PORT`, `_ADDR`.
 *
 * On the local target a Service is its name on the project's network (the replicas it
 * selects answer to it), and the port that answers there is the container's: HOST is
 * the Service's name and PORT its `targetPort` when that is a number (else `port`).
 */
export function serviceEnvVars(services: readonly Resource[]): ResolvedEnv[] {
  const out: ResolvedEnv[] = [];
  const sorted = [...services].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const svc of sorted) {
    const ports = (svc.spec as ServiceSpec | undefined)?.ports ?? [];
    if (ports.length === 0) continue;
    const prefix = serviceEnvPrefix(svc.metadata.name);
    const host = svc.metadata.name;
    const reachable = ports.map((p) => (typeof p.targetPort === 'number' ? p.targetPort : p.port));
    const first = reachable[0]!;
    const firstProto = (ports[0]!.protocol ?? 'TCP').toLowerCase();
    out.push({ name: `${prefix}_SERVICE_HOST`, value: host });
    out.push({ name: `${prefix}_SERVICE_PORT`, value: String(first) });
    for (const [i, p] of ports.entries())
      if (p.name)
        out.push({ name: `${prefix}_SERVICE_PORT_${serviceEnvPrefix(p.name)}`, value: String(reachable[i]) });
    out.push({ name: `${prefix}_PORT`, value: `${firstProto}://${host}:${first}` });
    for (const [i, p] of ports.entries()) {
      const proto = p.protocol ?? 'TCP';
      const port = reachable[i]!;
      const key = `${prefix}_PORT_${port}_${proto}`;
      out.push({ name: key, value: `${proto.toLowerCase()}://${host}:${port}` });
      out.push({ name: `${key}_PROTO`, value: proto.toLowerCase() });
      out.push({ name: `${key}_PORT`, value: String(port) });
      out.push({ name: `${key}_ADDR`, value: host });
    }
  }
  return out;
}

/** A Secret or ConfigMap a container needs and cannot have: the container is not created. */
export class ContainerConfigError extends Error {
  readonly reason = 'CreateContainerConfigError';
  constructor(message: string) {
    super(`CreateContainerConfigError: ${message}`);
    this.name = this.constructor.name;
  }
}

export interface EnvFromSource {
  prefix?: string | undefined;
  secretRef?: { name: string; optional?: boolean | undefined } | undefined;
  configMapRef?: { name: string; optional?: boolean | undefined } | undefined;
}

/** Reads a Secret's decoded data (or a ConfigMap's `data`), or undefined when it does not exist. */
export type SecretReader = (name: string) => Promise<Record<string, string> | undefined>;

// Kubernetes' rule for names that envFrom may bring in (a C identifier-ish name).
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * The container's environment in Kubernetes' order, a later name replacing an earlier:
 * service variables, then `envFrom`, then `env`. Secret values go only into the answer,
 * never into an error message.
 */
export async function resolveContainerEnv(input: {
  namespace: string;
  services: readonly Resource[];
  envFrom: readonly EnvFromSource[];
  env: readonly EnvVar[];
  readSecret: SecretReader;
  readConfigMap: SecretReader;
}): Promise<ResolvedEnv[]> {
  const merged = new Map<string, string>();
  for (const e of serviceEnvVars(input.services)) merged.set(e.name, e.value);
  for (const src of input.envFrom) {
    const ref = src.secretRef ?? src.configMapRef;
    if (!ref) continue;
    const kind = src.secretRef ? 'secret' : 'configmap';
    const data = await (src.secretRef ? input.readSecret : input.readConfigMap)(ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new ContainerConfigError(`${kind} "${ref.name}" not found`);
    }
    // Kubernetes skips keys that are not valid variable names (and reports them as an event).
    for (const [k, v] of Object.entries(data))
      if (ENV_NAME.test(`${src.prefix ?? ''}${k}`)) merged.set(`${src.prefix ?? ''}${k}`, v);
  }
  for (const e of input.env) {
    if (e.value !== undefined || e.valueFrom === undefined) {
      merged.set(e.name, e.value ?? '');
      continue;
    }
    const from = e.valueFrom as {
      secretKeyRef?: { name: string; key: string; optional?: boolean };
      configMapKeyRef?: { name: string; key: string; optional?: boolean };
    };
    const ref = from.secretKeyRef ?? from.configMapKeyRef;
    if (!ref)
      throw new ContainerConfigError(
        `env ${e.name}: the local Docker target resolves only valueFrom.secretKeyRef and configMapKeyRef`,
      );
    const secret = from.secretKeyRef !== undefined;
    const data = await (secret ? input.readSecret : input.readConfigMap)(ref.name);
    const value = data?.[ref.key];
    if (value === undefined) {
      if (ref.optional) continue;
      throw new ContainerConfigError(
        data
          ? `couldn't find key ${ref.key} in ${secret ? 'Secret' : 'ConfigMap'} ${input.namespace}/${ref.name}`
          : `${secret ? 'secret' : 'configmap'} "${ref.name}" not found`,
      );
    }
    merged.set(e.name, value);
  }
  return [...merged].map(([name, value]) => ({ name, value }));
}
