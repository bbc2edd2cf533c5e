/**
 * The Kubernetes target: each revision is a real ReplicationController `{dc}-{N}` in the
 * cluster, with OpenShift's labels and annotations, scaled by the strategies; the
 * cluster's RC controller makes the pods, the kubelet decides readiness (the pods' Ready
 * condition) and the endpoints controller keeps not-ready and terminating pods out of
 * Services, so zero-downtime is the cluster's job, not Slipway's. Hooks and Custom
 * deployers run as Pods with restartPolicy Never. Nothing is kept in this process: the
 * rollout history is the RCs and their annotations, as in OpenShift.
 *
 * Written against `@kubernetes/client-node` (1.x). See docs/kubernetes-target.md for the
 * decisions and README "Kubernetes target" for what was tested and how.
 */
import {
  Watch,
  type KubeConfig,
  type V1Ingress,
  type V1Pod,
  type V1ReplicationController,
  type V1Secret,
  type V1Service,
} from '@kubernetes/client-node';
import { AlreadyExistsError, ConflictError, NotFoundError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Resource } from '../../core/resource.js';
import { sleep } from '../strategy.js';
import {
  MANAGED_BY_LABEL,
  REVISION_ANNOTATIONS,
  REVISION_LABELS,
  ROLLOUT_POD_LABELS,
  revisionVersion,
  type DeployTarget,
  type PodResult,
  type PodRunSpec,
  type ReplicationController,
  type RevisionStatus,
  type WaitOptions,
} from '../target.js';
import {
  MERGE_PATCH,
  kubeError,
  makeClients,
  plain,
  retryOnConflict,
  type KubeClients,
} from './kube-client.js';
import {
  apiSecretManifest,
  apiSecretName,
  ingressManifest,
  podContainerName,
  revisionManifest,
  routeTlsSecret,
  routeTlsSecretName,
  runPodManifest,
  serviceManifest,
} from './manifests.js';
import {
  controllerFailures,
  labelSelector,
  ownedPods,
  podIsActive,
  podOutcome,
  revisionStatusFrom,
  type KubePod,
} from './pod-status.js';

export interface KubernetesTargetOptions {
  kubeConfig: KubeConfig;
  logger?: Logger;
  /** How often the waits of `scaleRevision` poll the API server. */
  pollIntervalMs?: number;
  /**
   * How long past its deletion deadline (deletionTimestamp, which already includes the
   * grace period) a terminating pod is waited for. A pod on an unreachable node stays
   * Terminating until the node controller evicts it (minutes); it is already out of every
   * Service's endpoints, so after this the scale-down counts it as gone.
   */
  terminationSlackMs?: number;
  /** Lines of a one-off pod's log returned in PodResult.logs. */
  logTailLines?: number;
  /**
   * Custom deployer pods on the node's network (SLIPWAY_KUBE_DEPLOYER_HOST_NETWORK): how
   * they reach APIs on the node's loopback on a single-node cluster without a pod network.
   */
  deployerHostNetwork?: boolean;
}

/**
 * Whether a ReplicationController is one Slipway made: it carries MANAGED_BY_LABEL, or,
 * made before that label, Slipway's `slipway.dev/deployment.causes` annotation. Another
 * tool's controller with OpenShift's labels is neither listed, scaled nor deleted.
 */
function madeBySlipway(rc: {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}): boolean {
  return (
    rc.metadata?.labels?.[MANAGED_BY_LABEL.key] === MANAGED_BY_LABEL.value ||
    rc.metadata?.annotations?.[REVISION_ANNOTATIONS.causes] !== undefined
  );
}

function withKind(rc: V1ReplicationController): ReplicationController {
  // List responses leave apiVersion/kind off their items; Slipway's objects always carry them.
  return { ...plain<ReplicationController>(rc), apiVersion: 'v1', kind: 'ReplicationController' };
}

