/**
 * Pure: how a revision's pod template becomes a Docker container on the local target —
 * labels, published loopback ports, limits, volumes. Kept apart from the Docker calls so
 * the mapping can be read and tested on its own.
 */
import type Docker from 'dockerode';
import type {
  Container,
  PodTemplateSpec,
  Probe,
  ResourceRequirements,
  Volume,
  VolumeMount,
} from '../../core/deploy-types.js';
import { InputError } from '../../core/errors.js';
import { DNS1123_SUBDOMAIN } from '../../core/resource.js';
import { containerLimits } from '../../core/quantity.js';
import { containerPortOf } from './probes.js';

export const DOCKER_LABELS = {
  /** `replica` on replicas, `pod` on hook and deployer pods. */
  managed: 'slipway.dev/managed',
  namespace: 'slipway.dev/namespace',
  deploymentConfig: 'openshift.io/deployment-config.name',
  revision: 'openshift.io/deployment.name',
  podLabels: 'slipway.dev/pod-labels',
  probes: 'slipway.dev/probes',
  portNames: 'slipway.dev/port-names',
} as const;

export interface ReplicaProbes {
  readiness?: Probe;
  liveness?: Probe;
}

// One quantity parser for replicas, pods and builds (src/core/quantity.ts).
export { cpuCores, memoryBytes } from '../../core/quantity.js';

/** Docker's HostConfig limits for `resources.limits` (requests have no Docker meaning). */
export function resourceLimits(
  resources: ResourceRequirements | undefined,
): Pick<Docker.HostConfig, 'Memory' | 'NanoCpus'> {
  const limits = containerLimits(resources?.limits);
  const out: Pick<Docker.HostConfig, 'Memory' | 'NanoCpus'> = {};
  if (limits.memory !== undefined) out.Memory = limits.memory;
  if (limits.nanoCpus !== undefined) out.NanoCpus = limits.nanoCpus;
  return out;
}

/** Ports to publish: the declared container ports plus any a probe uses by number. */
export function publishedPorts(c: Container): { ports: number[]; portNames: Record<string, number> } {
  const portNames: Record<string, number> = {};
  const ports = new Set<number>();
  for (const p of c.ports ?? []) {
    ports.add(p.containerPort);
    if (p.name) portNames[p.name] = p.containerPort;
  }
  for (const probe of [c.readinessProbe, c.livenessProbe]) {
    const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
    if (port === undefined) continue;
    const n = containerPortOf(port, portNames);
    if (n === undefined)
      throw new InputError(`container "${c.name}": probe port "${port}" is not the name of one of its ports`);
    ports.add(n);
  }
  return { ports: [...ports].sort((a, b) => a - b), portNames };
}

/**
 * The Docker volume of PersistentVolumeClaim `claim` in `namespace`. `_` is in neither a
 * namespace nor a claim name, so two namespaces never share a volume (with `-`,
 * `a-b`/`c` and `a`/`b-c` would).
 */
export function claimVolumeName(namespace: string, claim: string): string {
  if (!DNS1123_SUBDOMAIN.test(namespace) || !DNS1123_SUBDOMAIN.test(claim))
    throw new InputError(
      `persistentVolumeClaim "${claim}": claim and namespace names must be DNS-1123 names`,
    );
  return `slipway-pvc-${namespace}_${claim}`;
}

/** Docker mounts for a container's volumeMounts. */
export function mountsFor(
  namespace: string,
  volumes: Volume[],
  mounts: VolumeMount[],
): Docker.MountSettings[] {
  return mounts.map((m) => {
    const v = volumes.find((vol) => vol.name === m.name);
    if (!v) throw new InputError(`volumeMounts: volume "${m.name}" is not in the pod template's volumes`);
    const readOnly = m.readOnly ?? false;
    if (v.hostPath) return { Type: 'bind', Source: v.hostPath.path, Target: m.mountPath, ReadOnly: readOnly };
    if (v.persistentVolumeClaim) {
      // A claim is a named Docker volume per namespace: it outlives revisions, as a PVC does.
      return {
        Type: 'volume',
        Source: claimVolumeName(namespace, v.persistentVolumeClaim.claimName),
        Target: m.mountPath,
        ReadOnly: readOnly || (v.persistentVolumeClaim.readOnly ?? false),
      };
    }
    if (v.emptyDir) return { Type: 'volume', Source: '', Target: m.mountPath, ReadOnly: readOnly };
    throw new InputError(
      `volume "${v.name}": the local Docker target supports emptyDir, hostPath and persistentVolumeClaim volumes`,
    );
  });
}

