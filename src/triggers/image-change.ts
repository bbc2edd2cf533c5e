/**
 * ImageChange triggers: an ImageStream tag moved to a new image; which BuildConfig and
 * DeploymentConfig triggers fire, and what to record back so that one image fires a
 * trigger once. Rules from openshift-controller-manager pkg/image/trigger/buildconfigs
 * and pkg/apps/deploymentconfig triggers:
 *
 * - a trigger follows an `ImageStreamTag` (`stream:tag`, namespace defaulting to the
 *   config's); a BuildConfig trigger without `from` follows the strategy's `from`;
 * - a paused trigger (BuildConfig) or a non-automatic one (DeploymentConfig) does not fire;
 * - `lastTriggeredImageID` holds the image *reference* a trigger last fired for (a
 *   reference, "despite the name", says OpenShift's code); the same image never fires twice;
 * - several triggers of one BuildConfig firing for one update start one build.
 *
 * Slipway adds a loop guard: a build's own output never retriggers the BuildConfig that
 * made it. When the update says who produced the image (`producedBy`), that decides;
 * when it says the image came from outside Slipway's builds (`external`, a user's
 * `docker push`), the trigger fires even on the BuildConfig's own output tag, so a
 * config whose output is its own input builds once per external image; when the origin
 * is unknown, a trigger on the BuildConfig's own output tag does not fire.
 */
import type { BuildConfigSpec, BuildTriggerPolicy, ObjectReference } from '../core/build-types.js';
import type { Resource } from '../core/resource.js';
import { imageChangeCause } from './causes.js';
import { isPaused } from './push-decision.js';
import type { ObjectKey, TriggeredBuildRequest } from './types.js';

/** An ImageStream tag now points at a new image. */
export interface ImageStreamTagUpdate {
  namespace: string;
  /** ImageStream name. */
  stream: string;
  tag: string;
  /** Image digest, `sha256:…`. */
  image: string;
  /** Pullable reference by digest: `127.0.0.1:5000/ns/stream@sha256:…`. */
  dockerImageReference: string;
  /** The BuildConfig whose build pushed this image, when known (the build's output). */
  producedBy?: ObjectKey;
  /**
   * The image is known not to be any Slipway build's output (no build was pushing to
   * this tag): the output-tag loop guard does not apply.
   */
  external?: boolean;
}

export interface SkippedTrigger {
  triggerIndex: number;
  reason: string;
}

/** Write back `spec.triggers[triggerIndex].imageChange.lastTriggeredImageID = value`. */
export interface BuildTriggerRecord {
  triggerIndex: number;
  lastTriggeredImageID: string;
}

export type BuildImageChangeDecision =
  | { fire: true; request: TriggeredBuildRequest; record: BuildTriggerRecord[]; skipped: SkippedTrigger[] }
  | { fire: false; record: []; skipped: SkippedTrigger[]; reason: string };

/** `stream` → `stream:latest`; an ImageStreamTag name always has a tag. */
function withTag(name: string): string {
  return name.includes(':') ? name : `${name}:latest`;
}

function followsUpdate(from: ObjectReference, ownerNamespace: string, update: ImageStreamTagUpdate): boolean {
  return (
    (from.namespace || ownerNamespace) === update.namespace &&
    withTag(from.name) === `${update.stream}:${update.tag}`
  );
}

/** The image a BuildConfig's strategy builds from (`sourceStrategy.from`, `dockerStrategy.from`, `customStrategy.from`). */
export function strategyFrom(spec: Partial<BuildConfigSpec> | undefined): ObjectReference | undefined {
  const s = spec?.strategy;
  if (!s) return undefined;
  const custom = (s.customStrategy as { from?: ObjectReference } | undefined)?.from;
  return s.sourceStrategy?.from ?? s.dockerStrategy?.from ?? custom;
}

