/**
 * Rollouts on BullMQ, and the DeploymentConfig controller that starts them.
 *
 * Starting rollout N is one compare-and-set on the DeploymentConfig (status.latestVersion
 * N-1 → N, with its causes), then revision N is made and a job for it queued on
 * the `rollouts` queue (`rolloutJobId`), so any worker runs it under a lease. Every path — ConfigChange,
 * image triggers, `instantiate`, rollback — goes through `startRollout`, and the CAS
 * means two servers seeing the same change start one rollout.
 *
 * The controller watches the store (DeploymentConfigs, ImageStreams, Services) and
 * resyncs every 30 s, since pub/sub drops what a disconnected subscriber missed.
 */
import { DelayedError, Queue, Worker } from 'bullmq';
import type {
  DeploymentCause,
  DeploymentConfig,
  DeploymentConfigStatus,
  ImageChangeParams,
} from '../core/deploy-types.js';
import { InputError, NotFoundError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Resource } from '../core/resource.js';
import { IMAGE_STREAM, latestTagReference, resolveImageReference } from '../registry/image-streams.js';
import { splitStreamTag } from '../registry/references.js';
import { retryOnConflict } from '../store/backoff.js';
import type { ResourceStore } from '../store/resource-store.js';
import {
  causesMessage,
  decideRollout,
  imageTriggers,
  revisionFor,
  rollbackSpec,
  unresolvedContainers,
  withTag,
} from '../strategies/deployment-config.js';
import {
  DEPLOYMENT_CONFIG,
  refreshConfigStatus,
  runRollout,
  servingRevision,
  type RolloutDeps,
} from '../strategies/rollout.js';
import {
  REVISION_ANNOTATIONS,
  revisionName,
  revisionPhase,
  revisionVersion,
  type DeployTarget,
  type ReplicationController,
} from '../strategies/target.js';
import { redisConnection } from './build-queue.js';

export const ROLLOUT_QUEUE = 'rollouts';

export interface RolloutJobData {
  namespace: string;
  name: string;
  version: number;
  /** The DeploymentConfig's metadata.uid when the rollout was queued. */
  uid?: string;
}

/**
 * The one place a rollout's job id is made: `{namespace}/{dc}/{uid}/{version}`. '/' is
 * in no Kubernetes name, so ids never collide across namespaces; the uid makes a
 * DeploymentConfig deleted and created again under its old name a new series of jobs,
 * not duplicates of the old completed ones that BullMQ would ignore. BullMQ forbids ':'.
 */
export function rolloutJobId(job: RolloutJobData): string {
  return `${job.namespace}/${job.name}/${job.uid ?? 'no-uid'}/${job.version}`;
}

export class RolloutQueue {
  readonly queue: Queue<RolloutJobData>;

  constructor(redisUrl: string, prefix = 'slipway') {
    this.queue = new Queue<RolloutJobData>(ROLLOUT_QUEUE, {
      connection: redisConnection(redisUrl),
      prefix: `${prefix}:bull`,
    });
  }

