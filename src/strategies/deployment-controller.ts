/**
 * The DeploymentConfig controller: the one place rollouts start.
 *
 * Starting rollout N is one compare-and-set on the DeploymentConfig (status.latestVersion
 * N-1 → N, with its causes), then revision N is made and a job for it queued on
 * the `rollouts` queue (src/queue/rollout-queue.ts), so any worker runs it under a lease. Every path — ConfigChange,
 * image triggers, `instantiate`, rollback — goes through `startRollout`, and the CAS
 * means two servers seeing the same change start one rollout.
 *
 * The controller watches the store (DeploymentConfigs, ImageStreams, Services) and
 * resyncs every 30 s, since pub/sub drops what a disconnected subscriber missed.
 */
import type {
  DeploymentCause,
  DeploymentConfig,
  DeploymentConfigStatus,
  ImageChangeParams,
} from '../core/deploy-types.js';
import { ConflictError, InputError, NotFoundError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { lookupKind, type Resource } from '../core/resource.js';
import { IMAGE_STREAM, latestTagReference, resolveImageReference } from '../registry/image-streams.js';
import { splitStreamTag } from '../registry/references.js';
import { retryOnConflict } from '../store/backoff.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { NamespaceTargets, TargetDecision } from '../store/namespace-targets.js';
import type { RolloutQueue } from '../queue/rollout-queue.js';
import {
  decideDeploymentImageChange,
  type DeploymentImageChangeDecision,
  type ImageStreamTagUpdate,
} from '../triggers/image-change.js';
import type { DeploymentImageChangeHook } from '../triggers/image-change-dispatch.js';
import {
  causesMessage,
  decideRollout,
  imageTriggers,
  revisionFor,
  rollbackSpec,
  unresolvedContainers,
  withTag,
} from './deployment-config.js';
import { startAppsDeploymentController } from './apps-deployments.js';
import { DEPLOYMENT_CONFIG, refreshConfigStatus, servingRevision } from './rollout.js';
import { claimNamespace, otherTargetError, targetKind } from './target-guard.js';
import {
  REVISION_ANNOTATIONS,
  revisionName,
  revisionPhase,
  revisionVersion,
  type DeployTarget,
  type ReplicationController,
} from './target.js';

const ROUTE_KIND = lookupKind('route.openshift.io/v1', 'Route')!;

/** What starting rollouts needs. */
export interface DeployControlDeps {
  store: ResourceStore;
  target: DeployTarget;
  rollouts: RolloutQueue;
  logger?: Logger;
  /**
   * Which target each namespace deploys to, shared by the fleet (docs/mixed-fleets.md).
   * Without it every namespace is this process's.
   */
  targets?: NamespaceTargets;
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
 * Whether this process handles `dc`'s namespace: it is recorded for this process's kind,
 * or unrecorded and now claimed by it. A DeploymentConfig that rolled out before the
 * namespace was recorded claims it only for the target holding its latest revision.
 */
async function handlesNamespace(deps: DeployControlDeps, dc: DeploymentConfig): Promise<TargetDecision> {
  if (!deps.targets) return { act: true, claimed: false };
  const rolledOut = (dc.status?.latestVersion ?? 0) > 0;
  return claimNamespace(
    { targets: deps.targets, logger: deps.logger },
    {
      namespace: dc.metadata.namespace ?? 'default',
      own: targetKind(deps.target),
      ...(rolledOut ? { mayClaim: async () => (await latestRevision(deps.target, dc)) !== undefined } : {}),
    },
  );
}

/** True when `namespace` is recorded for another kind of target than this process's. */
async function otherKinds(deps: DeployControlDeps, namespace: string): Promise<boolean> {
  const recorded = await deps.targets?.get(namespace);
  return recorded !== undefined && recorded !== targetKind(deps.target);
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
  // A rollout is made by a process of the namespace's kind only (API verbs sent to
  // another kind's server get a 409 saying where to go).
  const current = (await store.get(DEPLOYMENT_CONFIG, namespace, name)) as DeploymentConfig | undefined;
  if (current) {
    const handles = await handlesNamespace(deps, current);
    if (!handles.act) {
      if (handles.recorded) throw otherTargetError(namespace, handles.recorded, targetKind(target));
      throw new ConflictError(
        `DeploymentConfig "${name}" rolled out on a target this Slipway process does not have; ` +
          `record the namespace's target first (slipway set deploy-target ${namespace} docker|kubernetes)`,
      );
    }
  }
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

/**
 * Applies an ImageChange decision made by the triggers stage
 * (`decideDeploymentImageChange` in src/triggers/image-change.ts) to one DeploymentConfig:
 * records `lastTriggeredImage`, points the fired triggers' containers at the image, and
 * reconciles (a rollout with an ImageChange cause when the triggers say so). The write is
 * a compare-and-set; when the config changed since the decision was made, the triggers
 * stage is asked again about the current object, so a stale decision never lands.
 * Idempotent: the same image never rolls out twice.
 */
export async function applyDeploymentImageChange(
  deps: DeployControlDeps,
  input: {
    namespace: string;
    /** The DeploymentConfig. */
    name: string;
    update: ImageStreamTagUpdate;
    /** The decision, and the resourceVersion of the object it was made on. */
    decided?: { decision: DeploymentImageChangeDecision; resourceVersion: string | undefined };
  },
): Promise<{ updated: boolean; version?: number; reason?: string }> {
  const { namespace, name, update } = input;
  let reason = 'no ImageChange trigger follows this image';
  let updated = false;
  await deps.store.update(DEPLOYMENT_CONFIG, namespace, name, (cur) => {
    const decision =
      input.decided && input.decided.resourceVersion === cur.metadata.resourceVersion
        ? input.decided.decision
        : decideDeploymentImageChange({ deploymentConfig: cur, update });
    if (!decision.fire) {
      reason = decision.reason;
      updated = false;
      return undefined;
    }
    const dc = cur as unknown as DeploymentConfig;
    for (const r of decision.record) {
      const p = dc.spec.triggers?.[r.triggerIndex]?.imageChangeParams;
      if (p) p.lastTriggeredImage = r.lastTriggeredImage;
    }
    for (const t of decision.triggers) {
      for (const c of dc.spec.template.spec.containers)
        if (t.containerNames.includes(c.name)) c.image = t.image;
    }
    updated = true;
    return cur;
  });
  if (!updated) return { updated, reason };
  const result = await reconcileDeploymentConfig(deps, namespace, name);
  return result.version !== undefined
    ? { updated, version: result.version }
    : { updated, reason: 'the config changed but no rollout started (see its status)' };
}

/** The deployments stage's answer to a fired DeploymentConfig ImageChange trigger: apply it and roll out. */
export function rollOutOnImageChange(deps: DeployControlDeps): DeploymentImageChangeHook {
  return async (dc, decision, update) => {
    await applyDeploymentImageChange(deps, {
      namespace: dc.metadata.namespace ?? 'default',
      name: dc.metadata.name,
      update,
      decided: { decision, resourceVersion: dc.metadata.resourceVersion },
    });
  };
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
  // Another kind's namespace: its own controller acts on the stored change.
  const current = (await deps.store.get(DEPLOYMENT_CONFIG, namespace, name)) as DeploymentConfig | undefined;
  if (current && !(await handlesNamespace(deps, current)).act) return { config: current };
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
    await applyDeploymentImageChange(deps, {
      namespace: ns,
      name: dc.metadata.name,
      update: {
        namespace: streamNs,
        stream: streamName,
        tag,
        image: image.includes('@') ? image.slice(image.indexOf('@') + 1) : image,
        dockerImageReference: image,
      },
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
      if (await otherKinds(deps, dc.metadata.namespace!)) return; // its revisions are on the other target
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

  // Services and Routes of a namespace go through one chain, in the order they changed:
  // a Route's Ingress names the port of its Service as the cluster has it, so the Service
  // must be there first; and a Service that changes re-applies the Routes to it.
  const onService = (svc: Resource, deleted: boolean): Promise<void> =>
    serially(`net/${svc.metadata.namespace}`, async () => {
      if (await otherKinds(deps, svc.metadata.namespace!)) return;
      await (deleted
        ? target.deleteService(svc.metadata.namespace!, svc.metadata.name)
        : target.applyService(svc));
      if (deleted || !target.applyRoute) return;
      for (const route of await store.list(ROUTE_KIND, svc.metadata.namespace!))
        if ((route.spec as { to?: { name?: string } } | undefined)?.to?.name === svc.metadata.name)
          await target.applyRoute(route);
    });

  // A DeploymentConfig's replica counts follow its revisions' live counts (a replica lost
  // and replaced, an engine restart) and not only the rollouts and scales that wrote them.
  // Its own chain, so a long rollout decision does not hold it back.
  const onRevision = (rc: Resource): Promise<void> | undefined => {
    const dcName = rc.metadata.annotations?.[REVISION_ANNOTATIONS.configName];
    if (!dcName) return undefined;
    return serially(`status/${rc.metadata.namespace}/${dcName}`, async () => {
      if (await otherKinds(deps, rc.metadata.namespace!)) return;
      await refreshConfigStatus(deps, rc.metadata.namespace!, dcName);
    });
  };

  const unwatch = await store.watch((event, info) => {
    if (stopped) return;
    if (info.kind === 'ReplicationController' && event.type === 'MODIFIED') {
      void onRevision(event.object);
    } else if (info.kind === 'DeploymentConfig') {
      const dc = event.object as unknown as DeploymentConfig;
      void (event.type === 'DELETED' ? onConfigDeleted(dc) : onConfig(dc));
    } else if (info.kind === 'ImageStream' && event.type !== 'DELETED') {
      void onStream(event.object);
    } else if (info.kind === 'Service') {
      void onService(event.object, event.type === 'DELETED');
    } else if (info.kind === 'Route' && target.applyRoute) {
      // Targets with their own router (the local one) read Routes themselves.
      const route = event.object;
      void serially(`net/${route.metadata.namespace}`, async () => {
        if (await otherKinds(deps, route.metadata.namespace!)) return;
        await (event.type === 'DELETED'
          ? target.deleteRoute!(route.metadata.namespace!, route.metadata.name)
          : target.applyRoute!(route));
      });
    }
  });

  const resync = async (): Promise<void> => {
    const configs = (await store.list(DEPLOYMENT_CONFIG)) as unknown as DeploymentConfig[];
    await Promise.all(configs.map((dc) => onConfig(dc)));
    for (const dc of configs) {
      // Another kind's namespace, or one this process could not claim: not its revisions.
      if (deps.targets && (await deps.targets.get(dc.metadata.namespace!)) !== targetKind(target)) continue;
      // A rollout whose job was lost (a crash between bump and enqueue) is queued again.
      for (const rc of await target.listRevisions(dc.metadata.namespace!, dc.metadata.name)) {
        if (['New', 'Pending', 'Running'].includes(revisionPhase(rc)))
          await deps.rollouts.enqueue(dc, revisionVersion(rc));
      }
      // Counts whose change no event carried (a target without stored revisions, a missed watch).
      await serially(`status/${dc.metadata.namespace}/${dc.metadata.name}`, () =>
        refreshConfigStatus(deps, dc.metadata.namespace!, dc.metadata.name),
      );
    }
  };
  await resync().catch((err: unknown) =>
    deps.logger?.warn({ err: errorMessage(err) }, 'deployment controller: resync failed'),
  );
  const timer = setInterval(() => void resync().catch(() => undefined), deps.resyncMs ?? 30_000);
  // apps/v1 Deployments roll out as DeploymentConfig views that the loop above acts on.
  const claims = target.claimVolumes?.();
  const apps = await startAppsDeploymentController({
    store,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(claims ? { claims } : {}),
    ...(deps.resyncMs ? { resyncMs: deps.resyncMs } : {}),
  });
  return {
    resync: async () => {
      await apps.resync();
      await resync();
    },
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await apps.stop();
      await unwatch();
      await Promise.all([...chains.values()]);
    },
  };
}
