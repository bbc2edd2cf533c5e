/** Trigger decisions' public face: what the server, queue and workers call (see docs/triggers.md). */
export {
  MemoryBuildConfigIndex,
  startBuildConfigIndexing,
  type BuildConfigIndex,
} from './buildconfig-index.js';
export {
  BuildTriggerCauseMessages,
  configChangeCause,
  imageChangeCause,
  manualCause,
  webhookCause,
} from './causes.js';
export {
  buildLogUrl,
  CommitStatusPublisher,
  GitHubCommitStatusReporter,
  planCommitStatus,
  type CommitStatusReporterOptions,
  type ReportOutcome,
} from './commit-status.js';
export { decideConfigChange } from './config-change.js';
export { normalizeGitUri, repositoryCoordinates, sameRepository } from './git-uri.js';
export {
  dispatchImageChange,
  imageChangeDeliveryId,
  logDeploymentImageChange,
  type DeploymentImageChangeHook,
  type FiredDeploymentDecision,
  type ImageChangeDispatchDeps,
  type ImageChangeOutcome,
} from './image-change-dispatch.js';
export {
  decideBuildImageChange,
  decideDeploymentImageChange,
  recordBuildTriggers,
  type ImageStreamTagUpdate,
} from './image-change.js';
export { pushTouchesPaths } from './paths-filter.js';
export {
  decidePush,
  isPaused,
  routePush,
  type RoutedBuild,
  type SkippedBuildConfig,
} from './push-decision.js';
export { findBuildsForPush, type PushRouting } from './push-router.js';
export { matchRef } from './ref-match.js';
export type { ObjectKey, PushEvent, TriggeredBuildRequest, WebhookSource } from './types.js';
