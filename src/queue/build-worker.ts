/**
 * A BullMQ worker that runs builds. It holds a lease on each job (BullMQ's lock); when a
 * worker dies, the lease runs out, the stalled-job check hands the job to another
 * worker, and the runner ends the orphaned Build in Error instead of leaving it Running.
 * A worker told to stop takes no new job and gives its running builds a grace period to
 * finish; builds still running when it ends are handed back to the queue, to run again
 * on another worker (docs/build-lifecycle.md).
 */
import { hostname } from 'node:os';
import { DelayedError, Worker } from 'bullmq';
import { recordBuildEnd, recordQueueWait } from '../core/metrics.js';
import { BUILD_QUEUE, redisConnection, type BuildJobData } from './build-queue.js';
import { runBuild, type BuildRunnerDeps } from './build-runner.js';
import { failOrphanedBuild } from './cancel.js';

export interface BuildWorkerOptions {
  redisUrl: string;
  prefix?: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** How long a build blocked by its run policy waits before it is looked at again. */
  serialRetryMs?: number;
  /** On close, how long running builds may take to finish before they are handed back (default 20 s). */
  shutdownGraceMs?: number;
}

export const DEFAULT_SHUTDOWN_GRACE_MS = 20_000;

export interface BuildWorkerHandle {
  worker: Worker<BuildJobData>;
  id: string;
  /** Builds this worker is running now. */
  running(): number;
  close(): Promise<void>;
}

export function startBuildWorker(deps: BuildRunnerDeps, options: BuildWorkerOptions): BuildWorkerHandle {
  const id = `${hostname()}/${process.pid}/${Math.random().toString(36).slice(2, 8)}`;
  const shutdown = new AbortController();
  let running = 0;
  const onPhase = deps.onPhase;
  const runnerDeps: BuildRunnerDeps = {
    ...deps,
    onPhase: async (build) => {
      recordBuildEnd(build);
      await onPhase?.(build);
    },
  };
  const worker = new Worker<BuildJobData>(
    BUILD_QUEUE,
    async (job, token) => {
      running++;
      let outcome: Awaited<ReturnType<typeof runBuild>>;
      try {
        outcome = await runBuild(runnerDeps, { ...job.data, signal: shutdown.signal, worker: id });
      } finally {
        running--;
      }
      if (outcome.kind === 'handedBack') {
        // The same job goes back to the queue at once; a running worker takes it.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError('handed back: the worker shut down before the build finished');
      }
      if (outcome.kind === 'waiting') {
        // Run policy: try again shortly, without holding a worker slot meanwhile.
        await job.moveToDelayed(Date.now() + (options.serialRetryMs ?? 1000), token);
        throw new DelayedError(outcome.reason);
      }
      return outcome.phase;
    },
    {
      connection: redisConnection(options.redisUrl),
      prefix: `${options.prefix ?? 'slipway'}:bull`,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: 2,
    },
  );
  worker.on('failed', (job, err) => {
    if (!job) return;
    deps.logger.warn(
      { build: `${job.data.namespace}/${job.data.name}`, err: err.message },
      'build job failed',
    );
    void failOrphanedBuild(deps.store, deps.logs, job.data.namespace, job.data.name, err.message).catch(
      () => undefined,
    );
  });
  worker.on('active', (job) => recordQueueWait(job));
  worker.on('error', (err) => deps.logger.error({ err }, 'build worker error'));
  return {
    worker,
    id,
    running: () => running,
    close: async () => {
      // worker.close() stops taking jobs and waits for the running ones; when the grace
      // period ends first, the abort makes each runner hand its build back.
      const grace = setTimeout(() => shutdown.abort(), options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
      try {
        await worker.close();
      } finally {
        clearTimeout(grace);
      }
    },
  };
}