export interface ReplicaSpecInput {
  namespace: string;
  deploymentConfig: string;
  revision: string;
  template: PodTemplateSpec;
  /** Resolved environment (secret references already read). */
  env: { name: string; value: string }[];
  network: string;
  /** DNS names the replica answers to on the namespace's network (Service names, the DC name). */
  aliases: string[];
  containerName: string;
}

/** The create options of one replica's container. */
export function replicaCreateOptions(input: ReplicaSpecInput): Docker.ContainerCreateOptions {
  const { template } = input;
  const c = template.spec.containers[0]!;
  if (!c.image)
    throw new InputError(`container "${c.name}" has no image; a replica never starts without one`);
  const { ports, portNames } = publishedPorts(c);
  const podLabels = { ...(template.metadata?.labels ?? {}) };
  const probes: ReplicaProbes = {};
  if (c.readinessProbe) probes.readiness = c.readinessProbe;
  if (c.livenessProbe) probes.liveness = c.livenessProbe;
  const exposed = Object.fromEntries(ports.map((p) => [`${p}/tcp`, {}]));
  // Loopback only, ephemeral: the router and probes reach replicas here, nothing else can.
  const bindings = Object.fromEntries(
    ports.map((p) => [`${p}/tcp`, [{ HostIp: '127.0.0.1', HostPort: '' }]]),
  );
  const options: Docker.ContainerCreateOptions = {
    name: input.containerName,
    Image: c.image,
    Env: input.env.map((e) => `${e.name}=${e.value}`),
    ExposedPorts: exposed,
    Labels: {
      [DOCKER_LABELS.managed]: 'replica',
      [DOCKER_LABELS.namespace]: input.namespace,
      [DOCKER_LABELS.deploymentConfig]: input.deploymentConfig,
      [DOCKER_LABELS.revision]: input.revision,
      [DOCKER_LABELS.podLabels]: JSON.stringify(podLabels),
      [DOCKER_LABELS.probes]: JSON.stringify(probes),
      [DOCKER_LABELS.portNames]: JSON.stringify(portNames),
    },
    StopTimeout: template.spec.terminationGracePeriodSeconds ?? 30,
    HostConfig: {
      PortBindings: bindings,
      // Like a ReplicationController's pods: a crashed replica comes back, a stopped one does not.
      RestartPolicy: { Name: 'unless-stopped' },
      NetworkMode: input.network,
      Mounts: mountsFor(input.namespace, template.spec.volumes ?? [], c.volumeMounts ?? []),
      ...resourceLimits(c.resources),
    },
    NetworkingConfig: { EndpointsConfig: { [input.network]: { Aliases: input.aliases } } },
  };
  if (c.command) options.Entrypoint = c.command;
  if (c.args) options.Cmd = c.args;
  if (c.workingDir) options.WorkingDir = c.workingDir;
  return options;
}

/** The namespace's own network: replicas of one namespace reach each other by Service name. */
export function networkName(namespace: string): string {
  return `slipway-${namespace}`;
}

/**
 * What a replica container means to its ReplicationController:
 * - `live`: running, paused, restarting under its restart policy, or just created (a scale
 *   step between create and start) — it counts toward `replicas`;
 * - `settling`: exited a moment ago; the engine may yet restart it, so nobody acts on it;
 * - `dead`: exited or removed past its restart policy (`docker kill`, `docker stop`, OOM
 *   without a restart, a create that never started) — to be removed and replaced.
 */
export type ReplicaCondition = 'live' | 'settling' | 'dead';

export const REPLICA_TIMINGS = {
  /** A container left in `created` this long was never started: dead. */
  createdGraceMs: 60_000,
  /** An exit this recent may still turn into a restart. */
  settleMs: 1500,
} as const;

/** Pure: `finishedAt` is the exit time (ms since the epoch) from an inspect, when known. */
export function replicaCondition(
  c: Pick<Docker.ContainerInfo, 'State' | 'Created'>,
  now: number,
  finishedAt?: number,
): ReplicaCondition {
  switch (c.State) {
    case 'running':
    case 'paused':
    case 'restarting':
      return 'live';
    case 'created':
      return now - c.Created * 1000 < REPLICA_TIMINGS.createdGraceMs ? 'live' : 'dead';
    case 'exited':
      return finishedAt !== undefined && now - finishedAt < REPLICA_TIMINGS.settleMs ? 'settling' : 'dead';
    default:
      // `dead`, `removing`: going or gone.
      return 'dead';
  }
}
