/**
 * A namespace's jobs in a BullMQ queue, removed when its project is deleted. Build and
 * rollout job ids start with `{namespace}/` (build-queue.ts, rollout-queue.ts), so their
 * keys are found with SCAN MATCH; each is removed through BullMQ, which takes it out of
 * the queue's lists and sets too. A job a worker is running cannot be removed: it is
 * waited for (its build or rollout was cancelled, so it ends soon), then removed.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface NamespaceJobsResult {
  /** Jobs removed. */
  removed: number;
  /** Ids of jobs still running when the wait ended (left for BullMQ's own clean-up). */
  stillActive: string[];
}

/** The ids of the namespace's jobs in `queue`, from their keys (`redis` is the queue's Redis). */
export async function namespaceJobIds(redis: Redis, queue: Queue, namespace: string): Promise<string[]> {
  const base = `${queue.qualifiedName}:`;
  const pattern = `${base.replace(/[*?[\]\\]/g, '\\$&')}${namespace.replace(/[*?[\]\\]/g, '\\$&')}/*`;
  const ids = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    // `{id}`, `{id}:logs`, `{id}:lock`…: ids hold no ':' (BullMQ forbids it in custom ids).
    for (const k of keys) ids.add(k.slice(base.length).split(':')[0]!);
  } while (cursor !== '0');
  return [...ids].filter((id) => id.startsWith(`${namespace}/`));
}

/**
 * Removes every job of `namespace` from `queue`, waiting up to `waitMs` for running ones
 * to end first. Queued jobs never run afterwards.
 */
export async function removeNamespaceJobs(
  redis: Redis,
  queue: Queue,
  namespace: string,
  options: { waitMs: number; pollMs?: number },
): Promise<NamespaceJobsResult> {
  const deadline = Date.now() + options.waitMs;
  let pending = await namespaceJobIds(redis, queue, namespace);
  let removed = 0;
  for (;;) {
    const active: string[] = [];
    for (const id of pending) {
      const job = await queue.getJob(id);
      if (!job) continue;
      if ((await job.getState()) === 'active') {
        active.push(id);
        continue;
      }
      try {
        await job.remove();
        removed++;
      } catch {
        // Taken by a worker between the two reads (BullMQ refuses to remove a locked job).
        active.push(id);
      }
    }
    if (active.length === 0 || Date.now() >= deadline) return { removed, stillActive: active };
    await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
    // Jobs queued meanwhile (a retry, a trigger that fired before its config went) too.
    pending = [...new Set([...active, ...(await namespaceJobIds(redis, queue, namespace))])];
  }
}
