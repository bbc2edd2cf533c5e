/**
 * runPolicy, as OpenShift's build controller applies it
 * (openshift-controller-manager pkg/build/controller/policy):
 *
 * - Serial: builds of one BuildConfig run one at a time, in the order they were created.
 * - SerialLatestOnly: the same, and when a build is created every older build that has
 *   not started (New or Pending) is cancelled, so the newest queued build runs next and
 *   the running one finishes.
 * - Parallel: builds run as soon as a worker takes them.
 *
 * "Order" is the build number (`openshift.io/build.number`), not the creation time:
 * two servers can create builds in the same second.
 */
import type { BuildPhase } from '../core/build-types.js';
import type { Resource } from '../core/resource.js';

export type RunPolicy = 'Serial' | 'SerialLatestOnly' | 'Parallel';

/** What a run-policy decision needs to know about one build. */
export interface BuildRunInfo {
  name: string;
  /** The build number within its BuildConfig. */
  number: number;
  phase: BuildPhase;
}

const ENDED: ReadonlySet<BuildPhase> = new Set(['Complete', 'Failed', 'Error', 'Cancelled']);
/** Phases of a build that has not started: SerialLatestOnly may still cancel it. */
const QUEUED: ReadonlySet<BuildPhase> = new Set(['New', 'Pending']);

export const BUILD_NUMBER_ANNOTATION = 'openshift.io/build.number';

/** A build's number: its `openshift.io/build.number` annotation, else the `-N` suffix of its name. */
export function buildNumberOf(build: Pick<Resource, 'metadata'>): number | undefined {
  const annotated = build.metadata.annotations?.[BUILD_NUMBER_ANNOTATION];
  if (annotated !== undefined && /^\d+$/.test(annotated)) return Number(annotated);
  const suffix = /-(\d+)$/.exec(build.metadata.name)?.[1];
  return suffix === undefined ? undefined : Number(suffix);
}

/** Reads the run-policy view of a stored Build; undefined when it carries no number. */
export function buildRunInfo(build: Resource): BuildRunInfo | undefined {
  const number = buildNumberOf(build);
  if (number === undefined) return undefined;
  const phase = ((build.status as { phase?: BuildPhase } | undefined)?.phase ?? 'New') as BuildPhase;
  return { name: build.metadata.name, number, phase };
}

/**
 * SerialLatestOnly: the builds to cancel now that `newBuild` exists: every other build
 * of the config that is still New or Pending and has a lower number. A running build is
 * left to finish; a newer build is left alone (its own arrival cancels this one).
 */
export function buildsToCancel(input: {
  runPolicy: RunPolicy | undefined;
  builds: readonly BuildRunInfo[];
  newBuild: Pick<BuildRunInfo, 'name' | 'number'>;
}): string[] {
  if (input.runPolicy !== 'SerialLatestOnly') return [];
  return input.builds
    .filter((b) => b.name !== input.newBuild.name && QUEUED.has(b.phase) && b.number < input.newBuild.number)
    .sort((a, b) => a.number - b.number)
    .map((b) => b.name);
}

/**
 * SerialLatestOnly, seen from a queued build about to start: the newest queued build of
 * the config, when it supersedes this one. `buildsToCancel` runs when a build is
 * created, but two servers creating builds at once can each miss the other's; OpenShift
 * closes that race by re-examining builds, and a worker asking this before it starts a
 * build does the same. Undefined when the build may go ahead (or the policy is another).
 */
export function supersededBy(input: {
  runPolicy: RunPolicy | undefined;
  builds: readonly BuildRunInfo[];
  build: Pick<BuildRunInfo, 'name' | 'number'>;
}): string | undefined {
  if (input.runPolicy !== 'SerialLatestOnly') return undefined;
  const newest = input.builds
    .filter((b) => QUEUED.has(b.phase))
    .reduce<BuildRunInfo | undefined>(
      (max, b) => (max === undefined || b.number > max.number ? b : max),
      undefined,
    );
  if (!newest || newest.number <= input.build.number) return undefined;
  const builds = input.builds.some((b) => b.name === input.build.name)
    ? input.builds
    : [...input.builds, { ...input.build, phase: 'New' as const }];
  return buildsToCancel({ runPolicy: input.runPolicy, builds, newBuild: newest }).includes(input.build.name)
    ? newest.name
    : undefined;
}

export type StartDecision = { mayStart: true } | { mayStart: false; waitingFor: string[]; reason: string };

/**
 * May `build` start running now? Parallel: yes. Serial and SerialLatestOnly: only when
 * every lower-numbered build has ended and no other build of the config is running;
 * otherwise the caller leaves it queued and asks again when one of `waitingFor` ends.
 * A build that has itself ended (cancelled while queued) never starts.
 */
export function mayStartBuild(input: {
  runPolicy: RunPolicy | undefined;
  builds: readonly BuildRunInfo[];
  build: Pick<BuildRunInfo, 'name' | 'number'>;
}): StartDecision {
  const self = input.builds.find((b) => b.name === input.build.name);
  if (self && ENDED.has(self.phase)) {
    return { mayStart: false, waitingFor: [], reason: `build ${self.name} is already ${self.phase}` };
  }
  // OpenShift's default runPolicy is Serial.
  const policy = input.runPolicy ?? 'Serial';
  if (policy === 'Parallel') return { mayStart: true };
  const blocking = input.builds
    .filter(
      (b) =>
        b.name !== input.build.name &&
        !ENDED.has(b.phase) &&
        (b.number < input.build.number || b.phase === 'Running'),
    )
    .sort((a, b) => a.number - b.number);
  if (blocking.length === 0) return { mayStart: true };
  return {
    mayStart: false,
    waitingFor: blocking.map((b) => b.name),
    reason: `runPolicy ${policy}: waiting for ${blocking.map((b) => `${b.name} (${b.phase})`).join(', ')}`,
  };
}

/** The next builds a dispatcher should start for one BuildConfig, in order. */
export function nextRunnableBuilds(input: {
  runPolicy: RunPolicy | undefined;
  builds: readonly BuildRunInfo[];
}): string[] {
  const queued = input.builds.filter((b) => QUEUED.has(b.phase)).sort((a, b) => a.number - b.number);
  return queued
    .filter((b) => mayStartBuild({ runPolicy: input.runPolicy, builds: input.builds, build: b }).mayStart)
    .map((b) => b.name);
}