export class KubernetesTarget implements DeployTarget {
  readonly name = 'kubernetes';
  readonly clients: KubeClients;
  private readonly logger: Logger | undefined;
  private readonly pollIntervalMs: number;
  private readonly terminationSlackMs: number;
  private readonly logTailLines: number;
  private readonly deployerHostNetwork: boolean;
  /** Watches in flight, ended by `close()`. */
  private readonly inFlight = new Set<AbortController>();
  /** Fires on `close()`: every wait of this target ends with it. */
  private readonly closing = new AbortController();

  constructor(options: KubernetesTargetOptions) {
    this.clients = makeClients(options.kubeConfig);
    this.logger = options.logger;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.terminationSlackMs = options.terminationSlackMs ?? 30_000;
    this.logTailLines = options.logTailLines ?? 200;
    this.deployerHostNetwork = options.deployerHostNetwork ?? false;
  }

  /** Runs one API call, turning the server's Status answer into Slipway's errors. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw kubeError(err, what, this.clients.server);
    }
  }

  private async readOptional<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.call(what, fn);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async ensureRevision(rc: ReplicationController, options: WaitOptions): Promise<ReplicationController> {
    if (options.signal.aborted) throw options.signal.reason as Error;
    const manifest = revisionManifest(rc);
    const namespace = rc.metadata.namespace ?? 'default';
    const what = `creating ReplicationController ${namespace}/${rc.metadata.name}`;
    try {
      const created = await this.call(what, () =>
        this.clients.core.createNamespacedReplicationController({
          namespace,
          body: manifest as unknown as V1ReplicationController,
        }),
      );
      return withKind(created);
    } catch (err) {
      // A retried rollout job made it already: revisions are immutable, the stored one stands.
      if (!(err instanceof AlreadyExistsError)) throw err;
      const existing = await this.getRevision(namespace, rc.metadata.name);
      if (!existing) throw err;
      if (!madeBySlipway(existing))
        throw new ConflictError(
          `ReplicationController ${namespace}/${rc.metadata.name} already exists in the cluster and was not made by Slipway (no ${MANAGED_BY_LABEL.key}=${MANAGED_BY_LABEL.value} label): rename or remove it`,
        );
      return existing;
    }
  }

  async getRevision(namespace: string, name: string): Promise<ReplicationController | undefined> {
    const rc = await this.readOptional(`reading ReplicationController ${namespace}/${name}`, () =>
      this.clients.core.readNamespacedReplicationController({ namespace, name }),
    );
    return rc ? withKind(rc) : undefined;
  }

  private async requireRevision(namespace: string, name: string): Promise<ReplicationController> {
    const rc = await this.getRevision(namespace, name);
    if (!rc)
      throw new NotFoundError(
        `ReplicationController "${name}" not found in namespace "${namespace}" of the cluster`,
      );
    return rc;
  }

  async listRevisions(namespace: string, deploymentConfig: string): Promise<ReplicationController[]> {
    const list = await this.call(`listing the revisions of ${namespace}/${deploymentConfig}`, () =>
      this.clients.core.listNamespacedReplicationController({
        namespace,
        labelSelector: `${REVISION_LABELS.configName}=${deploymentConfig}`,
      }),
    );
    // Another tool's ReplicationController with OpenShift's label is not a revision of Slipway's.
    return list.items
      .filter(madeBySlipway)
      .map(withKind)
      .sort((a, b) => revisionVersion(a) - revisionVersion(b));
  }

  async annotateRevision(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
  ): Promise<ReplicationController> {
    // A JSON merge patch: `null` removes an annotation, others are left as they are.
    const patched = await retryOnConflict(() =>
      this.call(`annotating ReplicationController ${namespace}/${name}`, () =>
        this.clients.core.patchNamespacedReplicationController(
          { namespace, name, body: { metadata: { annotations } } },
          MERGE_PATCH,
        ),
      ),
    );
    return withKind(patched);
  }

  async scaleRevision(
    namespace: string,
    name: string,
    replicas: number,
    options: WaitOptions,
  ): Promise<void> {
    const signal = AbortSignal.any([options.signal, this.closing.signal]);
    if (signal.aborted) throw signal.reason as Error;
    await retryOnConflict(
      () =>
        this.call(`scaling ReplicationController ${namespace}/${name} to ${replicas}`, () =>
          this.clients.core.patchNamespacedReplicationController(
            { namespace, name, body: { spec: { replicas } } },
            MERGE_PATCH,
          ),
        ),
      { signal },
    );
    for (;;) {
      const rc = await this.requireRevision(namespace, name);
      const pods = ownedPods(rc, await this.listPods(namespace, rc.spec.selector));
      const active = pods.filter(podIsActive).length;
      if (active === replicas) {
        const now = Date.now();
        const lingering = pods.filter(
          (p) =>
            p.metadata.deletionTimestamp &&
            Date.parse(p.metadata.deletionTimestamp) + this.terminationSlackMs > now,
        );
        if (lingering.length === 0) return;
      } else if (active < replicas && controllerFailures(rc).length > 0) {
        // The RC controller cannot create pods (quota, admission): revisionStatus reports
        // why, and the strategy's deadline decides; waiting here would hide the reason.
        return;
      }
      await sleep(this.pollIntervalMs, signal);
    }
  }

  private async listPods(namespace: string, selector: Record<string, string>): Promise<KubePod[]> {
    const list = await this.call(`listing pods ${labelSelector(selector)} in ${namespace}`, () =>
      this.clients.core.listNamespacedPod({ namespace, labelSelector: labelSelector(selector) }),
    );
    return plain<KubePod[]>(list.items);
  }

  async revisionStatus(namespace: string, name: string): Promise<RevisionStatus> {
    const rc = await this.requireRevision(namespace, name);
    return revisionStatusFrom(rc, await this.listPods(namespace, rc.spec.selector));
  }

  async deleteRevision(namespace: string, name: string, options: WaitOptions): Promise<void> {
    if (!(await this.getRevision(namespace, name))) return;
    try {
      await this.scaleRevision(namespace, name, 0, options);
    } catch (err) {
      // Deleted meanwhile by another deleter (the controller, when a project goes): done.
      if (err instanceof NotFoundError) return;
      throw err;
    }
    await this.readOptional(`deleting ReplicationController ${namespace}/${name}`, () =>
      this.clients.core.deleteNamespacedReplicationController({
        namespace,
        name,
        propagationPolicy: 'Background',
      }),
    );
  }

  /**
   * A deleted project's revisions (scaled to zero first, as a scale-down stops replicas)
   * and its hook and deployer pods (their API Secrets are owned by them and go with them).
   * Only what Slipway made: a ReplicationController or pod carrying OpenShift's labels but
   * not Slipway's (MANAGED_BY_LABEL; a revision made before that label by its
   * `slipway.dev/deployment.causes` annotation) is another tool's and stays. Services and
   * Ingresses went with their objects. The namespace itself is the cluster owner's
   * (Slipway never creates one) and stays, with anything else in it.
   */
  async deleteNamespace(namespace: string, options: WaitOptions): Promise<void> {
    const revisions = await this.call(`listing the revisions in ${namespace}`, () =>
      this.clients.core.listNamespacedReplicationController({
        namespace,
        labelSelector: REVISION_LABELS.configName,
      }),
    );
    for (const rc of revisions.items.filter(madeBySlipway))
      await this.deleteRevision(namespace, rc.metadata!.name!, options);
    for (const label of Object.values(ROLLOUT_POD_LABELS)) {
      const pods = await this.call(`listing the ${label} pods in ${namespace}`, () =>
        this.clients.core.listNamespacedPod({
          namespace,
          labelSelector: `${label},${MANAGED_BY_LABEL.key}=${MANAGED_BY_LABEL.value}`,
        }),
      );
      for (const pod of pods.items) {
        const name = pod.metadata!.name!;
        await this.readOptional(`deleting pod ${namespace}/${name}`, () =>
          this.clients.core.deleteNamespacedPod({ namespace, name }),
        );
      }
    }
  }

