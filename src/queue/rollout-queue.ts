/**
 * The rollout queues on BullMQ, one per kind of deploy target (`rollouts-docker`,
 * `rollouts-kubernetes`): a rollout goes to the queue of the kind its namespace is
 * recorded for (docs/mixed-fleets.md), so only a worker of that kind takes it.
 * A DeploymentConfig's rollout N is one job, queued by
 * the DeploymentConfig controller (src/strategies/deployment-controller.ts) and run by
 * the rollout worker (src/strategies/rollout-worker.ts) under a lease.
 */
import { Queue } from 'bullmq';
import {
  rolloutQueueKind,
  rolloutQueueName,
  type DeployTargetKind,
  type NamespaceTargets,
} from '../store/namespace-targets.js';
import { redisConnection } from './build-queue.js';

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

/** Which queue a rollout goes to: the namespace's recorded kind, else the enqueuing process's own. */
export interface RolloutRouting {
  targets?: NamespaceTargets;
  own: DeployTargetKind;
}

export class RolloutQueue {
  private readonly queues = new Map<DeployTargetKind, Queue<RolloutJobData>>();

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
    private readonly routing: RolloutRouting,
  ) {}

  /** The queue of one kind's rollouts, opened on first use. */
  queueFor(kind: DeployTargetKind): Queue<RolloutJobData> {
    let queue = this.queues.get(kind);
    if (!queue) {
      queue = new Queue<RolloutJobData>(rolloutQueueName(kind), {
        connection: redisConnection(this.redisUrl),
        prefix: `${this.prefix}:bull`,
      });
      this.queues.set(kind, queue);
    }
    return queue;
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
    const kind = rolloutQueueKind({
      recorded: await this.routing.targets?.get(data.namespace),
      own: this.routing.own,
    });
    await this.queueFor(kind).add('rollout', data, {
      jobId: rolloutJobId(data),
      // Retries are for interruptions (a worker shutting down mid-rollout); the runner resumes.
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: 1000,
      removeOnFail: 5000,
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
