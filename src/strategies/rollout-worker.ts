/**
 * The rollout worker: takes rollout jobs off its target kind's rollout queue
 * (`rollouts-docker` or `rollouts-kubernetes`, docs/mixed-fleets.md) — never another
 * kind's — and runs them with the strategies (src/strategies/rollout.ts). A rollout
 * waiting on an older one gives its slot back and is looked at again later.
 */
import { DelayedError, Worker } from 'bullmq';
import { redisConnection } from '../queue/build-queue.js';
import { rolloutJobId, type RolloutJobData } from '../queue/rollout-queue.js';
import { rolloutQueueName } from '../store/namespace-targets.js';
import { runRollout, type RolloutDeps } from './rollout.js';
import { targetKind } from './target-guard.js';

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

/** A BullMQ worker running rollouts; a rollout waiting on an older one gives its slot back meanwhile. */
export function startRolloutWorker(deps: RolloutDeps, options: RolloutWorkerOptions): RolloutWorkerHandle {
  const shutdown = new AbortController();
  const worker = new Worker<RolloutJobData>(
    rolloutQueueName(targetKind(deps.target)),
    async (job, token) => {
      const outcome = await runRollout(deps, { ...job.data, signal: shutdown.signal });
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
  worker.on('error', (err) => deps.logger.error({ err }, 'rollout worker error'));
  return {
    worker,
    close: async () => {
      shutdown.abort();
      await worker.close();
    },
  };
}
