/**
 * The build queue on BullMQ. One job per Build, id `{namespace}.{name}` so a Build can
 * never be queued twice. The job carries only the Build's name: the Build object in
 * the store is the truth a worker reads when it starts.
 */
import { Queue, type ConnectionOptions } from 'bullmq';

export const BUILD_QUEUE = 'builds';

export interface BuildJobData {
  namespace: string;
  name: string;
}

export function buildJobId(namespace: string, name: string): string {
  // BullMQ reserves ':' in custom ids.
  return `${namespace}.${name}`;
}

export function redisConnection(url: string): ConnectionOptions {
  // Workers block on Redis; BullMQ needs retries unbounded on its connections.
  return { url, maxRetriesPerRequest: null } as ConnectionOptions;
}

export class BuildQueue {
  readonly queue: Queue<BuildJobData>;

  constructor(redisUrl: string, prefix = 'slipway') {
    this.queue = new Queue<BuildJobData>(BUILD_QUEUE, {
      connection: redisConnection(redisUrl),
      prefix: `${prefix}:bull`,
    });
  }

  /** Queues a build; resolves once the job is stored in Redis. */
  async enqueue(namespace: string, name: string): Promise<void> {
    await this.queue.add(
      'build',
      { namespace, name },
      { jobId: buildJobId(namespace, name), removeOnComplete: 1000, removeOnFail: 5000 },
    );
  }

  /** Drops a job that has not started; a running job is stopped through its Build instead. */
  async removeIfWaiting(namespace: string, name: string): Promise<void> {
    const job = await this.queue.getJob(buildJobId(namespace, name));
    if (!job) return;
    const state = await job.getState();
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized')
      await job.remove().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