  async runPod(spec: PodRunSpec, options: WaitOptions): Promise<PodResult> {
    const signal = AbortSignal.any([options.signal, this.closing.signal]);
    if (signal.aborted) throw signal.reason as Error;
    const { namespace, name } = spec;
    const container = podContainerName(spec);
    let created: KubePod | undefined;
    try {
      if (spec.apiAccess) await this.createApiSecret(spec);
      created = await this.createPod(spec, signal);
      if (spec.apiAccess) await this.ownSecretByPod(spec, created);
      const finished = await this.waitForPod(
        namespace,
        name,
        created.metadata.resourceVersion ?? '',
        container,
        signal,
      );
      const logs = await this.podLogs(namespace, name, container);
      return { exitCode: finished.exitCode, logs };
    } finally {
      // Also when the signal fired: the pod is stopped (with its grace period) and forgotten.
      if (created) {
        await this.readOptional(`deleting pod ${namespace}/${name}`, () =>
          this.clients.core.deleteNamespacedPod({ namespace, name }),
        ).catch((err: unknown) =>
          this.logger?.warn({ pod: `${namespace}/${name}`, err: errorMessage(err) }, 'cannot delete pod'),
        );
      }
      if (spec.apiAccess) {
        await this.readOptional(`deleting Secret ${namespace}/${apiSecretName(name)}`, () =>
          this.clients.core.deleteNamespacedSecret({ namespace, name: apiSecretName(name) }),
        ).catch(() => undefined); // owned by the pod: the garbage collector removes it anyway
      }
    }
  }

