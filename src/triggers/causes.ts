/**
 * `spec.triggeredBy` entries exactly as OpenShift writes them, so `oc describe build`
 * and the web UI read Slipway's Builds the same way. Field names and messages come from
 * openshift/api build/v1 (BuildTriggerCause, GitHubWebHookCause, CommonWebHookCause,
 * ImageChangeCause) and openshift-apiserver's apiserverbuildutil constants.
 */
import type { BuildTriggerCause, ObjectReference, SourceRevision } from '../core/build-types.js';
import type { WebhookSource } from './types.js';

export const BuildTriggerCauseMessages = {
  manual: 'Manually triggered',
  config: 'Build configuration change',
  image: 'Image change',
  github: 'GitHub WebHook',
  generic: 'Generic WebHook',
  gitlab: 'GitLab WebHook',
  bitbucket: 'Bitbucket WebHook',
} as const;

/**
 * OpenShift records `<secret>` rather than the secret that fired the hook: a Build is
 * readable by more people than the BuildConfig's trigger secrets should be
 * (openshift-apiserver pkg/build/apiserver/webhook GenerateBuildTriggerInfo).
 */
export const HIDDEN_SECRET = '<secret>';

const CAUSE_FIELD: Record<
  WebhookSource,
  'githubWebHook' | 'genericWebHook' | 'gitlabWebHook' | 'bitbucketWebHook'
> = {
  github: 'githubWebHook',
  generic: 'genericWebHook',
  gitlab: 'gitlabWebHook',
  bitbucket: 'bitbucketWebHook',
};

/** The cause of a webhook build: `{message: "GitHub WebHook", githubWebHook: {revision, secret: "<secret>"}}`. */
export function webhookCause(source: WebhookSource, revision?: SourceRevision): BuildTriggerCause {
  const detail: { revision?: SourceRevision; secret: string } = { secret: HIDDEN_SECRET };
  if (revision !== undefined) detail.revision = revision;
  return { message: BuildTriggerCauseMessages[source], [CAUSE_FIELD[source]]: detail };
}

/**
 * The cause of an image-change build. `imageID` is the pullable reference by digest
 * (`registry/ns/stream@sha256:…`): OpenShift stores a reference there despite the name.
 */
export function imageChangeCause(imageID: string, fromRef: ObjectReference): BuildTriggerCause {
  return { message: BuildTriggerCauseMessages.image, imageChangeBuild: { imageID, fromRef } };
}

/** The cause of the first build of a BuildConfig with a ConfigChange trigger. */
export function configChangeCause(): BuildTriggerCause {
  return { message: BuildTriggerCauseMessages.config };
}

/** The cause of `slipway start-build` / `instantiate` without other causes. */
export function manualCause(): BuildTriggerCause {
  return { message: BuildTriggerCauseMessages.manual };
}