  /** Queues rollout `version` of `dc`; a second call for the same rollout is a no-op (same job id). */
  async enqueue(
    dc: { metadata: { namespace?: string; name: string; uid?: string } },
    version: number,
  ): Promise<void> {
    const data: RolloutJobData = {
      namespace: dc.metadata.namespace ?? 'default',
      name: dc.metadata.name,
      version,
      ...(dc.metadata.uid ? { uid: dc.metadata.uid } : {}),
    };
    await this.queue.add('rollout', data, {
      jobId: rolloutJobId(data),
      // Retries are for interruptions (a worker shutting down mid-rollout); the runner resumes.
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: 1000,
      removeOnFail: 5000,
    });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

/** What starting rollouts needs. */
export interface DeployControlDeps {
  store: ResourceStore;
  target: DeployTarget;
  rollouts: RolloutQueue;
  logger?: Logger;
}

/** OpenShift's DeploymentRequest (apps.openshift.io/v1). */
export interface DeploymentRequest {
  /** Update the config from all triggers first (resolve images from their ImageStreams). */
  latest?: boolean;
  /** Roll out even when no trigger would. */
  force?: boolean;
  /** Trigger types not to process when `latest` (ConfigChange, ImageChange). */
  excludeTriggers?: string[];
}

type Plan = { spec?: DeploymentConfig['spec']; causes: DeploymentCause[]; message?: string } | undefined;

export interface StartResult {
  config: DeploymentConfig;
  /** The rollout started, when one was. */
  version?: number;
}

async function latestRevision(
  target: DeployTarget,
  dc: DeploymentConfig,
): Promise<ReplicationController | undefined> {
  const v = dc.status?.latestVersion ?? 0;
  return v > 0 ? target.getRevision(dc.metadata.namespace!, revisionName(dc.metadata.name, v)) : undefined;
}

/**
 * Starts the next rollout if `plan` says so, as one CAS on the DeploymentConfig (the new
 * spec, when the plan has one, is written in the same update). Older rollouts still
 * running are cancelled (OpenShift: "newer deployment was found running").
 */
export async function startRollout(
  deps: DeployControlDeps,
  namespace: string,
  name: string,
  plan: (dc: DeploymentConfig, latest: ReplicationController | undefined) => Plan,
): Promise<StartResult> {
  const { store, target } = deps;
  // The bump is a compare-and-set; a writer that lost retries after a jittered wait.
  const bumped = await retryOnConflict(async () => {
    const dc = (await store.get(DEPLOYMENT_CONFIG, namespace, name)) as DeploymentConfig | undefined;
    if (!dc) throw new NotFoundError(`deploymentconfigs.apps.openshift.io "${name}" not found`);
    const latest = await latestRevision(target, dc);
    if ((dc.status?.latestVersion ?? 0) > 0 && !latest) return { config: dc }; // revision being made by whoever bumped it
    const p = plan(dc, latest);
    if (!p) return { config: dc };
    const version = (dc.status?.latestVersion ?? 0) + 1;
    const spec = p.spec ?? dc.spec;
    const specChanged = JSON.stringify(spec) !== JSON.stringify(dc.spec);
    const status: DeploymentConfigStatus = {
      ...(dc.status ?? {}),
      latestVersion: version,
      observedGeneration: (dc.metadata.generation ?? 1) + (specChanged ? 1 : 0),
      details: { message: p.message ?? causesMessage(p.causes), causes: p.causes },
    };
    const updated = (await store.replace(DEPLOYMENT_CONFIG, {
      ...dc,
      spec,
      status: status as Record<string, unknown>,
    } as unknown as Resource)) as unknown as DeploymentConfig;
    return { config: updated, version, causes: p.causes };
  });
  if (bumped.version === undefined) return { config: bumped.config };
  const { config: updated, version, causes } = bumped;
  await target.ensureRevision(revisionFor(updated, version, causes), {
    signal: AbortSignal.timeout(60_000),
  });
  for (const rc of await target.listRevisions(namespace, name)) {
    if (revisionVersion(rc) < version && ['New', 'Pending', 'Running'].includes(revisionPhase(rc))) {
      await target.annotateRevision(namespace, rc.metadata.name, {
        [REVISION_ANNOTATIONS.cancelled]: 'true',
        [REVISION_ANNOTATIONS.statusReason]: 'newer deployment was found running',
      });
    }
  }
  await deps.rollouts.enqueue(updated, version);
  deps.logger?.info(
    { deploymentConfig: `${namespace}/${name}`, version, causes: causes.map((c) => c.type) },
    'rollout started',
  );
  return { config: updated, version };
}

/**
 * Points automatic ImageChange triggers (or, with `force`, every one) at the newest image
 * of the tag they follow; returns the spec with images and `lastTriggeredImage` set, or
 * undefined when nothing changed. `lookup` resolves an ImageStreamTag to a reference.
 */
export async function resolveTriggerImages(
  dc: DeploymentConfig,
  lookup: (from: ImageChangeParams['from'], namespace: string) => Promise<string | undefined>,
  options: { force?: boolean } = {},
): Promise<DeploymentConfig['spec'] | undefined> {
  const spec = structuredClone(dc.spec);
  let changed = false;
  for (const { index } of imageTriggers(dc)) {
    const p = spec.triggers![index]!.imageChangeParams!;
    if (!p.automatic && !options.force) continue;
    if ((p.from.kind ?? 'ImageStreamTag') !== 'ImageStreamTag') continue;
    const image = await lookup(p.from, dc.metadata.namespace ?? 'default');
    if (!image) continue;
    for (const c of spec.template.spec.containers) {
      if (!(p.containerNames ?? []).includes(c.name)) continue;
      if (c.image !== image || p.lastTriggeredImage !== image) {
        c.image = image;
        p.lastTriggeredImage = image;
        changed = true;
      }
    }
  }
  return changed ? spec : undefined;
}

function storeLookup(store: ResourceStore) {
  return async (from: ImageChangeParams['from'], namespace: string): Promise<string | undefined> => {
    try {
      return await resolveImageReference(
        store,
        { kind: 'ImageStreamTag', name: withTag(from.name), namespace: from.namespace ?? namespace },
        namespace,
      );
    } catch (err) {
      if (err instanceof NotFoundError) return undefined; // no image yet: the trigger waits
      throw err;
    }
  };
}

/**
 * `POST …/deploymentconfigs/{name}/instantiate`: OpenShift's semantics. `latest`
 * resolves image triggers first; `force` rolls out even when no trigger would (cause
 * Manual) — `slipway rollout latest` sends both. A paused config cannot be instantiated.
 */
export async function instantiateDeployment(
  deps: DeployControlDeps,
  namespace: string,
  name: string,
  request: DeploymentRequest,
): Promise<StartResult> {
  const current = (await deps.store.get(DEPLOYMENT_CONFIG, namespace, name)) as DeploymentConfig | undefined;
  if (!current) throw new NotFoundError(`deploymentconfigs.apps.openshift.io "${name}" not found`);
  if (current.spec.paused)
    throw new InputError(
      `cannot deploy a paused deployment config "${name}"; resume it first (slipway rollout resume dc/${name})`,
      { code: 400 },
    );
  let resolved: DeploymentConfig['spec'] | undefined;
  if (request.latest && !(request.excludeTriggers ?? []).includes('ImageChange')) {
    resolved = await resolveTriggerImages(current, storeLookup(deps.store), {
      force: request.force ?? false,
    });
  }
  return startRollout(deps, namespace, name, (dc, latest) => {
    const candidate: DeploymentConfig = { ...dc, spec: resolved ?? dc.spec };
    const missing = unresolvedContainers(candidate);
    if (request.force) {
      if (missing.length > 0) {
        throw new InputError(
          `cannot trigger a deployment for "${name}" because it contains unresolved images: container(s) ${missing.join(', ')} have none yet`,
          { code: 400 },
        );
      }
      return { ...(resolved ? { spec: resolved } : {}), causes: [{ type: 'Manual' }] };
    }
    const decision = decideRollout(candidate, latest);
    return decision.start ? { ...(resolved ? { spec: resolved } : {}), causes: decision.causes } : undefined;
  });
}

/**
 * `rollout undo`: the template of revision `toRevision` (default: the last complete one
 * before the latest) becomes the config's, automatic image triggers are turned off (as
 * OpenShift's rollback does, so the next push does not roll forward again), and a new
 * rollout starts. Returns the triggers disabled.
 */
export async function rollbackDeployment(
  deps: DeployControlDeps,
  namespace: string,
  name: string,
  options: { toRevision?: number },
): Promise<StartResult & { disabledTriggers: string[]; rolledBackTo: string }> {
  const dc = (await deps.store.get(DEPLOYMENT_CONFIG, namespace, name)) as DeploymentConfig | undefined;
  if (!dc) throw new NotFoundError(`deploymentconfigs.apps.openshift.io "${name}" not found`);
  const revisions = await deps.target.listRevisions(namespace, name);
  const latest = dc.status?.latestVersion ?? 0;
  const target = options.toRevision
    ? revisions.find((r) => revisionVersion(r) === options.toRevision)
    : revisions.filter((r) => revisionVersion(r) < latest && revisionPhase(r) === 'Complete').pop();
  if (!target) {
    throw new InputError(
      options.toRevision
        ? `DeploymentConfig "${name}" has no revision ${options.toRevision} (kept: ${revisions.map(revisionVersion).join(', ') || 'none'})`
        : `DeploymentConfig "${name}" has no earlier complete revision to roll back to`,
      { code: 400 },
    );
  }
  if (options.toRevision === latest)
    throw new InputError(`revision ${latest} is the latest revision of "${name}" already`, { code: 400 });
  let disabled: string[] = [];
  const result = await startRollout(deps, namespace, name, (cur) => {
    const r = rollbackSpec(cur, target);
    disabled = r.disabled;
    return { spec: r.spec, causes: [{ type: 'Rollback' }], message: `rollback to ${target.metadata.name}` };
  });
  return { ...result, disabledTriggers: disabled, rolledBackTo: target.metadata.name };
}

/** `rollout cancel`: marks the latest rollout cancelled; its worker stops it and rolls back. */
export async function cancelRollout(
  deps: DeployControlDeps,
  namespace: string,
  name: string,
): Promise<ReplicationController> {
  const dc = (await deps.store.get(DEPLOYMENT_CONFIG, namespace, name)) as DeploymentConfig | undefined;
  if (!dc) throw new NotFoundError(`deploymentconfigs.apps.openshift.io "${name}" not found`);
  const rc = await latestRevision(deps.target, dc);
  if (!rc || !['New', 'Pending', 'Running'].includes(revisionPhase(rc))) {
    throw new InputError(`DeploymentConfig "${name}" has no rollout in progress to cancel`, { code: 400 });
  }
  return deps.target.annotateRevision(namespace, rc.metadata.name, {
    [REVISION_ANNOTATIONS.cancelled]: 'true',
    [REVISION_ANNOTATIONS.statusReason]: 'cancelled by the user',
  });
}

/** `rollout pause|resume`: sets spec.paused; a paused config starts no rollout. */
export async function setPaused(
  deps: DeployControlDeps,
  namespace: string,
  name: string,
  paused: boolean,
): Promise<DeploymentConfig> {
  const updated = (await deps.store.update(DEPLOYMENT_CONFIG, namespace, name, (cur) => {
    const dc = cur as unknown as DeploymentConfig;
    if ((dc.spec.paused ?? false) === paused) return undefined;
    dc.spec.paused = paused;
    return cur;
  })) as unknown as DeploymentConfig;
  if (!paused) await reconcileDeploymentConfig(deps, namespace, name);
  return updated;
}

export interface DeploymentImageChange {
  store: ResourceStore;
  target: DeployTarget;
  rollouts: RolloutQueue;
  namespace: string;
  /** The DeploymentConfig. */
  name: string;
  /** The new image, a pullable reference by digest (`127.0.0.1:5000/ns/app@sha256:…`). */
  image: string;
  /** The ImageStreamTag that moved; only triggers following it fire. Without it, triggers over `containerNames` do. */
  from?: { name: string; namespace?: string };
  containerNames?: string[];
  logger?: Logger;
}

/**
 * An ImageStream tag a DeploymentConfig's ImageChange trigger follows has a new image:
 * records `lastTriggeredImage`, points the trigger's containers at the image and, when
 * the trigger is `automatic` (and the config not paused), starts a rollout with an
 * ImageChange cause. Idempotent: the same image never rolls out twice. For the webhooks
 * stage; the controller also calls it when it sees an ImageStream change.
 */
export async function onDeploymentImageChange(
  input: DeploymentImageChange,
): Promise<{ updated: boolean; version?: number; reason?: string }> {
  const { store, namespace, name, image } = input;
  let reason = 'no ImageChange trigger follows this image';
  let updated = false;
  await store.update(DEPLOYMENT_CONFIG, namespace, name, (cur) => {
    const dc = cur as unknown as DeploymentConfig;
    if (dc.spec.paused) {
      reason = `DeploymentConfig "${name}" is paused`;
      return undefined;
    }
    let changed = false;
    for (const { index } of imageTriggers(dc)) {
      const p = dc.spec.triggers![index]!.imageChangeParams!;
      const follows = input.from
        ? withTag(p.from.name) === withTag(input.from.name) &&
          (p.from.namespace ?? namespace) === (input.from.namespace ?? namespace)
        : (p.containerNames ?? []).some((c) => (input.containerNames ?? []).includes(c));
      if (!follows) continue;
      if (!p.automatic) {
        reason = 'the trigger is not automatic';
        continue;
      }
      if (p.lastTriggeredImage === image) {
        reason = `already triggered for ${image}`;
        continue;
      }
      p.lastTriggeredImage = image;
      for (const c of dc.spec.template.spec.containers)
        if ((p.containerNames ?? input.containerNames ?? []).includes(c.name)) c.image = image;
      changed = true;
    }
    updated = changed;
    return changed ? cur : undefined;
  });
  if (!updated) return { updated, reason };
  const result = await reconcileDeploymentConfig(input, namespace, name);
  return result.version !== undefined
    ? { updated, version: result.version }
    : { updated, reason: 'the config changed but no rollout started (see its status)' };
}

/**
 * The controller's decision for one DeploymentConfig: start a rollout when its triggers
 * say so; otherwise keep the serving revision at `spec.replicas` (a scale is not a rollout).
 */
export async function reconcileDeploymentConfig(
  deps: DeployControlDeps,
  namespace: string,
  name: string,
): Promise<StartResult> {
  const result = await startRollout(deps, namespace, name, (dc, latest) => {
    const d = decideRollout(dc, latest);
    return d.start ? { causes: d.causes } : undefined;
  });
  if (result.version !== undefined) return result;
  const dc = result.config;
  const revisions = await deps.target.listRevisions(namespace, name);
  // With no rollout running, a new spec.replicas goes to the revision serving (the newest complete one).
  if (!revisions.some((r) => ['New', 'Pending', 'Running'].includes(revisionPhase(r)))) {
    const serving = servingRevision(revisions, Number.MAX_SAFE_INTEGER);
    const desired = dc.spec.replicas ?? 1;
    if (serving && serving.spec.replicas !== desired) {
      deps.logger?.info(
        { deploymentConfig: `${namespace}/${name}`, replicas: desired },
        'scaling the serving revision',
      );
      await deps.target.scaleRevision(namespace, serving.metadata.name, desired, {
        signal: AbortSignal.timeout(300_000),
      });
      await refreshConfigStatus(deps, namespace, name);
    }
  }
  if ((dc.status?.observedGeneration ?? 0) !== (dc.metadata.generation ?? 1)) {
    await deps.store
      .update(DEPLOYMENT_CONFIG, namespace, name, (cur) => {
        if (
          (cur.status as DeploymentConfigStatus | undefined)?.observedGeneration === cur.metadata.generation
        )
          return undefined;
        return {
          ...cur,
          status: { ...(cur.status ?? {}), observedGeneration: cur.metadata.generation ?? 1 },
        };
      })
      .catch(() => undefined);
  }
  return result;
}

/** Applies every automatic trigger that follows `stream` (or every trigger, when undefined) from the stored ImageStreams. */
async function applyStreamImages(
  deps: DeployControlDeps,
  dc: DeploymentConfig,
  stream?: { namespace: string; name: string },
): Promise<void> {
  const ns = dc.metadata.namespace ?? 'default';
  for (const { trigger } of imageTriggers(dc)) {
    const p = trigger.imageChangeParams!;
    if (!p.automatic || (p.from.kind ?? 'ImageStreamTag') !== 'ImageStreamTag') continue;
    const { name: streamName, tag } = splitStreamTag(withTag(p.from.name));
    const streamNs = p.from.namespace ?? ns;
    if (stream && (stream.namespace !== streamNs || stream.name !== streamName)) continue;
    const is = await deps.store.get(IMAGE_STREAM, streamNs, streamName);
    const image = is ? latestTagReference(is, tag) : undefined;
    if (!image || image === p.lastTriggeredImage) continue;
    await onDeploymentImageChange({
      ...deps,
      namespace: ns,
      name: dc.metadata.name,
      image,
      from: { name: withTag(p.from.name), namespace: streamNs },
    });
  }
}

export interface DeploymentControllerHandle {
  /** Reconciles everything now (tests; after a Redis outage). */
  resync(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Watches the store and acts: DeploymentConfig changes (ConfigChange, scale, cascade
 * delete of revisions), ImageStream changes (image triggers), Services (applied to the
 * target). One reconcile at a time per object in this process.
 */
export async function startDeploymentController(
  deps: DeployControlDeps & { resyncMs?: number; onDelete?: (ns: string, rc: string) => Promise<void> },
): Promise<DeploymentControllerHandle> {
  const { store, target } = deps;
  const chains = new Map<string, Promise<void>>();
  let stopped = false;
  const serially = (key: string, fn: () => Promise<unknown>): Promise<void> => {
    const next = (chains.get(key) ?? Promise.resolve())
      .then(async () => {
        if (!stopped) await fn();
      })
      .catch((err: unknown) =>
        deps.logger?.warn({ key, err: errorMessage(err) }, 'deployment controller: reconcile failed'),
      );
    chains.set(key, next);
    void next.finally(() => {
      if (chains.get(key) === next) chains.delete(key);
    });
    return next;
  };

  const onConfig = (dc: DeploymentConfig): Promise<void> =>
    serially(`dc/${dc.metadata.namespace}/${dc.metadata.name}`, async () => {
      await applyStreamImages(deps, dc);
      await reconcileDeploymentConfig(deps, dc.metadata.namespace!, dc.metadata.name);
    });

  const onConfigDeleted = (dc: DeploymentConfig): Promise<void> =>
    serially(`dc/${dc.metadata.namespace}/${dc.metadata.name}`, async () => {
      // OpenShift deletes a DeploymentConfig's revisions (and so its replicas) with it.
      for (const rc of await target.listRevisions(dc.metadata.namespace!, dc.metadata.name)) {
        await target.deleteRevision(dc.metadata.namespace!, rc.metadata.name, {
          signal: AbortSignal.timeout(300_000),
        });
        await deps.onDelete?.(dc.metadata.namespace!, rc.metadata.name);
      }
    });

  const onStream = (is: Resource): Promise<void> =>
    serially(`is/${is.metadata.namespace}/${is.metadata.name}`, async () => {
      for (const dc of (await store.list(DEPLOYMENT_CONFIG)) as unknown as DeploymentConfig[]) {
        await applyStreamImages(deps, dc, { namespace: is.metadata.namespace!, name: is.metadata.name });
      }
    });

  const onService = (svc: Resource, deleted: boolean): Promise<void> =>
    serially(`svc/${svc.metadata.namespace}/${svc.metadata.name}`, () =>
      deleted ? target.deleteService(svc.metadata.namespace!, svc.metadata.name) : target.applyService(svc),
    );

  const unwatch = await store.watch((event, info) => {
    if (stopped) return;
    if (info.kind === 'DeploymentConfig') {
      const dc = event.object as unknown as DeploymentConfig;
      void (event.type === 'DELETED' ? onConfigDeleted(dc) : onConfig(dc));
    } else if (info.kind === 'ImageStream' && event.type !== 'DELETED') {
      void onStream(event.object);
    } else if (info.kind === 'Service') {
      void onService(event.object, event.type === 'DELETED');
    } else if (info.kind === 'Route' && target.applyRoute) {
      // Targets with their own router (the local one) read Routes themselves.
      const route = event.object;
      void serially(`route/${route.metadata.namespace}/${route.metadata.name}`, () =>
        event.type === 'DELETED'
          ? target.deleteRoute!(route.metadata.namespace!, route.metadata.name)
          : target.applyRoute!(route),
      );
    }
  });

  const resync = async (): Promise<void> => {
    const configs = (await store.list(DEPLOYMENT_CONFIG)) as unknown as DeploymentConfig[];
    await Promise.all(configs.map((dc) => onConfig(dc)));
    for (const dc of configs) {
      // A rollout whose job was lost (a crash between bump and enqueue) is queued again.
      for (const rc of await target.listRevisions(dc.metadata.namespace!, dc.metadata.name)) {
        if (['New', 'Pending', 'Running'].includes(revisionPhase(rc)))
          await deps.rollouts.enqueue(dc, revisionVersion(rc));
      }
    }
  };
  await resync().catch((err: unknown) =>
    deps.logger?.warn({ err: errorMessage(err) }, 'deployment controller: resync failed'),
  );
  const timer = setInterval(() => void resync().catch(() => undefined), deps.resyncMs ?? 30_000);
  return {
    resync,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await unwatch();
      await Promise.all([...chains.values()]);
    },
  };
}

export interface RolloutWorkerOptions {
  redisUrl: string;
  prefix?: string;
  concurrency?: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** How long a rollout waiting for an older one waits before it is looked at again. */
  waitRetryMs?: number;
}

export interface RolloutWorkerHandle {
  worker: Worker<RolloutJobData>;
  close(): Promise<void>;
}

/** A BullMQ worker running rollouts; a rollout waiting on an older one gives its slot back meanwhile. */
export function startRolloutWorker(deps: RolloutDeps, options: RolloutWorkerOptions): RolloutWorkerHandle {
  const shutdown = new AbortController();
  const worker = new Worker<RolloutJobData>(
    ROLLOUT_QUEUE,
    async (job, token) => {
      const outcome = await runRollout(deps, { ...job.data, signal: shutdown.signal });
      if (outcome.kind === 'waiting') {
        await job.moveToDelayed(Date.now() + (options.waitRetryMs ?? 500), token);
        throw new DelayedError(outcome.reason);
      }
      return outcome.phase;
    },
    {
      connection: redisConnection(options.redisUrl),
      prefix: `${options.prefix ?? 'slipway'}:bull`,
      // Rollouts mostly wait on replicas; many fit one worker.
      concurrency: options.concurrency ?? 10,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: 3,
    },
  );
  worker.on('failed', (job, err) => {
    if (job) deps.logger.warn({ rollout: rolloutJobId(job.data), err: err.message }, 'rollout job failed');
  });
  worker.on('error', (err) => deps.logger.error({ err }, 'rollout worker error'));
  return {
    worker,
    close: async () => {
      shutdown.abort();
      await worker.close();
    },
  };
}