/**
 * Which ImageChange triggers of a BuildConfig fire for a tag update; the BuildRequest
 * to instantiate (`from` the image, `triggeredBy` one imageChangeBuild cause); and the
 * `lastTriggeredImageID` to record on each fired trigger. Record it in the same update
 * that starts the build, or a redelivered update fires again.
 */
export function decideBuildImageChange(input: {
  buildConfig: Resource;
  update: ImageStreamTagUpdate;
}): BuildImageChangeDecision {
  const { buildConfig: bc, update } = input;
  const ns = bc.metadata.namespace ?? 'default';
  const spec = bc.spec as Partial<BuildConfigSpec> | undefined;
  const triggers: BuildTriggerPolicy[] = spec?.triggers ?? [];
  const skipped: SkippedTrigger[] = [];
  const record: BuildTriggerRecord[] = [];
  let fromRef: ObjectReference | undefined;

  if (isPaused(bc)) {
    return { fire: false, record: [], skipped, reason: `BuildConfig "${bc.metadata.name}" is paused` };
  }

  const output = spec?.output?.to;
  triggers.forEach((policy, i) => {
    if (policy.type !== 'ImageChange') return;
    const ic = policy.imageChange ?? {};
    const from = ic.from ?? strategyFrom(spec);
    if (!from || (from.kind ?? 'ImageStreamTag') !== 'ImageStreamTag' || !from.name) {
      // OpenShift ignores these too: only ImageStreamTags move.
      skipped.push({ triggerIndex: i, reason: 'the trigger does not follow an ImageStreamTag' });
      return;
    }
    if (!followsUpdate(from, ns, update)) return;
    if (ic.paused) {
      skipped.push({ triggerIndex: i, reason: 'the trigger is paused' });
      return;
    }
    if (
      update.producedBy &&
      update.producedBy.namespace === ns &&
      update.producedBy.name === bc.metadata.name
    ) {
      skipped.push({
        triggerIndex: i,
        reason: `loop guard: ${update.dockerImageReference} is this BuildConfig's own output`,
      });
      return;
    }
    if (
      !update.producedBy &&
      !update.external &&
      output &&
      (output.kind ?? 'ImageStreamTag') === 'ImageStreamTag' &&
      followsUpdate(output, ns, update)
    ) {
      skipped.push({
        triggerIndex: i,
        reason: `loop guard: the trigger follows ${update.stream}:${update.tag}, which is this BuildConfig's output, and the image's origin is unknown`,
      });
      return;
    }
    if (ic.lastTriggeredImageID === update.dockerImageReference) {
      skipped.push({ triggerIndex: i, reason: `already triggered for ${update.dockerImageReference}` });
      return;
    }
    fromRef ??= { kind: 'ImageStreamTag', name: withTag(from.name), namespace: from.namespace || ns };
    record.push({ triggerIndex: i, lastTriggeredImageID: update.dockerImageReference });
  });

  if (record.length === 0 || !fromRef) {
    const reason =
      skipped.length > 0
        ? skipped.map((s) => s.reason).join('; ')
        : 'no ImageChange trigger follows this tag';
    return { fire: false, record: [], skipped, reason };
  }
  const request: TriggeredBuildRequest = {
    // The build runs on the exact image that fired, not on whatever the tag says later.
    from: { kind: 'DockerImage', name: update.dockerImageReference },
    triggeredByImage: { kind: 'DockerImage', name: update.dockerImageReference },
    triggeredBy: [imageChangeCause(update.dockerImageReference, fromRef)],
  };
  return { fire: true, request, record, skipped };
}

/**
 * Applies `record` to a copy of a BuildConfig, for a store's read-modify-write. Returns
 * undefined when every recorded trigger already holds the value (nothing to write).
 */
