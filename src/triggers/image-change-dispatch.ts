/**
 * An ImageStream tag moved: fire the ImageChange triggers that follow it. One function
 * for both reports of a push, the registry's notification and the worker that pushed
 * (whichever comes first acts; the other finds the delivery claimed).
 *
 * - BuildConfigs: `decideBuildImageChange` inside a compare-and-set that records
 *   `lastTriggeredImageID`, so two servers deciding at once start one build; then the
 *   build. If starting it fails, the record is put back and the claim released, so the
 *   registry's retry (it retries until it gets a 2xx) starts it.
 * - DeploymentConfigs: `decideDeploymentImageChange`, handed to `onDeploymentImageChange`
 *   (the deployments stage rolls out and records `lastTriggeredImage`).
 *
 * Every BuildConfig and DeploymentConfig is read per update: image pushes are rare next
 * to git pushes, and a trigger may follow a tag in another namespace.
 */
import type { BuildConfigSpec } from '../core/build-types.js';
import { InputError, NotFoundError, errorMessage } from '../core/errors.js';
import { lookupKind, type Resource } from '../core/resource.js';
import type { BuildRunnerDeps } from '../queue/build-runner.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { DeliveryClaims } from '../store/delivery-claims.js';
import {
  decideBuildImageChange,
  decideDeploymentImageChange,
  recordBuildTriggers,
  type BuildImageChangeDecision,
  type DeploymentImageChangeDecision,
  type ImageStreamTagUpdate,
} from './image-change.js';
import type { ImageProvenance } from '../store/image-provenance.js';
import type { TriggeredBuildRequest } from './types.js';

const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;
const DEPLOYMENT_CONFIG = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;

export type FiredDeploymentDecision = Extract<DeploymentImageChangeDecision, { fire: true }>;

/** What the deployments stage is handed when a DeploymentConfig's ImageChange trigger fires. */
export type DeploymentImageChangeHook = (
  deploymentConfig: Resource,
  decision: FiredDeploymentDecision,
  update: ImageStreamTagUpdate,
) => Promise<void>;

