/**
 * The build runner's decisions, apart from its I/O (src/queue/build-runner.ts does the
 * reads, writes, git, Docker and pushes): whether a stored Build may run, which end phase
 * and OpenShift reason follow from what went wrong, and what the final status records.
 * Pure: unit-tested without Redis or Docker.
 */
import type { BuildPhase, BuildSpec, BuildStatus } from '../core/build-types.js';
import { durationNanos, isTerminal } from '../core/build-phase.js';
import { BuildCancelled, BuildFailure, errorMessage, type BuildReason } from '../core/errors.js';
import type { Resource } from '../core/resource.js';
import { mayStartBuild, supersededBy, type BuildRunInfo, type RunPolicy } from './run-policy.js';

/** An end phase with its reason and message, and the line the build log gets first. */
export interface BuildEnd {
  phase: BuildPhase;
  reason?: BuildReason;
  message?: string;
  /** Written to the build log before the end is recorded. */
  logLine?: string;
  /** The failing step's output, for `status.logSnippet`. */
  logSnippet?: string;
}

export type StoredBuildDecision =
  /** Deleted, or deleted and made again under its name: nothing is written. */
  | { kind: 'gone' }
  /** Already ended: nothing to do. */
  | { kind: 'ended'; phase: BuildPhase }
  /** A worker claimed it and stopped: its leftovers go and it ends Error. */
  | { kind: 'orphaned'; end: BuildEnd }
  | { kind: 'end'; end: BuildEnd }
  /** New and not cancelled: run policies decide next. */
  | { kind: 'candidate' };

/** What the runner does with the Build it read for a job. */
export function decideStoredBuild(
  build: Resource | undefined,
  jobUid: string | undefined,
): StoredBuildDecision {
  if (!build) return { kind: 'gone' };
  if (jobUid && build.metadata.uid !== jobUid) return { kind: 'gone' };
  const status = (build.status ?? {}) as BuildStatus;
  if (isTerminal(status.phase)) return { kind: 'ended', phase: status.phase! };
  if (status.phase === 'Pending' || status.phase === 'Running') {
    return {
      kind: 'orphaned',
      end: {
        phase: 'Error',
        reason: 'BuildPodDeleted',
        message: 'The worker running this build stopped before the build finished; start a new build.',
        logLine: `The worker running this build (${build.metadata.annotations?.['slipway.dev/worker'] ?? 'unknown'}) stopped before the build finished.`,
      },
    };
  }
  if (status.cancelled) {
    return {
      kind: 'end',
      end: { phase: 'Cancelled', reason: 'CancelledBuild', message: 'The build was cancelled by the user.' },
    };
  }
  return { kind: 'candidate' };
}

/** The run policy a Build was started under (its label), and its BuildConfig. */
export function runPolicyOf(build: Resource): { runPolicy: RunPolicy; buildConfig: string | undefined } {
  return {
    runPolicy: (build.metadata.labels?.['openshift.io/build.start-policy'] ?? 'Serial') as RunPolicy,
    buildConfig: build.metadata.labels?.['openshift.io/build-config.name'],
  };
}

export type RunPolicyDecision =
  { kind: 'run' } | { kind: 'wait'; reason: string } | { kind: 'end'; end: BuildEnd };

/**
 * Serial and SerialLatestOnly: build N starts only when every earlier build has ended;
 * under SerialLatestOnly a newer queued build cancels it (src/queue/run-policy.ts).
 */
export function decideRunPolicy(input: {
  runPolicy: RunPolicy;
  build: BuildRunInfo;
  siblings: BuildRunInfo[];
}): RunPolicyDecision {
  const { runPolicy, build, siblings } = input;
  if (runPolicy === 'Parallel') return { kind: 'run' };
  const newer = supersededBy({ runPolicy, builds: siblings, build });
  if (newer) {
    const message = `The build was cancelled: ${newer} is newer (runPolicy SerialLatestOnly).`;
    return { kind: 'end', end: { phase: 'Cancelled', reason: 'CancelledBuild', message, logLine: message } };
  }
  const start = mayStartBuild({ runPolicy, builds: siblings, build });
  return start.mayStart ? { kind: 'run' } : { kind: 'wait', reason: start.reason };
}

export type FailureDecision = { kind: 'handBack' } | { kind: 'end'; end: BuildEnd; unexpected: boolean };

/**
 * The end of a build whose steps threw. The deadline comes first (the abort it caused
 * looks like a cancel); a stop during a worker's shutdown hands the build back unless
 * the user cancelled it; a BuildFailure carries its own phase and reason; anything else
 * is unexpected: Error, GenericBuildFailed.
 */