export function recordBuildTriggers(
  buildConfig: Resource,
  record: readonly BuildTriggerRecord[],
): Resource | undefined {
  const next = structuredClone(buildConfig);
  const triggers = (next.spec as Partial<BuildConfigSpec> | undefined)?.triggers ?? [];
  let changed = false;
  for (const r of record) {
    const t = triggers[r.triggerIndex];
    if (!t || t.type !== 'ImageChange') continue;
    t.imageChange ??= {};
    if (t.imageChange.lastTriggeredImageID !== r.lastTriggeredImageID) {
      t.imageChange.lastTriggeredImageID = r.lastTriggeredImageID;
      changed = true;
    }
  }
  return changed ? next : undefined;
}

/** DeploymentConfig trigger (apps.openshift.io/v1 DeploymentTriggerPolicy), the fields decisions read. */
export interface DeploymentTriggerPolicy {
  type: 'ImageChange' | 'ConfigChange' | string;
  imageChangeParams?: {
    automatic?: boolean;
    containerNames?: string[];
    from: ObjectReference;
    lastTriggeredImage?: string;
  };
}

export interface DeploymentTriggerFire {
  triggerIndex: number;
  /** Containers of the pod template whose `image` becomes `image`. */
  containerNames: string[];
  /** The pullable reference by digest to set. */
  image: string;
  from: ObjectReference;
}

export interface DeploymentTriggerRecord {
  triggerIndex: number;
  lastTriggeredImage: string;
}

export type DeploymentImageChangeDecision =
  | {
      fire: true;
      triggers: DeploymentTriggerFire[];
      record: DeploymentTriggerRecord[];
      skipped: SkippedTrigger[];
    }
  | { fire: false; triggers: []; record: []; skipped: SkippedTrigger[]; reason: string };

/**
 * Which ImageChange triggers of a DeploymentConfig fire for a tag update: the containers
 * to point at the new image and the `lastTriggeredImage` to record. Acting on it (a new
 * rollout) belongs to the deployments stage. `automatic: false` keeps the trigger from
 * firing, as in OpenShift.
 */
export function decideDeploymentImageChange(input: {
  deploymentConfig: Resource;
  update: ImageStreamTagUpdate;
}): DeploymentImageChangeDecision {
  const { deploymentConfig: dc, update } = input;
  const ns = dc.metadata.namespace ?? 'default';
  const triggers = ((dc.spec as { triggers?: DeploymentTriggerPolicy[] } | undefined)?.triggers ??
    []) as DeploymentTriggerPolicy[];
  const fired: DeploymentTriggerFire[] = [];
  const record: DeploymentTriggerRecord[] = [];
  const skipped: SkippedTrigger[] = [];
  if ((dc.spec as { paused?: boolean } | undefined)?.paused) {
    return {
      fire: false,
      triggers: [],
      record: [],
      skipped,
      reason: `DeploymentConfig "${dc.metadata.name}" is paused`,
    };
  }
  triggers.forEach((t, i) => {
    if (t.type !== 'ImageChange' || !t.imageChangeParams) return;
    const p = t.imageChangeParams;
    if ((p.from.kind ?? 'ImageStreamTag') !== 'ImageStreamTag' || !followsUpdate(p.from, ns, update)) return;
    if (!p.automatic) {
      skipped.push({ triggerIndex: i, reason: 'the trigger is not automatic' });
      return;
    }
    if (p.lastTriggeredImage === update.dockerImageReference) {
      skipped.push({ triggerIndex: i, reason: `already triggered for ${update.dockerImageReference}` });
      return;
    }
    fired.push({
      triggerIndex: i,
      containerNames: p.containerNames ?? [],
      image: update.dockerImageReference,
      from: { kind: 'ImageStreamTag', name: withTag(p.from.name), namespace: p.from.namespace || ns },
    });
    record.push({ triggerIndex: i, lastTriggeredImage: update.dockerImageReference });
  });
  if (fired.length === 0) {
    const reason =
      skipped.length > 0
        ? skipped.map((s) => s.reason).join('; ')
        : 'no ImageChange trigger follows this tag';
    return { fire: false, triggers: [], record: [], skipped, reason };
  }
  return { fire: true, triggers: fired, record, skipped };
}