  private async createApiSecret(spec: PodRunSpec): Promise<void> {
    const body = apiSecretManifest(spec) as unknown as V1Secret;
    const what = `creating Secret ${spec.namespace}/${apiSecretName(spec.name)}`;
    try {
      await this.call(what, () =>
        this.clients.core.createNamespacedSecret({ namespace: spec.namespace, body }),
      );
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      // Left by an interrupted earlier run: its token has expired, this one replaces it.
      await this.readOptional(what, () =>
        this.clients.core.deleteNamespacedSecret({
          namespace: spec.namespace,
          name: apiSecretName(spec.name),
        }),
      );
      await this.call(what, () =>
        this.clients.core.createNamespacedSecret({ namespace: spec.namespace, body }),
      );
    }
  }

  /** The Secret goes with its pod: if Slipway dies mid-run, the garbage collector still removes the token. */
  private async ownSecretByPod(spec: PodRunSpec, pod: KubePod): Promise<void> {
    const owner = { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid ?? '' };
    await this.call(`setting the owner of Secret ${spec.namespace}/${apiSecretName(spec.name)}`, () =>
      this.clients.core.patchNamespacedSecret(
        {
          namespace: spec.namespace,
          name: apiSecretName(spec.name),
          body: { metadata: { ownerReferences: [owner] } },
        },
        MERGE_PATCH,
      ),
    );
  }

  private async createPod(spec: PodRunSpec, signal: AbortSignal): Promise<KubePod> {
    const { namespace, name } = spec;
    const body = runPodManifest(spec, {
      hostNetwork: this.deployerHostNetwork && Boolean(spec.apiAccess),
    }) as unknown as V1Pod;
    const what = `creating pod ${namespace}/${name}`;
    try {
      return plain<KubePod>(
        await this.call(what, () => this.clients.core.createNamespacedPod({ namespace, body })),
      );
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      // A pod of this name left by an interrupted rollout: its run is not this one's. It is
      // stopped with its grace period (not force-deleted: its container may still be running,
      // and two runs of one hook must not overlap) before this run starts.
      this.logger?.info({ pod: `${namespace}/${name}` }, 'replacing a pod left by an earlier attempt');
      await this.readOptional(what, () => this.clients.core.deleteNamespacedPod({ namespace, name }));
      const deadline = Date.now() + 120_000;
      while (await this.readOptional(what, () => this.clients.core.readNamespacedPod({ namespace, name }))) {
        if (Date.now() > deadline) {
          throw new Error(`${what}: an earlier pod of that name is still terminating after 120s`, {
            cause: err,
          });
        }
        await sleep(this.pollIntervalMs, signal);
      }
      return plain<KubePod>(
        await this.call(what, () => this.clients.core.createNamespacedPod({ namespace, body })),
      );
    }
  }