export function decideFailure(input: {
  err: unknown;
  deadlineExceeded: boolean;
  deadlineSeconds?: number | undefined;
  /** The build's steps were aborted (cancel, shutdown or deadline). */
  aborted: boolean;
  shuttingDown: boolean;
  cancelledByUser: boolean;
}): FailureDecision {
  const { err } = input;
  if (input.deadlineExceeded) {
    const message = 'Build was running longer than the specified deadline';
    return {
      kind: 'end',
      unexpected: false,
      end: {
        phase: 'Failed',
        reason: 'DeadlineExceeded',
        message,
        logLine: `error: ${message} (completionDeadlineSeconds ${input.deadlineSeconds}).`,
      },
    };
  }
  if (err instanceof BuildCancelled || input.aborted) {
    if (input.shuttingDown && !input.cancelledByUser) return { kind: 'handBack' };
    return {
      kind: 'end',
      unexpected: false,
      end: {
        phase: 'Cancelled',
        reason: 'CancelledBuild',
        message: 'The build was cancelled by the user.',
        logLine: 'Build cancelled.',
      },
    };
  }
  if (err instanceof BuildFailure) {
    return {
      kind: 'end',
      unexpected: false,
      end: {
        phase: err.phase,
        reason: err.reason,
        message: err.message,
        logLine: `error: ${err.message}`,
        ...(err.logSnippet !== undefined ? { logSnippet: err.logSnippet } : {}),
      },
    };
  }
  return {
    kind: 'end',
    unexpected: true,
    end: {
      phase: 'Error',
      reason: 'GenericBuildFailed',
      message: `The build failed unexpectedly: ${errorMessage(err)}`,
      logLine: `error: ${errorMessage(err)}`,
    },
  };
}

/**
 * The status a build ends with: phase, completion time and duration, reason, message
 * and (for Failed and Error) the log snippet, both redacted; the pushed image when there
 * is one.
 */
export function endStatusPatch(input: {
  status: BuildStatus;
  end: BuildEnd;
  completionTimestamp: string;
  output?: { reference: string; digest: string } | undefined;
  /** The log's own snippet, when the failure brought none. */
  logSnippet: () => string;
  redact: (text: string) => string;
}): Partial<BuildStatus> {
  const { end } = input;
  const patch: Partial<BuildStatus> = { phase: end.phase, completionTimestamp: input.completionTimestamp };
  const start = input.status.startTimestamp;
  if (start) patch.duration = durationNanos(start, input.completionTimestamp);
  if (end.reason) patch.reason = end.reason;
  if (end.message) patch.message = input.redact(end.message);
  if (end.phase === 'Failed' || end.phase === 'Error')
    patch.logSnippet = input.redact(end.logSnippet ?? input.logSnippet());
  if (input.output) {
    patch.outputDockerImageReference = input.output.reference;
    patch.output = { to: { imageDigest: input.output.digest } };
  }
  return patch;
}

/**
 * The binary upload a Build names, when it is the build's own namespace's: an annotation
 * naming another namespace's upload must neither read nor delete it.
 */
export function ownBinaryInput(build: Resource, namespace: string): string | undefined {
  const id = build.metadata.annotations?.['slipway.dev/binary-input'];
  if (!id) return undefined;
  return !id.includes('/') || id.startsWith(`${namespace}/`) ? id : undefined;
}

export type AvoidanceDecision =
  /** The build may reuse an earlier build's image: its fingerprint is looked up. */
  | { kind: 'lookUp' }
  /**
   * The build runs for real; `why` goes to its log when a user asked for it (`forced`),
   * and its image is recorded for later builds (`forced` too: noCache only says how
   * this build runs, so its image is the newest for its inputs).
   */
  | { kind: 'build'; why: string; forced: boolean };

/**
 * Whether a build may reuse the image of an earlier build with the same inputs
 * (docs/build-lifecycle.md). Inputs the fingerprint cannot see always build, and their
 * image is never recorded: an uploaded (binary) source, whose content is not hashed,
 * and a Docker build that pulls the Dockerfile's own base images (`forcePull` without
 * `from`). A build with no output has nothing to reuse, and strategies other than
 * Docker and Source are not run by workers at all. Otherwise `noCache` (the strategy's,
 * or `start-build --no-cache`) forces a real build whose image is recorded.
 */
export function decideAvoidance(build: Resource): AvoidanceDecision {
  const spec = build.spec as BuildSpec;
  const { strategy } = spec;
  const options = strategy.type === 'Source' ? strategy.sourceStrategy : strategy.dockerStrategy;
  if (strategy.type !== 'Docker' && strategy.type !== 'Source')
    return { kind: 'build', forced: false, why: `strategy ${strategy.type} is not avoided` };
  if (build.metadata.annotations?.['slipway.dev/binary-input'] || spec.source.type === 'Binary')
    return { kind: 'build', forced: false, why: 'a binary (uploaded) source is always built' };
  if (!spec.output?.to) return { kind: 'build', forced: false, why: 'the build has no output image' };
  if (strategy.type === 'Docker' && strategy.dockerStrategy?.forcePull && !strategy.dockerStrategy.from)
    return {
      kind: 'build',
      forced: false,
      why: "forcePull pulls the Dockerfile's own base images, which only the build resolves",
    };
  if (options?.noCache === true)
    return {
      kind: 'build',
      forced: true,
      why: `noCache is set (spec.strategy.${strategy.type === 'Source' ? 'sourceStrategy' : 'dockerStrategy'}.noCache): building without reusing an earlier build's image`,
    };
  return { kind: 'lookUp' };
}

/** The build that reused `from`'s image: Complete, saying so in its message and log. */
export function reusedBuildEnd(from: { namespace: string; build: string; digest: string }): BuildEnd {
  return {
    phase: 'Complete',
    message: `Reused the image of build ${from.build} (same inputs)`,
    logLine: `Reused the image ${from.digest} of build ${from.namespace}/${from.build}: its inputs (commit, context, builder image, strategy options, env and build args) are the same as this build's. Start the build with --no-cache to build for real.`,
  };
}
