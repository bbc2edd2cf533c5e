/**
 * The `rollouts` queue on BullMQ: a DeploymentConfig's rollout N is one job, queued by
 * the DeploymentConfig controller (src/strategies/deployment-controller.ts) and run by
 * the rollout worker (src/strategies/rollout-worker.ts) under a lease.
 */
import { Queue } from 'bullmq';
import { redisConnection } from './build-queue.js';

export const ROLLOUT_QUEUE = 'rollouts';

export interface RolloutJobData {
  namespace: string;
  name: string;
  version: number;
  /** The DeploymentConfig's metadata.uid when the rollout was queued. */
  uid?: string;
}

/**
 * The one place a rollout's job id is made: `{namespace}/{dc}/{uid}/{version}`. '/' is
 * in no Kubernetes name, so ids never collide across namespaces; the uid makes a
 * DeploymentConfig deleted and created again under its old name a new series of jobs,
 * not duplicates of the old completed ones that BullMQ would ignore. BullMQ forbids ':'.
 */
export function rolloutJobId(job: RolloutJobData): string {
  return `${job.namespace}/${job.name}/${job.uid ?? 'no-uid'}/${job.version}`;
}

export class RolloutQueue {
  readonly queue: Queue<RolloutJobData>;

  constructor(redisUrl: string, prefix = 'slipway') {
    this.queue = new Queue<RolloutJobData>(ROLLOUT_QUEUE, {
      connection: redisConnection(redisUrl),
      prefix: `${prefix}:bull`,
    });
  }

  /** Queues rollout `version` of `dc`; a second call for the same rollout is a no-op (same job id). */
  async enqueue(
    dc: { metadata: { namespace?: string; name: string; uid?: string } },
    version: number,
  ): Promise<void> {
    const data: RolloutJobData = {
      namespace: dc.metadata.namespace ?? 'default',
      name: dc.metadata.name,
      version,
      ...(dc.metadata.uid ? { uid: dc.metadata.uid } : {}),
    };
    await this.queue.add('rollout', data, {
      jobId: rolloutJobId(data),
      // Retries are for interruptions (a worker shutting down mid-rollout); the runner resumes.
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: 1000,
      removeOnFail: 5000,
    });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
