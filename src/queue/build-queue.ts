/**
 * The build queue on BullMQ. One job per Build, its id made of the Build's namespace,
 * name and uid, so a Build can never be queued twice, two Builds never share an id, and
 * a Build deleted and made again under the same name (its BuildConfig recreated) is a
 * new job rather than a duplicate of the old, kept-as-completed one. The job carries only
 * the Build's identity: the Build object in the store is the truth a worker reads.
 */
import { Queue, type ConnectionOptions } from 'bullmq';
import type { Resource } from '../core/resource.js';

export const BUILD_QUEUE = 'builds';

export interface BuildJobData {
  namespace: string;
  name: string;
  /** The Build's metadata.uid; a job whose Build was replaced by a namesake does nothing. */
  uid?: string;
}

/** The identity of one stored Build. */
export interface BuildRef {
  namespace: string;
  name: string;
  uid: string;
}

export function buildRef(build: Pick<Resource, 'metadata'>): BuildRef {
  const { namespace, name, uid } = build.metadata;
  if (!uid) throw new TypeError(`Build "${name}" has no metadata.uid: queue a stored Build`);
  return { namespace: namespace ?? 'default', name, uid };
}

/**
 * `{namespace}/{name}/{uid}`. Kubernetes names cannot hold '/' (namespaces are DNS
 * labels, Build names DNS subdomains), so no two Builds map to one id; BullMQ forbids
 * ':' in custom ids and ids that read as integers, which this never is.
 */
export function buildJobId(ref: BuildRef): string {
  return `${ref.namespace}/${ref.name}/${ref.uid}`;
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

  /** Queues a stored Build; resolves once the job is stored in Redis. */
  async enqueue(build: Pick<Resource, 'metadata'>): Promise<void> {
    const ref = buildRef(build);
    await this.queue.add('build', ref, {
      jobId: buildJobId(ref),
      removeOnComplete: 1000,
      removeOnFail: 5000,
    });
  }

  /** Drops a job that has not started; a running job is stopped through its Build instead. */
  async removeIfWaiting(build: Pick<Resource, 'metadata'>): Promise<void> {
    const job = await this.queue.getJob(buildJobId(buildRef(build)));
    if (!job) return;
    const state = await job.getState();
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized')
      await job.remove().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
