/**
 * The Rolling strategy's arithmetic, as pure functions: Kubernetes' rolling updater
 * (kubectl rolling_updater.go, which OpenShift's Rolling strategy runs) over plain numbers.
 */
import type { IntOrPercent } from '../core/deploy-types.js';

/**
 * Kubernetes' GetValueFromIntOrPercent: an integer as is; a percentage of `total`,
 * rounded up for maxSurge and down for maxUnavailable (`roundUp`).
 */
export function resolveIntOrPercent(value: IntOrPercent, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  if (!value.endsWith('%')) return Number.parseInt(value, 10);
  const percent = Number.parseInt(value.slice(0, -1), 10);
  const exact = (percent * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

export interface Fenceposts {
  maxSurge: number;
  maxUnavailable: number;
}

/**
 * kubectl's ResolveFenceposts: surge rounds up, unavailable rounds down, and when both
 * come to 0 (`"10%"` of 3 replicas) maxUnavailable becomes 1, so the rollout can move.
 */
export function resolveFenceposts(
  maxSurge: IntOrPercent,
  maxUnavailable: IntOrPercent,
  desired: number,
): Fenceposts {
  const surge = resolveIntOrPercent(maxSurge, desired, true);
  let unavailable = resolveIntOrPercent(maxUnavailable, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { maxSurge: surge, maxUnavailable: unavailable };
}

export interface RollingState {
  desired: number;
  /** `spec.replicas` of the old (serving) revision. */
  oldReplicas: number;
  /** `spec.replicas` of the new revision. */
  newReplicas: number;
  /** New replicas ready for minReadySeconds. */
  newAvailable: number;
}

/** Replicas the new revision may have now without passing `desired + maxSurge` in all. */
export function scaleUpTarget(state: RollingState, fence: Fenceposts): number {
  const { desired, oldReplicas, newReplicas } = state;
  if (newReplicas === desired) return newReplicas;
  // The old revision is gone: nothing to protect, go all the way.
  let increment =
    oldReplicas === 0 ? desired - newReplicas : desired + fence.maxSurge - (oldReplicas + newReplicas);
  if (increment <= 0) return newReplicas;
  increment = Math.min(newReplicas + increment, desired) - newReplicas;
  return newReplicas + increment;
}

/**
 * Replicas the old revision may keep now: as few as possible while `desired -
 * maxUnavailable` replicas stay available, counting unavailable new replicas as missing.
 */
export function scaleDownTarget(state: RollingState, fence: Fenceposts): number {
  const { desired, oldReplicas, newReplicas, newAvailable } = state;
  if (oldReplicas === 0) return 0;
  const minAvailable = Math.max(0, desired - fence.maxUnavailable);
  const newUnavailable = newReplicas - newAvailable;
  const decrement = oldReplicas + newReplicas - minAvailable - newUnavailable;
  if (decrement <= 0) return oldReplicas;
  // The new revision is fully up and available: the old one can go at once.
  if (newReplicas === desired && newAvailable === desired) return 0;
  return Math.max(0, oldReplicas - decrement);
}
