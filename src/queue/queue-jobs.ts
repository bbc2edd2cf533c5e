/** How many jobs each BullMQ queue holds in each state, for `slipway_queue_jobs` (docs/metrics.md). */
import type { Queue } from 'bullmq';
import { QUEUE_JOB_STATES, type QueueJobCounts } from '../core/metrics.js';

/** One getJobCounts call per queue, read at scrape time from the queues' own Redis keys. */
export async function queueJobCounts(queues: readonly Queue[]): Promise<QueueJobCounts[]> {
  return Promise.all(
    queues.map(async (q) => ({ queue: q.name, counts: await q.getJobCounts(...QUEUE_JOB_STATES) })),
  );
}
