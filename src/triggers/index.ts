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
export { DEFAULT_DELIVERY_TTL_SECONDS, RedisDeliveryClaims, type DeliveryClaims } from './delivery-claims.js';
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
export { RedisImageProvenance, type ImageLocation, type ImageProvenance } from './image-provenance.js';
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
export { RedisBuildConfigIndex } from './redis-buildconfig-index.js';
export { matchRef } from './ref-match.js';
export {
  buildNumberOf,
  buildRunInfo,
  buildsToCancel,
  mayStartBuild,
  nextRunnableBuilds,
  supersededBy,
  type RunPolicy,
} from './run-policy.js';
export type { ObjectKey, PushEvent, TriggeredBuildRequest, WebhookSource } from './types.js';