  /**
   * Watches the pod until it Succeeded or Failed (or cannot start). A watch that ends —
   * the server closes watches after a while, a proxy drops idle connections, a 410 Gone
   * after compaction — is started again from a fresh read, so no transition is missed.
   */
  private async waitForPod(
    namespace: string,
    name: string,
    resourceVersion: string,
    container: string,
    signal: AbortSignal,
  ): Promise<{ exitCode: number }> {
    let rv = resourceVersion;
    let failures = 0;
    for (;;) {
      if (signal.aborted) throw signal.reason as Error;
      const round = await this.watchPodOnce(namespace, name, rv, container, signal);
      if (round.kind === 'done') return round.outcome;
      if (round.kind === 'error') {
        failures++;
        if (failures >= 5)
          throw new Error(`watching pod ${namespace}/${name}: ${errorMessage(round.error)}`, {
            cause: round.error,
          });
        await sleep(Math.min(200 * 2 ** failures, 5000), signal);
      } else {
        // The server ended the watch (timeout, restart, 410 Gone): no hot loop if it keeps doing so.
        failures = 0;
        await sleep(Math.min(this.pollIntervalMs, 100), signal);
      }
      // Read the pod afresh: it may have finished while no watch was open.
      const pod = await this.readOptional(`reading pod ${namespace}/${name}`, () =>
        this.clients.core.readNamespacedPod({ namespace, name }),
      );
      if (!pod) throw new Error(`pod ${namespace}/${name} was deleted before it finished`);
      const current = plain<KubePod>(pod);
      const outcome = podOutcome(current, container);
      if (outcome) return outcome;
      rv = current.metadata.resourceVersion ?? '';
    }
  }