export interface ImageChangeDispatchDeps {
  store: ResourceStore;
  claims: DeliveryClaims;
  provenance: ImageProvenance;
  /** How builds start (the runtime's instantiate, with run policies). */
  instantiate(namespace: string, buildConfig: string, request: TriggeredBuildRequest): Promise<Resource>;
  onDeploymentImageChange: DeploymentImageChangeHook;
  /**
   * What the deploy target does with a moved tag beyond DeploymentConfigs (annotated
   * apps/v1 Deployments on Kubernetes); called for every report that did not fail,
   * duplicates included, since it is idempotent and a cluster may have missed the first.
   */
  onTagUpdated?: (update: ImageStreamTagUpdate) => Promise<void>;
  logger: { debug(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

export interface ImageChangeOutcome {
  /** Another report of this image already fired its triggers. */
  duplicate: boolean;
  /** `namespace/build` of each build started. */
  builds: string[];
  /** `namespace/deploymentconfig` of each DeploymentConfig handed to the hook. */
  deployments: string[];
  /** BuildConfigs with an ImageChange trigger on this tag that did not fire, and why. */
  skipped: { buildConfig: string; reason: string }[];
}

/** The claim that makes one image fire its triggers once, across servers and reports. */
export function imageChangeDeliveryId(update: ImageStreamTagUpdate): string {
  return `imagechange:${update.namespace}/${update.stream}:${update.tag}@${update.image}`;
}

function hasImageChangeTrigger(bc: Resource): boolean {
  return ((bc.spec as Partial<BuildConfigSpec> | undefined)?.triggers ?? []).some(
    (t) => t.type === 'ImageChange',
  );
}

function keyOf(obj: Resource): string {
  return `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`;
}

type BuildConfigResult =
  { kind: 'built'; build: string } | { kind: 'skipped'; reason: string } | { kind: 'failed'; error: unknown };

/** Fires one BuildConfig: record and decide in one compare-and-set, then start the build. */
async function fireBuildConfig(
  deps: ImageChangeDispatchDeps,
  bc: Resource,
  update: ImageStreamTagUpdate,
): Promise<BuildConfigResult> {
  const ns = bc.metadata.namespace ?? 'default';
  const name = bc.metadata.name;
  let decision: BuildImageChangeDecision | undefined;
  const previous = new Map<number, string | undefined>();
  try {
    await deps.store.update(BUILD_CONFIG, ns, name, (cur) => {
      decision = decideBuildImageChange({ buildConfig: cur, update });
      if (!decision.fire) return undefined;
      const triggers = (cur.spec as Partial<BuildConfigSpec>).triggers ?? [];
      previous.clear();
      for (const r of decision.record) {
        previous.set(r.triggerIndex, triggers[r.triggerIndex]?.imageChange?.lastTriggeredImageID);
      }
      return recordBuildTriggers(cur, decision.record);
    });
  } catch (err) {
    if (err instanceof NotFoundError) return { kind: 'skipped', reason: 'it was deleted' };
    return { kind: 'failed', error: err };
  }
  if (!decision?.fire) return { kind: 'skipped', reason: decision?.reason ?? 'no decision' };
  try {
    const build = await deps.instantiate(ns, name, decision.request);
    return { kind: 'built', build: `${ns}/${build.metadata.name}` };
  } catch (err) {
    // Paused or deleted since the decision: nothing to retry.
    if (err instanceof NotFoundError || err instanceof InputError) {
      return { kind: 'skipped', reason: errorMessage(err) };
    }
    // Put lastTriggeredImageID back where nobody moved it since, so a retry fires again.
    const fired = decision.record;
    await deps.store
      .update(BUILD_CONFIG, ns, name, (cur) => {
        const triggers = (cur.spec as Partial<BuildConfigSpec>).triggers ?? [];
        let changed = false;
        for (const r of fired) {
          const ic = triggers[r.triggerIndex]?.imageChange;
          if (!ic || ic.lastTriggeredImageID !== r.lastTriggeredImageID) continue;
          const before = previous.get(r.triggerIndex);
          if (before === undefined) delete ic.lastTriggeredImageID;
          else ic.lastTriggeredImageID = before;
          changed = true;
        }
        return changed ? cur : undefined;
      })
      .catch(() => undefined);
    return { kind: 'failed', error: err };
  }
}

/**
 * Fires every ImageChange trigger that follows the updated tag, once per image. When the
 * update does not say who produced the image, the provenance marks decide (a build's own
 * push, or an external image). Throws, with the claim released, when a build or a hook
 * could not be started, so that the caller answers with an error and the report is
 * retried; what did start is recorded and does not start twice.
 */
export async function dispatchImageChange(
  deps: ImageChangeDispatchDeps,
  input: ImageStreamTagUpdate & { registry?: string },
): Promise<ImageChangeOutcome> {
  const { registry, ...base } = input;
  const outcome: ImageChangeOutcome = { duplicate: false, builds: [], deployments: [], skipped: [] };
  const claim = imageChangeDeliveryId(base);
  if (!(await deps.claims.claimDelivery(claim))) {
    await deps.onTagUpdated?.(base);
    return { ...outcome, duplicate: true };
  }
  try {
    const update: ImageStreamTagUpdate = { ...base };
    if (!update.producedBy && !update.external && registry !== undefined) {
      const producedBy = await deps.provenance.producerOf({
        registry,
        repository: `${update.namespace}/${update.stream}`,
        tag: update.tag,
        digest: update.image,
      });
      if (producedBy) update.producedBy = producedBy;
      else update.external = true;
    }

    const failures: string[] = [];
    const buildConfigs = (await deps.store.list(BUILD_CONFIG)).filter(hasImageChangeTrigger);
    const results = await Promise.all(buildConfigs.map((bc) => fireBuildConfig(deps, bc, update)));
    results.forEach((r, i) => {
      const key = keyOf(buildConfigs[i]!);
      if (r.kind === 'built') outcome.builds.push(r.build);
      else if (r.kind === 'skipped') {
        // Configs whose triggers follow other tags are not worth listing.
        if (r.reason !== 'no ImageChange trigger follows this tag')
          outcome.skipped.push({ buildConfig: key, reason: r.reason });
      } else failures.push(`BuildConfig ${key}: ${errorMessage(r.error)}`);
    });

    for (const dc of await deps.store.list(DEPLOYMENT_CONFIG)) {
      const decision = decideDeploymentImageChange({ deploymentConfig: dc, update });
      if (!decision.fire) continue;
      try {
        await deps.onDeploymentImageChange(dc, decision, update);
        outcome.deployments.push(keyOf(dc));
      } catch (err) {
        failures.push(`DeploymentConfig ${keyOf(dc)}: ${errorMessage(err)}`);
      }
    }

    const image = `${update.namespace}/${update.stream}:${update.tag}@${update.image}`;
    if (failures.length > 0) {
      throw new Error(
        `image change ${image}: ${failures.length} trigger(s) could not fire (${failures.join('; ')}); the next report of this image retries them`,
      );
    }
    // Once per push: the builds and rollouts it starts say so themselves at info.
    deps.logger.debug(
      { image, builds: outcome.builds, deployments: outcome.deployments, skipped: outcome.skipped },
      'image change dispatched',
    );
  } catch (err) {
    await deps.claims.releaseDelivery(claim).catch(() => undefined);
    throw err;
  }
  await deps.onTagUpdated?.(base);
  return outcome;
}

/** The default DeploymentConfig hook until the deployments stage provides one: logs the decision. */
export function logDeploymentImageChange(
  logger: ImageChangeDispatchDeps['logger'],
): DeploymentImageChangeHook {
  return async (dc, decision, update) => {
    logger.debug(
      {
        deploymentConfig: keyOf(dc),
        image: update.dockerImageReference,
        containers: decision.triggers.flatMap((t) => t.containerNames),
      },
      'DeploymentConfig ImageChange trigger fired; no deployments stage is wired to roll it out',
    );
  };
}

/**
 * The build worker's push hooks, the build → image hand-off's end: the tag is marked as
 * the BuildConfig's before the push and the digest after it (the loop guard), then the
 * image change is dispatched as a known build output (or external, for a build without
 * a BuildConfig). Outputs that are no ImageStreamTag fire nothing.
 */
export function imagePushHooks(deps: {
  provenance: ImageProvenance;
  dispatch: (update: ImageStreamTagUpdate) => Promise<ImageChangeOutcome>;
}): Required<Pick<BuildRunnerDeps, 'beforeImagePush' | 'onImagePushed'>> {
  const producerOf = (build: Resource): { namespace: string; name: string } | undefined => {
    const bc = build.metadata.labels?.['openshift.io/build-config.name'];
    return bc ? { namespace: build.metadata.namespace ?? 'default', name: bc } : undefined;
  };
  return {
    beforeImagePush: async ({ build, registry, repository, tag }) => {
      const producedBy = producerOf(build);
      if (producedBy) await deps.provenance.markPushing({ registry, repository, tag }, producedBy);
    },
    onImagePushed: async ({ build, registry, repository, tag, digest, imageStream }) => {
      const producedBy = producerOf(build);
      if (producedBy) await deps.provenance.markPushed({ registry, repository, tag, digest }, producedBy);
      if (!imageStream) return;
      await deps.dispatch({
        namespace: imageStream.namespace,
        stream: imageStream.name,
        tag: imageStream.tag,
        image: digest,
        dockerImageReference: `${registry}/${repository}@${digest}`,
        ...(producedBy ? { producedBy } : { external: true }),
      });
    },
  };
}
