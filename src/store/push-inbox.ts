/**
 * The push inbox: org/App pushes a BuildConfig may build, recorded by the endpoint
 * (src/store/push-intake.ts) before it answers, waiting for a worker to route them to
 * builds (src/webhooks/push-routing.ts). A Redis stream read by one consumer group, so
 * every worker of a fleet takes its share and each entry goes to one of them; an entry
 * is deleted once routed. An entry whose worker died stays pending and is taken over by
 * another worker after `STALE_AFTER_MS`; one that failed `MAX_ROUTING_ATTEMPTS` times is
 * given up (the caller logs it).
 */
import type { Redis } from 'ioredis';
import { errorMessage } from '../core/errors.js';
import type { PushEvent } from '../triggers/types.js';

export const pushInboxKey = (prefix: string): string => `${prefix}:push-inbox`;
const GROUP = 'routers';

/** An entry pending this long with a consumer that has not acknowledged it is taken over. */
export const STALE_AFTER_MS = 60_000;
/** Routing attempts before an entry is given up. */
export const MAX_ROUTING_ATTEMPTS = 5;

/**
 * What the inbox keeps of a push (as JSON, the entry's `push` field): the endpoint's
 * reading of the payload, which it checked before answering. The payload itself is not
 * kept: most of its 7.7 KB describe the repository and the sender.
 */
export interface PushRecord {
  push: PushEvent;
  /** `owner/repo`, for logs. */
  repository: string;
  /** The head commit. */
  after?: string;
}

export interface QueuedPush {
  /** The stream entry's id. */
  entryId: string;
  deliveryId: string;
  /** The PushRecord as JSON. */
  record?: Buffer;
  /** The raw payload: what entries recorded before records existed hold instead. */
  payload?: Buffer;
  /** How many times routing has started on this entry, this time included. */
  attempt: number;
}

type RawEntry = [Buffer, Buffer[]];

export class RedisPushInbox {
  private readonly key: string;
  private readonly attemptsKey: string;

  /**
   * `blocking`, a connection of its own, is what `read` waits on for entries (a worker's
   * inbox has one; the metrics' does not read). `redis` serves everything else.
   */
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly blocking?: Redis,
  ) {
    this.key = pushInboxKey(prefix);
    this.attemptsKey = `${this.key}:attempts`;
  }

  /** Creates the stream and its consumer group when they are not there. */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.key, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!errorMessage(err).includes('BUSYGROUP')) throw err;
    }
  }

  /** Up to `count` new entries for `consumer`, waiting up to `blockMs` for one. */
  async read(consumer: string, count: number, blockMs: number): Promise<QueuedPush[]> {
    if (!this.blocking) throw new TypeError('RedisPushInbox.read needs the blocking connection');
    const reply = (await this.blocking.callBuffer(
      'XREADGROUP',
      'GROUP',
      GROUP,
      consumer,
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      this.key,
      '>',
    )) as [Buffer, RawEntry[]][] | [Buffer, RawEntry[]] | null;
    if (!reply || reply.length === 0) return [];
    // One stream read: [[key, entries]] as Redis sends it; ioredis may give [key, entries].
    const stream = (Buffer.isBuffer(reply[0]) ? reply : reply[0]) as [Buffer, RawEntry[]];
    return this.counted(stream[1] ?? []);
  }

  /** Entries another consumer has held unacknowledged for STALE_AFTER_MS, now `consumer`'s. */
  async takeOverStale(consumer: string, count: number): Promise<QueuedPush[]> {
    const reply = (await this.redis.callBuffer(
      'XAUTOCLAIM',
      this.key,
      GROUP,
      consumer,
      STALE_AFTER_MS,
      '0-0',
      'COUNT',
      count,
    )) as [Buffer, RawEntry[]];
    return this.counted(reply[1] ?? []);
  }

  /** Routed (or given up): acknowledged and deleted. */
  async done(entryId: string): Promise<void> {
    await this.redis
      .multi()
      .xack(this.key, GROUP, entryId)
      .xdel(this.key, entryId)
      .hdel(this.attemptsKey, entryId)
      .exec();
  }

  /** Entries recorded and not yet routed. */
  length(): Promise<number> {
    return this.redis.xlen(this.key);
  }

  /** For the queue gauge: entries no worker has taken yet, and entries being routed. */
  async counts(): Promise<{ waiting: number; active: number }> {
    const [length, pending] = await Promise.all([
      this.redis.xlen(this.key),
      this.redis
        .xpending(this.key, GROUP)
        .then((summary) => Number((summary as unknown[])[0] ?? 0))
        // No group yet (no worker has started): nothing is being routed.
        .catch(() => 0),
    ]);
    return { waiting: Math.max(0, length - pending), active: pending };
  }

  /** Forgets `consumer` when it holds nothing: workers that stopped leave no names behind. */
  async leave(consumer: string): Promise<void> {
    const pending = (await this.redis.call('XPENDING', this.key, GROUP, '-', '+', 1, consumer)) as unknown[];
    if (pending.length === 0) await this.redis.call('XGROUP', 'DELCONSUMER', this.key, GROUP, consumer);
  }

  private async counted(raw: RawEntry[]): Promise<QueuedPush[]> {
    const entries = raw.filter((e): e is RawEntry => Array.isArray(e) && Array.isArray(e[1]));
    if (entries.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const [id] of entries) pipeline.hincrby(this.attemptsKey, id.toString(), 1);
    const counts = (await pipeline.exec()) ?? [];
    return entries.map(([id, fields], i) => {
      const field = (name: string): Buffer | undefined => {
        for (let f = 0; f + 1 < fields.length; f += 2)
          if (fields[f]!.toString() === name) return fields[f + 1];
        return undefined;
      };
      const [err, attempt] = counts[i] ?? [];
      const queued: QueuedPush = {
        entryId: id.toString(),
        deliveryId: field('delivery')?.toString() ?? '',
        attempt: err ? 1 : Number(attempt),
      };
      const record = field('push');
      const payload = field('payload');
      if (record) queued.record = record;
      if (payload) queued.payload = payload;
      return queued;
    });
  }
}