  private watchPodOnce(
    namespace: string,
    name: string,
    resourceVersion: string,
    container: string,
    signal: AbortSignal,
  ): Promise<
    { kind: 'done'; outcome: { exitCode: number } } | { kind: 'ended' } | { kind: 'error'; error: unknown }
  > {
    return new Promise((resolve, reject) => {
      let settled = false;
      let controller: AbortController | undefined;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (controller) {
          this.inFlight.delete(controller);
          controller.abort();
        }
        fn();
      };
      const onAbort = (): void => finish(() => reject(signal.reason as Error));
      signal.addEventListener('abort', onAbort, { once: true });
      const onEvent = (type: string, obj: unknown): void => {
        if (type === 'ERROR') {
          // 410 Gone: the resourceVersion is too old; the caller re-reads and watches again.
          return finish(() => resolve({ kind: 'ended' }));
        }
        if (type === 'DELETED') {
          return finish(() => reject(new Error(`pod ${namespace}/${name} was deleted before it finished`)));
        }
        try {
          const outcome = podOutcome(obj as KubePod, container);
          if (outcome) finish(() => resolve({ kind: 'done', outcome }));
        } catch (err) {
          finish(() => reject(err as Error));
        }
      };
      new Watch(this.clients.kubeConfig)
        .watch(
          `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
          { fieldSelector: `metadata.name=${name}`, resourceVersion, allowWatchBookmarks: false },
          onEvent,
          (err: unknown) => finish(() => resolve(err ? { kind: 'error', error: err } : { kind: 'ended' })),
        )
        .then(
          (c) => {
            controller = c;
            if (settled) c.abort();
            else this.inFlight.add(c);
          },
          (err: unknown) => finish(() => resolve({ kind: 'error', error: err })),
        );
    });
  }

  private async podLogs(namespace: string, name: string, container: string): Promise<string> {
    try {
      const text = await this.call(`reading the log of pod ${namespace}/${name}`, () =>
        this.clients.core.readNamespacedPodLog({ namespace, name, container, tailLines: this.logTailLines }),
      );
      return String(text ?? '').replace(/\n$/, '');
    } catch (err) {
      // The exit code still decides; a missing log (node gone, log rotated) is said, not fatal.
      return `(the log of pod ${name} could not be read: ${errorMessage(err)})`;
    }
  }

  async applyService(service: Resource): Promise<void> {
    const namespace = service.metadata.namespace ?? 'default';
    const name = service.metadata.name;
    await retryOnConflict(async () => {
      const existing = await this.readOptional(`reading Service ${namespace}/${name}`, () =>
        this.clients.core.readNamespacedService({ namespace, name }),
      );
      if (!existing) {
        // AlreadyExists (someone created it meanwhile) is a conflict: the retry replaces it.
        await this.call(`creating Service ${namespace}/${name}`, () =>
          this.clients.core.createNamespacedService({
            namespace,
            body: serviceManifest(service) as unknown as V1Service,
          }),
        );
        return;
      }
      const body = serviceManifest(service, plain<Resource>(existing)) as unknown as V1Service;
      await this.call(`replacing Service ${namespace}/${name}`, () =>
        this.clients.core.replaceNamespacedService({ namespace, name, body }),
      );
    });
  }

  async deleteService(namespace: string, name: string): Promise<void> {
    await this.readOptional(`deleting Service ${namespace}/${name}`, () =>
      this.clients.core.deleteNamespacedService({ namespace, name }),
    );
  }

  /**
   * A Route as an Ingress (manifests.ts `ingressManifest`), with its certificate in a
   * `kubernetes.io/tls` Secret; created, or replaced at the read resourceVersion.
   */
  async applyRoute(route: Resource): Promise<void> {
    const namespace = route.metadata.namespace ?? 'default';
    const name = route.metadata.name;
    const serviceName = (route.spec as { to?: { name?: string } } | undefined)?.to?.name ?? '';
    const service = await this.readOptional(`reading Service ${namespace}/${serviceName}`, () =>
      this.clients.core.readNamespacedService({ namespace, name: serviceName }),
    );
    const ingress = ingressManifest(route, service ? plain<Resource>(service) : undefined);
    const secret = routeTlsSecret(route);
    if (secret) {
      const what = `writing Secret ${namespace}/${secret.metadata.name}`;
      try {
        await this.call(what, () =>
          this.clients.core.createNamespacedSecret({ namespace, body: secret as unknown as V1Secret }),
        );
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
        await this.call(what, () =>
          this.clients.core.patchNamespacedSecret(
            { namespace, name: secret.metadata.name, body: { stringData: secret.stringData } },
            MERGE_PATCH,
          ),
        );
      }
    } else {
      await this.readOptional(`deleting Secret ${namespace}/${routeTlsSecretName(name)}`, () =>
        this.clients.core.deleteNamespacedSecret({ namespace, name: routeTlsSecretName(name) }),
      );
    }
    await retryOnConflict(async () => {
      const existing = await this.readOptional(`reading Ingress ${namespace}/${name}`, () =>
        this.clients.networking.readNamespacedIngress({ namespace, name }),
      );
      if (!existing) {
        await this.call(`creating Ingress ${namespace}/${name}`, () =>
          this.clients.networking.createNamespacedIngress({
            namespace,
            body: ingress as unknown as V1Ingress,
          }),
        );
        return;
      }
      const body = {
        ...ingress,
        metadata: { ...ingress.metadata, resourceVersion: existing.metadata?.resourceVersion },
      } as unknown as V1Ingress;
      await this.call(`replacing Ingress ${namespace}/${name}`, () =>
        this.clients.networking.replaceNamespacedIngress({ namespace, name, body }),
      );
    });
  }

  async deleteRoute(namespace: string, name: string): Promise<void> {
    await this.readOptional(`deleting Ingress ${namespace}/${name}`, () =>
      this.clients.networking.deleteNamespacedIngress({ namespace, name }),
    );
    await this.readOptional(`deleting Secret ${namespace}/${routeTlsSecretName(name)}`, () =>
      this.clients.core.deleteNamespacedSecret({ namespace, name: routeTlsSecretName(name) }),
    );
  }

  async close(): Promise<void> {
    this.closing.abort(new Error('the Kubernetes target was closed'));
    for (const c of this.inFlight) c.abort();
    this.inFlight.clear();
  }
}
