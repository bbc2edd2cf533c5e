/**
 * Push → builds: for one BuildConfig (a per-BuildConfig webhook URL) or for every
 * BuildConfig of a repository (the org endpoint), decide which build to start and with
 * what BuildRequest, or say why not.
 */
import { commitProblem, gitRefProblem, quoteValue } from '../core/build-input-rules.js';
import type { BuildConfigSpec, BuildTriggerPolicy, WebHookTrigger } from '../core/build-types.js';
import type { Resource } from '../core/resource.js';
import { webhookCause } from './causes.js';
import { normalizeGitUri } from './git-uri.js';
import { pushTouchesPaths } from './paths-filter.js';
import { matchRef } from './ref-match.js';
import {
  TRIGGER_TYPE,
  type ObjectKey,
  type PushedRef,
  type PushEvent,
  type TriggeredBuildRequest,
  type WebhookSource,
} from './types.js';

/** OpenShift's annotation that stops every trigger of a BuildConfig. */
export const PAUSED_ANNOTATION = 'openshift.io/build-config.paused';

export function isPaused(obj: Resource): boolean {
  return obj.metadata.annotations?.[PAUSED_ANNOTATION] === 'true';
}

export type PushDecision =
  | { build: true; request: TriggeredBuildRequest; ref: string; reason: string }
  | { build: false; reason: string };

/** The `github`/`gitlab`/… block of a trigger policy of the receiver's type. */
export function webhookTriggerOf(
  policy: BuildTriggerPolicy,
  source: WebhookSource,
): WebHookTrigger | undefined {
  if (policy.type !== TRIGGER_TYPE[source]) return undefined;
  return policy[source];
}

/** Every trigger of the receiver's type on a BuildConfig, in spec order. */
export function webhookTriggers(buildConfig: Resource, source: WebhookSource): WebHookTrigger[] {
  const spec = buildConfig.spec as Partial<BuildConfigSpec> | undefined;
  const out: WebHookTrigger[] = [];
  for (const policy of spec?.triggers ?? []) {
    const t = webhookTriggerOf(policy, source);
    if (t) out.push(t);
  }
  return out;
}

/** What a generic payload may add to a webhook build besides the revision. */
export type BuildRequestExtras = Pick<TriggeredBuildRequest, 'env' | 'dockerStrategyOptions'>;

export interface DecidePushInput {
  buildConfig: Resource;
  /** The trigger whose secret (or the org endpoint's secret) admitted the delivery. */
  trigger: WebHookTrigger;
  push: PushEvent;
  /** Extra fields for the BuildRequest: generic webhook `env` (already filtered by allowEnv), docker options. */
  extra?: BuildRequestExtras;
}

/**
 * One BuildConfig, one trigger, one push: the first pushed ref that matches the
 * BuildConfig's ref patterns and touches its paths builds, with the push's revision and
 * an OpenShift webhook cause.
 */
export function decidePush(input: DecidePushInput): PushDecision {
  const spec = input.buildConfig.spec as Partial<BuildConfigSpec> | undefined;
  if (isPaused(input.buildConfig)) {
    return {
      build: false,
      reason: `BuildConfig "${input.buildConfig.metadata.name}" is paused (${PAUSED_ANNOTATION})`,
    };
  }
  const reasons: string[] = [];
  for (const pushed of input.push.refs) {
    // The receivers refuse these with a 400; a push from any other source stops here.
    const unsafe = pushedRefProblem(pushed);
    if (unsafe) {
      reasons.push(unsafe);
      continue;
    }
    const ref = matchRef({
      ref: pushed.ref,
      configRef: spec?.source?.git?.ref,
      trigger: input.trigger,
      defaultBranch: input.push.defaultBranch,
      deleted: pushed.deleted,
    });
    if (!ref.match) {
      reasons.push(ref.reason);
      continue;
    }
    const paths = pushTouchesPaths({
      changedPaths: input.push.changedPaths,
      contextDir: spec?.source?.contextDir,
      paths: input.trigger.paths,
    });
    if (!paths.build) {
      reasons.push(paths.reason);
      continue;
    }
    const request: TriggeredBuildRequest = {
      revision: pushed.revision,
      triggeredBy: [webhookCause(input.push.source, pushed.revision)],
    };
    if (input.extra?.env && input.extra.env.length > 0) request.env = input.extra.env;
    if (input.extra?.dockerStrategyOptions) request.dockerStrategyOptions = input.extra.dockerStrategyOptions;
    return {
      build: true,
      request,
      ref: pushed.ref,
      reason: `${pushed.ref} matches ${ref.pattern}; ${paths.reason}`,
    };
  }
  if (input.push.refs.length === 0) return { build: false, reason: 'the push names no ref' };
  return { build: false, reason: `skipping build: ${reasons.join('; ')}` };
}

