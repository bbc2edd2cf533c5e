/**
 * The local Docker target: each replica of a revision is a container labelled with its
 * namespace, DeploymentConfig and revision, on a network of its own per namespace, its
 * ports published on ephemeral 127.0.0.1 ports. Revisions (ReplicationControllers) are
 * kept in Slipway's store, since Docker has nowhere to keep them; readiness is kept in
 * Redis by the replica monitor (replica-monitor.ts). Nothing lives only in this process,
 * so a restarted Slipway re-adopts its containers by label.
 */
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { EnvVar } from '../../core/build-types.js';
import type { ServiceSpec } from '../../core/deploy-types.js';
import { AlreadyExistsError, InputError, NotFoundError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { lookupKind, type Resource } from '../../core/resource.js';
import { resolveContainerEnv } from '../../core/pod-env.js';
import { secretData, secretValue } from '../../core/secret-types.js';
import type { ResourceStore } from '../../store/resource-store.js';
import {
  REVISION_ANNOTATIONS,
  REVISION_LABELS,
  revisionVersion,
  type ClaimVolumes,
  type DeployTarget,
  type PodResult,
  type PodRunSpec,
  type ReplicationController,
  type RevisionStatus,
  type WaitOptions,
} from '../target.js';
import {
  claimVolumeName,
  DOCKER_LABELS,
  mountsFor,
  networkName,
  replicaCondition,
  replicaCreateOptions,
  resourceLimits,
  type ReplicaCondition,
} from './replicas.js';
import { ReplicaStateStore, selectorMatches, type ReplicaState } from './replica-state.js';
import { API_HOST_NAME, startApiRelay } from './api-relay.js';
import { dockerClaimVolumes } from './claims.js';

export const REPLICATION_CONTROLLER = lookupKind('v1', 'ReplicationController')!;
const SECRET = lookupKind('v1', 'Secret')!;
const CONFIG_MAP = lookupKind('v1', 'ConfigMap')!;
const SERVICE = lookupKind('v1', 'Service')!;
const DEPLOYMENT_CONFIG = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;

export interface DockerTargetOptions {
  docker: Docker;
  store: ResourceStore;
  states: ReplicaStateStore;
  logger: Logger;
  /**
   * How long a replica stays out of the router before it is stopped: the router re-reads
   * replica states every 200 ms, so 1 s covers two refreshes and short in-flight requests.
   */
  drainMs?: number;
}

/** Splits Docker's multiplexed log stream (8-byte frame headers) into text. */
export function demuxDockerLogs(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length) {
    const type = buf[i];
    const size = buf.readUInt32BE(i + 4);
    if (type !== 0 && type !== 1 && type !== 2) return buf.toString('utf8'); // a TTY stream: not framed
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out;
}

function tail(text: string, maxLines = 200): string {
  const lines = text.replace(/\n$/, '').split('\n');
  return lines.slice(-maxLines).join('\n');
}

export class DockerTarget implements DeployTarget {
  readonly name = 'docker';
  private readonly docker: Docker;
  private readonly store: ResourceStore;
  private readonly states: ReplicaStateStore;
  private readonly logger: Logger;
  private readonly drainMs: number;
  /** One scale at a time per revision in this process (two would both count and overshoot). */
  private readonly locks = new Map<string, Promise<void>>();

  constructor(options: DockerTargetOptions) {
    this.docker = options.docker;
    this.store = options.store;
    this.states = options.states;
    this.logger = options.logger;
    this.drainMs = options.drainMs ?? 1000;
  }

  async ensureRevision(rc: ReplicationController): Promise<ReplicationController> {
    const containers = rc.spec.template.spec.containers;
    if (containers.length !== 1) {
      throw new InputError(
        `ReplicationController "${rc.metadata.name}": the local Docker target runs one container per replica; the template has ${containers.length}`,
        {
          causes: [
            {
              field: 'spec.template.spec.containers',
              message: 'must have exactly one container on the local target',
            },
          ],
        },
      );
    }
    const empty = containers.find((c) => !c.image);
    if (empty)
      throw new InputError(
        `ReplicationController "${rc.metadata.name}": container "${empty.name}" has no image; images are resolved before a revision is made`,
      );
    try {
      return (await this.store.create(REPLICATION_CONTROLLER, rc)) as ReplicationController;
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      return (await this.getRevision(rc.metadata.namespace!, rc.metadata.name))!;
    }
  }

  async getRevision(namespace: string, name: string): Promise<ReplicationController | undefined> {
    return (await this.store.get(REPLICATION_CONTROLLER, namespace, name)) as
      ReplicationController | undefined;
  }

  async listRevisions(namespace: string, deploymentConfig: string): Promise<ReplicationController[]> {
    const all = (await this.store.list(
      REPLICATION_CONTROLLER,
      namespace,
      `${REVISION_LABELS.configName}=${deploymentConfig}`,
    )) as ReplicationController[];
    return all.sort((a, b) => revisionVersion(a) - revisionVersion(b));
  }

  async annotateRevision(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
  ): Promise<ReplicationController> {
    return (await this.store.update(REPLICATION_CONTROLLER, namespace, name, (cur) => {
      const next = { ...(cur.metadata.annotations ?? {}) };
      for (const [k, v] of Object.entries(annotations)) {
        if (v === null) delete next[k];
        else next[k] = v;
      }
      cur.metadata.annotations = next;
      return cur;
    })) as ReplicationController;
  }

  async scaleRevision(
    namespace: string,
    name: string,
    replicas: number,
    options: WaitOptions,
  ): Promise<void> {
    const key = `${namespace}/${name}`;
    const previous = this.locks.get(key) ?? Promise.resolve();
    // The Redis lease makes the step exclusive across processes too (the reconciler, other workers).
    const run = previous
      .catch(() => undefined)
      .then(() =>
        this.states.leases.run(namespace, name, { wait: true, signal: options.signal }, () =>
          this.scaleNow(namespace, name, replicas, options),
        ),
      );
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, settled);
    try {
      await run;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }

  private async scaleNow(
    namespace: string,
    name: string,
    replicas: number,
    options: WaitOptions,
  ): Promise<void> {
    if (options.signal.aborted) throw options.signal.reason as Error;
    const rc = (await this.store.update(REPLICATION_CONTROLLER, namespace, name, (cur) => {
      if ((cur.spec as ReplicationController['spec']).replicas === replicas) return undefined;
      (cur.spec as ReplicationController['spec']).replicas = replicas;
      return cur;
    })) as ReplicationController;
    const draining = await this.states.draining();
    const all = (await this.replicaContainers(namespace, name)).filter((c) => !draining.has(c.Id));
    const conditions = await this.conditions(all);
    // Dead replicas count for nothing and go; a settling one may yet restart, so it still counts.
    await this.removeDead(all.filter((c) => conditions.get(c.Id) === 'dead').map((c) => c.Id));
    const containers = all.filter((c) => conditions.get(c.Id) !== 'dead');
    if (containers.length < replicas) {
      await this.addReplicas(rc, replicas - containers.length, options.signal);
    } else if (containers.length > replicas) {
      const states = new Map((await this.states.list()).map((s) => [s.id, s]));
      // Kubernetes removes not-ready replicas first, then the newest.
      const victims = [...containers]
        .sort(
          (a, b) =>
            Number(states.get(a.Id)?.ready ?? false) - Number(states.get(b.Id)?.ready ?? false) ||
            b.Created - a.Created,
        )
        .slice(0, containers.length - replicas);
      await this.removeReplicas(victims.map((c) => c.Id));
    }
  }

  /**
   * The reconciler's step for one revision: with its lease (skipped when a rollout or another
   * process holds it), remove dead replicas and bring the live ones back to the recorded
   * `spec.replicas`. A revision whose record or DeploymentConfig is gone is left alone, so a
   * deleted or scaled-down config is never resurrected. Resolves what it did.
   */
  async healRevision(
    namespace: string,
    name: string,
    signal: AbortSignal,
  ): Promise<'busy' | 'gone' | 'settling' | 'healthy' | 'healed'> {
    const lease = { wait: false, signal, maxHoldMs: 60_000 };
    const result = await this.states.leases.run(namespace, name, lease, async () => {
      // Read under the lease: a scale that finished a moment ago is what counts.
      const rc = await this.getRevision(namespace, name);
      if (!rc) return 'gone' as const;
      const dcName = rc.metadata.annotations?.[REVISION_ANNOTATIONS.configName];
      if (!dcName || !(await this.store.get(DEPLOYMENT_CONFIG, namespace, dcName))) return 'gone' as const;
      const draining = await this.states.draining();
      const containers = (await this.replicaContainers(namespace, name)).filter((c) => !draining.has(c.Id));
      const conditions = await this.conditions(containers);
      const values = [...conditions.values()];
      if (values.includes('settling')) return 'settling' as const;
      const live = values.filter((v) => v === 'live').length;
      if (live === rc.spec.replicas && !values.includes('dead')) return 'healthy' as const;
      this.logger.info(
        { revision: `${namespace}/${name}`, live, desired: rc.spec.replicas },
        'replacing dead replicas',
      );
      await this.scaleNow(namespace, name, rc.spec.replicas, { signal });
      return 'healed' as const;
    });
    return result.ran ? result.value : 'busy';
  }

  /** Each container's condition; an exited one is inspected for when it exited. */
  private async conditions(containers: Docker.ContainerInfo[]): Promise<Map<string, ReplicaCondition>> {
    const now = Date.now();
    const out = new Map<string, ReplicaCondition>();
    await Promise.all(
      containers.map(async (c) => {
        let finishedAt: number | undefined;
        if (c.State === 'exited') {
          const info = await this.docker
            .getContainer(c.Id)
            .inspect()
            .catch(() => undefined);
          if (info?.State.Restarting) return void out.set(c.Id, 'live');
          const t = info ? Date.parse(info.State.FinishedAt) : NaN;
          if (Number.isFinite(t)) finishedAt = t;
        }
        out.set(c.Id, replicaCondition(c, now, finishedAt));
      }),
    );
    return out;
  }

  /** Dead replicas serve nothing: removed at once, without a drain. */
  private async removeDead(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await Promise.all(
      ids.map((id) =>
        this.docker
          .getContainer(id)
          .remove({ v: true, force: true })
          .catch((err: unknown) => {
            if ((err as { statusCode?: number }).statusCode !== 404) throw err;
          }),
      ),
    );
    await this.states.remove(ids);
  }

  /** The revision's replica containers, running or not. */
  private async replicaContainers(namespace: string, revision: string): Promise<Docker.ContainerInfo[]> {
    return this.docker.listContainers({
      all: true,
      filters: {
        label: [
          `${DOCKER_LABELS.managed}=replica`,
          `${DOCKER_LABELS.namespace}=${namespace}`,
          `${DOCKER_LABELS.revision}=${revision}`,
        ],
      },
    });
  }

  private async addReplicas(rc: ReplicationController, count: number, signal: AbortSignal): Promise<void> {
    const ns = rc.metadata.namespace!;
    const c = rc.spec.template.spec.containers[0]!;
    try {
      await this.ensureImage(c.image!, c.imagePullPolicy, signal);
      const network = await this.ensureNetwork(ns);
      const podLabels = rc.spec.template.metadata?.labels ?? {};
      const services = await this.store.list(SERVICE, ns);
      // Kubernetes' service variables for the Services there are now, envFrom, then env.
      const env = await resolveContainerEnv({
        namespace: ns,
        // Kubernetes' switch for the service variables (default on).
        services: rc.spec.template.spec.enableServiceLinks === false ? [] : services,
        envFrom: c.envFrom ?? [],
        env: c.env ?? [],
        readSecret: async (name) => {
          const secret = await this.store.get(SECRET, ns, name);
          return secret ? secretData(secret as { data?: Record<string, string> | null }) : undefined;
        },
        readConfigMap: async (name) => {
          const cm = await this.store.get(CONFIG_MAP, ns, name);
          return cm ? { ...((cm as { data?: Record<string, string> | null }).data ?? {}) } : undefined;
        },
      });
      const aliases = [
        rc.metadata.annotations?.[REVISION_ANNOTATIONS.configName] ?? rc.metadata.name,
        ...services
          .filter((s) => selectorMatches((s.spec as ServiceSpec | undefined)?.selector, podLabels))
          .map((s) => s.metadata.name),
      ];
      for (let i = 0; i < count; i++) {
        if (signal.aborted) throw signal.reason as Error;
        const options = replicaCreateOptions({
          namespace: ns,
          deploymentConfig: rc.metadata.annotations?.[REVISION_ANNOTATIONS.configName] ?? '',
          revision: rc.metadata.name,
          template: rc.spec.template,
          env: [
            ...env,
            // What a pod's downward API commonly gives; OpenShift sets these on every replica.
            { name: 'OPENSHIFT_DEPLOYMENT_NAME', value: rc.metadata.name },
            { name: 'OPENSHIFT_DEPLOYMENT_NAMESPACE', value: ns },
          ],
          network,
          aliases: [...new Set(aliases)],
          containerName: `slipway-${ns}-${rc.metadata.name}-${randomBytes(3).toString('hex')}`,
        });
        await this.startReplica(ns, options);
      }
      await this.states.setFailure(ns, rc.metadata.name, undefined);
    } catch (err) {
      if (signal.aborted) throw err;
      const message = `cannot create replicas of ${rc.metadata.name}: ${errorMessage(err)}`;
      this.logger.warn({ revision: `${ns}/${rc.metadata.name}` }, message);
      // Like a pod stuck in ErrImagePull: the rollout sees it in `failures` and times out.
      await this.states.setFailure(ns, rc.metadata.name, message);
    }
  }

  /**
   * Creates and starts one replica. Two processes making a namespace's first replicas at
   * once can each create its network (ensureNetwork); until one of them removes the
   * duplicate, Docker refuses a container on it as "network … is ambiguous (2 matches
   * found on name)". That refusal is retried, after removing the duplicate, a few times;
   * a container that was created but could not start for it is removed first.
   */
  private async startReplica(namespace: string, options: Docker.ContainerCreateOptions): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let container: Docker.Container | undefined;
      try {
        container = await this.docker.createContainer(options);
        await container.start();
        return;
      } catch (err) {
        if (attempt >= 5 || !/network .* is ambiguous/.test(errorMessage(err))) throw err;
        await container?.remove({ force: true }).catch(() => undefined);
        await this.ensureNetwork(namespace);
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  /** Out of the router first, then stopped with the grace period, then removed. */
  private async removeReplicas(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.states.markDraining(ids);
    await new Promise((r) => setTimeout(r, this.drainMs));
    await Promise.all(
      ids.map(async (id) => {
        const container = this.docker.getContainer(id);
        await container.stop().catch(() => undefined); // already stopped
        await container.remove({ v: true, force: true }).catch((err: unknown) => {
          if ((err as { statusCode?: number }).statusCode !== 404) throw err;
        });
      }),
    );
    await this.states.remove(ids);
  }

  async revisionStatus(namespace: string, name: string): Promise<RevisionStatus> {
    const rc = await this.getRevision(namespace, name);
    if (!rc) throw new NotFoundError(`ReplicationController "${name}" not found in namespace "${namespace}"`);
    const [containers, draining, states, failure] = await Promise.all([
      this.replicaContainers(namespace, name),
      this.states.draining(),
      this.states.list(),
      this.states.failure(namespace, name),
    ]);
    const byId = new Map(states.map((s) => [s.id, s]));
    const kept = containers.filter((c) => !draining.has(c.Id));
    // Only live replicas count as current: a dead one is about to be replaced, not serving.
    const conditions = await this.conditions(kept);
    const live = kept.filter((c) => conditions.get(c.Id) !== 'dead');
    const minReadyMs = (rc.spec.minReadySeconds ?? 0) * 1000;
    const now = Date.now();
    let ready = 0;
    let available = 0;
    const failures: string[] = failure ? [failure] : [];
    const notReady: string[] = [];
    for (const c of kept) {
      const s: ReplicaState | undefined = byId.get(c.Id);
      if (c.State !== 'running') {
        failures.push(`replica ${c.Names[0]?.replace(/^\//, '')} is ${c.State} (${c.Status})`);
        continue;
      }
      if (s?.ready) {
        ready++;
        if ((s.readySince ?? now) <= now - minReadyMs) available++;
      } else if (s?.message) {
        notReady.push(`${s.name}: ${s.message}`);
      }
      if (s && s.restarts > 0 && s.message)
        failures.push(`replica ${s.name} restarted ${s.restarts} time(s): ${s.message}`);
    }
    return { desired: rc.spec.replicas, current: live.length, ready, available, failures, notReady };
  }

  async deleteRevision(namespace: string, name: string, options: WaitOptions): Promise<void> {
    if (await this.getRevision(namespace, name)) {
      await this.scaleRevision(namespace, name, 0, options).catch((err: unknown) => {
        // Deleted meanwhile by another deleter (the controller, when a project goes): the rest below.
        if (!(err instanceof NotFoundError)) throw err;
      });
    }
    // Replicas left behind by a revision whose record is already gone go too.
    const strays = await this.replicaContainers(namespace, name);
    await this.removeReplicas(strays.map((c) => c.Id));
    await this.states.setFailure(namespace, name, undefined);
    await this.store.delete(REPLICATION_CONTROLLER, namespace, name).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
  }

  async deleteNamespace(namespace: string, options: WaitOptions): Promise<void> {
    const label = `${DOCKER_LABELS.namespace}=${namespace}`;
    // Revisions first, each under its lease: with its record gone, the replica healer
    // (reconciler.ts) has nothing left to bring back.
    for (const rc of await this.store.list(REPLICATION_CONTROLLER, namespace))
      await this.deleteRevision(namespace, rc.metadata.name, options);
    // Replicas, hook and deployer pods alike: whatever still runs for the namespace.
    const containers = await this.docker.listContainers({ all: true, filters: { label: [label] } });
    await this.removeReplicas(containers.map((c) => c.Id));
    // Claims' volumes: labelled when the claim made them, unlabelled when a replica's
    // mount made one first (Docker creates a missing named volume); both by their name.
    const claimVolumePrefix = claimVolumeName(namespace, 'x').slice(0, -1);
    const volumes = new Set<string>();
    for (const v of (await this.docker.listVolumes({ filters: { label: [label] } })).Volumes ?? [])
      volumes.add(v.Name);
    for (const v of (await this.docker.listVolumes({ filters: { name: [claimVolumePrefix] } })).Volumes ?? [])
      if (v.Name.startsWith(claimVolumePrefix)) volumes.add(v.Name);
    for (const name of volumes)
      await this.docker
        .getVolume(name)
        .remove()
        .catch((err: unknown) => {
          if ((err as { statusCode?: number }).statusCode !== 404) throw err;
        });
    // By label, and by name for a network made before networks were labelled.
    const networks = await this.docker.listNetworks({ filters: { label: [label] } });
    const ids = new Set(networks.map((n) => n.Id));
    const named = await this.docker.listNetworks({ filters: { name: [networkName(namespace)] } });
    for (const n of named) if (n.Name === networkName(namespace)) ids.add(n.Id);
    for (const id of ids)
      await this.docker
        .getNetwork(id)
        .remove()
        .catch((err: unknown) => {
          if ((err as { statusCode?: number }).statusCode !== 404) throw err;
        });
    const revisions = new Set(containers.map((c) => c.Labels[DOCKER_LABELS.revision]).filter(Boolean));
    for (const rc of revisions) await this.states.setFailure(namespace, rc!, undefined);
  }

  async runPod(spec: PodRunSpec, options: WaitOptions): Promise<PodResult> {
    const { signal } = options;
    await this.ensureImage(spec.image, undefined, signal);
    const env = [...(await this.resolveEnv(spec.namespace, spec.env))];
    // Hooks and deployers run on the namespace's network, never the host's: a deployer
    // reaches the API through a relay on the network's gateway (api-relay.ts).
    const networkMode = await this.ensureNetwork(spec.namespace);
    const relay = spec.apiAccess
      ? await startApiRelay({
          bindAddress: await this.networkGateway(networkMode),
          upstream: spec.apiAccess.url,
        })
      : undefined;
    if (relay && spec.apiAccess)
      env.push(
        { name: 'SLIPWAY_API_URL', value: relay.url },
        { name: 'SLIPWAY_TOKEN', value: spec.apiAccess.token },
      );
    const create: Docker.ContainerCreateOptions = {
      name: `slipway-${spec.namespace}-${spec.name}-${randomBytes(3).toString('hex')}`,
      Image: spec.image,
      Env: env.map((e) => `${e.name}=${e.value}`),
      Labels: {
        ...spec.labels,
        [DOCKER_LABELS.managed]: 'pod',
        [DOCKER_LABELS.namespace]: spec.namespace,
      },
      HostConfig: {
        NetworkMode: networkMode,
        ...(relay ? { ExtraHosts: [`${API_HOST_NAME}:${relay.address}`] } : {}),
        Mounts: mountsFor(spec.namespace, spec.volumes ?? [], spec.volumeMounts ?? []),
        ...resourceLimits(spec.resources),
      },
    };
    if (spec.command) create.Entrypoint = spec.command;
    if (spec.args) create.Cmd = spec.args;
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(create);
    } catch (err) {
      await relay?.close();
      throw err;
    }
    const stop = (): void => void container.stop({ t: 2 }).catch(() => undefined);
    signal.addEventListener('abort', stop, { once: true });
    try {
      await container.start();
      if (relay) {
        const info = await container.inspect();
        // Keyed by network name; ensureNetwork answers with the network's id.
        const ip = Object.values(info.NetworkSettings.Networks).find(
          (n) => n.NetworkID === networkMode,
        )?.IPAddress;
        if (ip) relay.admit(ip);
      }
      const result = (await container.wait()) as { StatusCode: number };
      const logs = demuxDockerLogs(
        (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer,
      );
      if (signal.aborted) throw signal.reason as Error;
      return { exitCode: result.StatusCode, logs: tail(logs) };
    } finally {
      signal.removeEventListener('abort', stop);
      await relay?.close();
      await container.remove({ force: true, v: true }).catch(() => undefined);
    }
  }

  /** The built-in router reads Services from the store itself; a Service needs only validating here. */
  async applyService(service: Resource): Promise<void> {
    const spec = service.spec as ServiceSpec | undefined;
    if (!spec?.ports?.length)
      throw new InputError(`Service "${service.metadata.name}": spec.ports must have at least one port`);
  }

  async deleteService(): Promise<void> {
    // Nothing is materialised for a Service on the local target: the router stops routing to it by itself.
  }

  claimVolumes(): ClaimVolumes {
    return dockerClaimVolumes(this.docker, this.logger);
  }

  async close(): Promise<void> {
    await Promise.all([...this.locks.values()]);
  }

  private async ensureImage(image: string, policy: string | undefined, signal: AbortSignal): Promise<void> {
    if (policy !== 'Always') {
      try {
        await this.docker.getImage(image).inspect();
        return;
      } catch {
        // not present: pull
      }
    }
    if (policy === 'Never') throw new Error(`image "${image}" is not present and imagePullPolicy is Never`);
    const stream = (await this.docker.pull(image, { abortSignal: signal })) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
        const failed = out?.find((m) => m.error);
        if (err || failed)
          reject(new Error(`cannot pull image "${image}": ${err?.message ?? failed?.error}`));
        else resolve();
      });
    });
  }

  /** The host's address on a bridge network, where a relay for its containers listens. */
  private async networkGateway(network: string): Promise<string> {
    const info = (await this.docker.getNetwork(network).inspect()) as {
      IPAM?: { Config?: { Gateway?: string }[] };
    };
    const gateway = info.IPAM?.Config?.find((c) => c.Gateway && !c.Gateway.includes(':'))?.Gateway;
    if (!gateway)
      throw new Error(
        `Docker network ${network} has no IPv4 gateway for a deployer to reach the API through`,
      );
    return gateway;
  }

  /**
   * The namespace's network, made on first use; returns its id. Docker's duplicate-name
   * check is best effort, so two processes creating it at once can both succeed and
   * leave two networks with one name (containers then fail with "network is
   * ambiguous"). Every process keeps the same one, the oldest, and removes the others.
   */
  private async ensureNetwork(namespace: string): Promise<string> {
    const name = networkName(namespace);
    const named = async (): Promise<Docker.NetworkInspectInfo[]> =>
      (await this.docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);
    if ((await named()).length === 0) {
      try {
        await this.docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          CheckDuplicate: true,
          Labels: { [DOCKER_LABELS.managed]: 'network', [DOCKER_LABELS.namespace]: namespace },
        });
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 409) throw err;
      }
    }
    const [keep, ...extra] = (await named()).sort(
      (a, b) => createdKey(a.Created).localeCompare(createdKey(b.Created)) || a.Id.localeCompare(b.Id),
    );
    if (!keep) throw new Error(`Docker network ${name} was created but cannot be found`);
    for (const n of extra) {
      await this.docker
        .getNetwork(n.Id)
        .remove()
        .catch((err: unknown) =>
          this.logger.warn({ network: n.Id, err: errorMessage(err) }, 'could not remove a duplicate network'),
        );
    }
    return keep.Id;
  }

  /** Values as written; `secretKeyRef` read from the namespace's Secrets. */
  private async resolveEnv(namespace: string, env: EnvVar[]): Promise<{ name: string; value: string }[]> {
    const out: { name: string; value: string }[] = [];
    for (const e of env) {
      if (e.value !== undefined || e.valueFrom === undefined) {
        out.push({ name: e.name, value: e.value ?? '' });
        continue;
      }
      const ref = (e.valueFrom as { secretKeyRef?: { name: string; key: string; optional?: boolean } })
        .secretKeyRef;
      if (!ref)
        throw new InputError(`env ${e.name}: the local Docker target resolves only valueFrom.secretKeyRef`);
      const secret = await this.store.get(SECRET, namespace, ref.name);
      const value = secret ? secretValue(secret as { data?: Record<string, string> }, ref.key) : undefined;
      if (value === undefined) {
        if (ref.optional) continue;
        throw new InputError(
          `env ${e.name}: Secret "${ref.name}" has no key "${ref.key}" in namespace "${namespace}"`,
        );
      }
      out.push({ name: e.name, value });
    }
    return out;
  }
}

/** Docker's `Created` (RFC 3339, fraction of up to 9 digits with trailing zeros cut) as a sortable string. */
function createdKey(created: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(created);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}${m[3]}` : created;
}
