/**
 * The rollout worker: takes rollout jobs off its target kind's rollout queue
 * (`rollouts-docker` or `rollouts-kubernetes`, docs/mixed-fleets.md) — never another
 * kind's — and runs them with the strategies (src/strategies/rollout.ts). A rollout
 * waiting on an older one gives its slot back and is looked at again later. Each rollout
 * that this worker ends is counted in the fleet's metrics (docs/metrics.md).
 */
import { DelayedError, Worker } from 'bullmq';
import { recordQueueWait, rolloutsFinished } from '../core/metrics.js';
import { redisConnection } from '../queue/build-queue.js';
import { rolloutJobId, type RolloutJobData } from '../queue/rollout-queue.js';
import { rolloutQueueName } from '../store/namespace-targets.js';
import { decodeRevisionConfig } from './deployment-config.js';
import { ACTIVE_PHASES } from './rollout-decisions.js';
import { runRollout, type RolloutDeps } from './rollout.js';
import { targetKind } from './target-guard.js';
import { REVISION_ANNOTATIONS, revisionName, revisionPhase, type ReplicationController } from './target.js';

export interface RolloutWorkerOptions {
  redisUrl: string;
  prefix?: string;
  concurrency?: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** How long a rollout waiting for an older one waits before it is looked at again. */
  waitRetryMs?: number;
}

export interface RolloutWorkerHandle {
  worker: Worker<RolloutJobData>;
  close(): Promise<void>;
}

export type RolloutResult = 'Complete' | 'Failed' | 'Cancelled';

/**
 * How a run of a rollout job ended the rollout, read from its revision before and after
 * the run, or undefined when the run did not end it (it waits, or the rollout had ended
 * already and this is a repeated job). A cancelled rollout ends Failed with the
 * RolloutCancelled reason, as in OpenShift; its result here is Cancelled.
 */
export function rolloutEnd(
  before: ReplicationController | undefined,
  after: ReplicationController | undefined,
): { result: RolloutResult; strategy: string } | undefined {
  if (!before || !after || !ACTIVE_PHASES.includes(revisionPhase(before))) return undefined;
  const phase = revisionPhase(after);
  if (phase !== 'Complete' && phase !== 'Failed') return undefined;
  const cancelled = after.metadata.annotations?.[REVISION_ANNOTATIONS.failureReason] === 'RolloutCancelled';
  const strategy = decodeRevisionConfig(after)?.spec.strategy?.type ?? 'Rolling';
  return { result: phase === 'Complete' ? 'Complete' : cancelled ? 'Cancelled' : 'Failed', strategy };
}

/** A BullMQ worker running rollouts; a rollout waiting on an older one gives its slot back meanwhile. */
export function startRolloutWorker(deps: RolloutDeps, options: RolloutWorkerOptions): RolloutWorkerHandle {
  const shutdown = new AbortController();
  const worker = new Worker<RolloutJobData>(
    rolloutQueueName(targetKind(deps.target)),
    async (job, token) => {
      const rc = revisionName(job.data.name, job.data.version);
      const before = await deps.target.getRevision(job.data.namespace, rc);
      const outcome = await runRollout(deps, { ...job.data, signal: shutdown.signal });
      if (outcome.kind === 'finished') {
        const end = rolloutEnd(before, await deps.target.getRevision(job.data.namespace, rc));
        if (end) rolloutsFinished.inc(end);
      }
      if (outcome.kind === 'waiting') {
        await job.moveToDelayed(Date.now() + (options.waitRetryMs ?? 500), token);
        throw new DelayedError(outcome.reason);
      }
      return outcome.phase;
    },
    {
      connection: redisConnection(options.redisUrl),
      prefix: `${options.prefix ?? 'slipway'}:bull`,
      // Rollouts mostly wait on replicas; many fit one worker.
      concurrency: options.concurrency ?? 10,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: 3,
    },
  );
  worker.on('failed', (job, err) => {
    if (job) deps.logger.warn({ rollout: rolloutJobId(job.data), err: err.message }, 'rollout job failed');
  });
  worker.on('active', (job) => recordQueueWait(job));
  worker.on('error', (err) => deps.logger.error({ err }, 'rollout worker error'));
  return {
    worker,
    close: async () => {
      shutdown.abort();
      await worker.close();
    },
  };
}
