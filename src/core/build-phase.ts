/**
 * The Build phase machine, as OpenShift defines it: New → Pending → Running → one of
 * Complete, Failed, Error, Cancelled. Cancelled and Error can be reached from any
 * non-terminal phase; nothing leaves a terminal phase.
 */
import type { BuildPhase } from './build-types.js';

const TERMINAL: ReadonlySet<BuildPhase> = new Set(['Complete', 'Failed', 'Error', 'Cancelled']);

const NEXT: Record<BuildPhase, readonly BuildPhase[]> = {
  New: ['Pending', 'Cancelled', 'Error', 'Failed'],
  Pending: ['Running', 'Cancelled', 'Error', 'Failed'],
  Running: ['Complete', 'Failed', 'Error', 'Cancelled'],
  Complete: [],
  Failed: [],
  Error: [],
  Cancelled: [],
};

export function isTerminal(phase: BuildPhase | undefined): boolean {
  return phase !== undefined && TERMINAL.has(phase);
}

export function canTransition(from: BuildPhase, to: BuildPhase): boolean {
  return NEXT[from].includes(to);
}

/** Build `{bc}-{N}`: N is the BuildConfig's `status.lastVersion` after the increment. */
export function buildName(buildConfig: string, version: number): string {
  return `${buildConfig}-${version}`;
}

/** OpenShift's `duration` is a Go time.Duration: nanoseconds as an integer. */
export function durationNanos(startIso: string, endIso: string): number {
  return Math.max(0, Date.parse(endIso) - Date.parse(startIso)) * 1_000_000;
}
