/**
 * The rollout runner's decisions, apart from its I/O (src/strategies/rollout.ts reads the
 * store and the target, runs the strategy and writes the outcome): whether rollout N
 * runs, waits for an older one, or ends cancelled.
 * Pure: unit-tested without Redis or Docker.
 */
import type { DeploymentConfig } from '../core/deploy-types.js';
import {
  REVISION_ANNOTATIONS,
  revisionPhase,
  revisionVersion,
  type ReplicationController,
  type RevisionPhase,
} from './target.js';

/** Phases of a revision whose rollout has not ended. */
export const ACTIVE_PHASES: readonly RevisionPhase[] = ['New', 'Pending', 'Running'];

/** Why rollout `version` must stop because of its DeploymentConfig, or undefined when it may go on. */
export function rolloutSupersededBy(dc: DeploymentConfig | undefined, version: number): string | undefined {
  if (!dc) return 'the DeploymentConfig was deleted';
  return (dc.status?.latestVersion ?? 0) > version ? 'newer deployment was found running' : undefined;
}

export type RolloutStartDecision =
  /** Nothing to run: the config or revision is gone, or the rollout already ended. */
  | { kind: 'finished'; phase: RevisionPhase }
  /** Cancelled by the user or superseded before it started: it ends Failed, the serving revision stays. */
  | { kind: 'cancel'; reason: string }
  /** An older rollout has not ended: look again later. */
  | { kind: 'wait'; reason: string }
  | { kind: 'run'; resumed: boolean };

/** What a rollout job does with rollout `version` of `dc` (revision `to`) given every revision. */
export function decideRolloutStart(input: {
  dc: DeploymentConfig | undefined;
  to: ReplicationController | undefined;
  revisions: ReplicationController[];
  version: number;
}): RolloutStartDecision {
  const { dc, to, revisions, version } = input;
  if (!dc || !to) return { kind: 'finished', phase: 'Failed' };
  const phase = revisionPhase(to);
  if (phase === 'Complete' || phase === 'Failed') return { kind: 'finished', phase };
  const early =
    to.metadata.annotations?.[REVISION_ANNOTATIONS.cancelled] === 'true'
      ? 'cancelled by the user'
      : rolloutSupersededBy(dc, version);
  if (early) return { kind: 'cancel', reason: early };
  const olderActive = revisions.filter(
    (r) => revisionVersion(r) < version && ACTIVE_PHASES.includes(revisionPhase(r)),
  );
  if (olderActive.length > 0)
    return {
      kind: 'wait',
      reason: `waiting for ${olderActive.map((r) => r.metadata.name).join(', ')} to end`,
    };
  return { kind: 'run', resumed: phase === 'Running' };
}
