/**
 * The Strategy interface: how one rollout moves traffic from the serving revision to the
 * new one. Rolling, Recreate and Custom each live in one file (rolling.ts, recreate.ts,
 * custom.ts) and are listed in strategies/index.ts; a fourth is one new file implementing
 * `Strategy` plus its line there.
 *
 * A strategy only scales revisions through `ctx.target` and runs hooks through
 * `ctx.runHook`; the rollout controller (rollout.ts) owns phases, conditions, the
 * automatic rollback after a failure and the pruning of old revisions.
 */
import type { DeploymentConfig, DeploymentReason, LifecycleHook } from '../core/deploy-types.js';
import type { DeployTarget, ReplicationController } from './target.js';

export interface StrategyContext {
  target: DeployTarget;
  /** The DeploymentConfig as it was when this revision was made. */
  config: DeploymentConfig;
  /** The revision being rolled out, at 0 replicas when the strategy starts (or more, when resumed). */
  to: ReplicationController;
  /** The last revision that completed, serving now; undefined on the first rollout. */
  from: ReplicationController | undefined;
  /** Replicas `to` must end with: the DeploymentConfig's `spec.replicas`. */
  desiredReplicas: number;
  /** Fires when the rollout is cancelled or superseded by a newer one, or the worker stops. */
  signal: AbortSignal;
  /** A line in the rollout's log (kept on the revision's record and the worker's log). */
  log(line: string): void;
  /**
   * Runs a lifecycle hook with its failurePolicy: resolves when it succeeded (or failed
   * under Ignore), throws DeploymentFailure(HookFailed) under Abort and after the last
   * Retry. `stage` names the hook pod (`{revision}-hook-{stage}`).
   */
  runHook(hook: LifecycleHook | null | undefined, stage: 'pre' | 'mid' | 'post'): Promise<void>;
  /**
   * A short-lived token scoped to this rollout (the DeploymentConfig's revisions and
   * their scale), and the API URL it works against; for the Custom strategy.
   */
  issueApiAccess(ttlSeconds: number): Promise<{ url: string; token: string }>;
  /** Tells the controller to refresh the DeploymentConfig's counts and conditions. */
  progress(message?: string): Promise<void>;
  /**
   * Rolling only: stop once the new revision has this percentage of `desiredReplicas`
   * available (OpenShift's `openshift-deploy --until=50%`), without the post hook.
   */
  until?: number;
  /**
   * Answers a Custom deployer's step requests (`POST …/deploymentconfigs/{name}/deploy`)
   * by calling `step` while the deployer runs; returns the function that stops answering.
   * For the customParams wrapping of Rolling/Recreate.
   */
  serveDeployerSteps?(step: (until: number | undefined) => Promise<void>): () => Promise<void>;
}

export interface Strategy {
  readonly type: string;
  /** Rolls `ctx.to` out; returns when it serves at `desiredReplicas`, throws DeploymentFailure otherwise. */
  deploy(ctx: StrategyContext): Promise<void>;
}

/** A rollout that ended badly; `reason` becomes the Progressing condition's reason. */
export class DeploymentFailure extends Error {
  constructor(
    readonly reason: DeploymentReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

/** Waits `ms`, or rejects when the signal fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Polls the revision until `accept(status)` holds; throws DeploymentFailure
 * (ProgressDeadlineExceeded) after `timeoutSeconds`. Shared by Recreate and Custom.
 */
export async function waitForRevision(
  ctx: Pick<StrategyContext, 'target' | 'signal'>,
  rc: ReplicationController,
  options: {
    timeoutSeconds: number;
    intervalMs?: number;
    what: string;
    accept: (s: Awaited<ReturnType<DeployTarget['revisionStatus']>>) => boolean;
  },
): Promise<void> {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  const ns = rc.metadata.namespace!;
  for (;;) {
    const status = await ctx.target.revisionStatus(ns, rc.metadata.name);
    if (options.accept(status)) return;
    if (Date.now() > deadline) {
      const why = status.failures.length > 0 ? `: ${status.failures.join('; ')}` : '';
      throw new DeploymentFailure(
        'ProgressDeadlineExceeded',
        `${options.what}: ${rc.metadata.name} had ${status.ready} of ${status.desired} replicas ready after ${options.timeoutSeconds}s${why}`,
      );
    }
    await sleep(options.intervalMs ?? 500, ctx.signal);
  }
}