/** Why a pushed ref or its commit may not reach git, or undefined. */
export function pushedRefProblem(pushed: PushedRef): string | undefined {
  const refIssue = gitRefProblem(pushed.ref);
  if (refIssue) return `ref ${quoteValue(pushed.ref)} ${refIssue}`;
  const commit = pushed.revision.git?.commit;
  const commitIssue = commit === undefined ? undefined : commitProblem(commit);
  if (commitIssue) return `commit ${quoteValue(commit ?? '')} ${commitIssue}`;
  return undefined;
}

export interface RoutedBuild {
  buildConfig: ObjectKey;
  request: TriggeredBuildRequest;
  reason: string;
  /** The BuildConfig as routing read it: starting the build need not read it again. */
  object: Resource;
}
export interface SkippedBuildConfig {
  buildConfig: ObjectKey;
  reason: string;
}

/** The repository key of a BuildConfig's git source, or undefined when it has none. */
export function buildConfigRepository(buildConfig: Resource): string | undefined {
  const uri = (buildConfig.spec as Partial<BuildConfigSpec> | undefined)?.source?.git?.uri;
  return uri === undefined ? undefined : normalizeGitUri(uri);
}

/**
 * The org/App endpoint's routing: given the candidate BuildConfigs (from the repository
 * index), which build and why the others do not. A BuildConfig opts in with a `GitHub`
 * trigger (its secret is not needed: the org secret authenticated the delivery); a
 * BuildConfig without one is never built by a push, as in OpenShift.
 */
export function routePush(input: { push: PushEvent; buildConfigs: readonly Resource[] }): {
  builds: RoutedBuild[];
  skipped: SkippedBuildConfig[];
} {
  const repoKeys = new Set(
    input.push.repoUrls.map(normalizeGitUri).filter((k): k is string => k !== undefined),
  );
  const builds: RoutedBuild[] = [];
  const skipped: SkippedBuildConfig[] = [];
  for (const bc of input.buildConfigs) {
    const key = { namespace: bc.metadata.namespace ?? 'default', name: bc.metadata.name };
    // The index may lag a BuildConfig whose URI just changed: check again.
    const repo = buildConfigRepository(bc);
    if (repo === undefined || !repoKeys.has(repo)) {
      skipped.push({ buildConfig: key, reason: 'its git URI names another repository' });
      continue;
    }
    const triggers = webhookTriggers(bc, input.push.source);
    if (triggers.length === 0) {
      skipped.push({ buildConfig: key, reason: `it has no ${TRIGGER_TYPE[input.push.source]} trigger` });
      continue;
    }
    // Several triggers of one type are alternatives (OpenShift: one secret each); the
    // first that accepts the push builds once.
    const reasons: string[] = [];
    let routed: RoutedBuild | undefined;
    for (const trigger of triggers) {
      const d = decidePush({ buildConfig: bc, trigger, push: input.push });
      if (d.build) {
        routed = { buildConfig: key, request: d.request, reason: d.reason, object: bc };
        break;
      }
      reasons.push(d.reason);
    }
    if (routed) builds.push(routed);
    else skipped.push({ buildConfig: key, reason: reasons.join(' | ') });
  }
  return { builds, skipped };
}
