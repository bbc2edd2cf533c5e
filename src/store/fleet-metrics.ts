/**
 * The fleet's metrics in Redis (docs/metrics.md): one hash per metric,
 * `{prefix}:metrics:{metric name}`, a field per series (and per bucket, sum and count of
 * a histogram's series), counted with HINCRBY / HINCRBYFLOAT. Any server reads them at
 * scrape time, so every server reports the whole fleet's work.
 *
 * Writes never hold up the work they count: increments are added up in memory and
 * written in one pipeline a few milliseconds later; a write that fails, or finds Redis
 * down, is logged at debug level and lost.
 */
import type { Redis } from 'ioredis';
import type { FleetIncrement, FleetMetricsStore } from '../core/metrics.js';

/** Increments made within this window go to Redis in one pipeline. */
const DEFAULT_FLUSH_MS = 20;

export interface RedisFleetMetricsOptions {
  flushMs?: number;
  logger?: { debug(obj: object, msg: string): void };
}

export class RedisFleetMetrics implements FleetMetricsStore {
  private pending = new Map<string, Map<string, { by: number; float: boolean }>>();
  private timer: NodeJS.Timeout | undefined;
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
    private readonly options: RedisFleetMetricsOptions = {},
  ) {}

  key(metric: string): string {
    return `${this.prefix}:metrics:${metric}`;
  }

  add(increments: readonly FleetIncrement[]): void {
    for (const inc of increments) {
      let fields = this.pending.get(inc.metric);
      if (!fields) this.pending.set(inc.metric, (fields = new Map()));
      const cur = fields.get(inc.field);
      if (cur) cur.by += inc.by;
      else fields.set(inc.field, { by: inc.by, float: inc.float === true });
    }
    // unref: a pending write never keeps a process alive; close() writes what is left.
    this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs ?? DEFAULT_FLUSH_MS).unref();
  }

  /** Writes what has been added so far; resolves when Redis has answered (never rejects). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.size === 0) return Promise.all([...this.writes]).then(() => undefined);
    this.pending = new Map();
    // ioredis would queue commands while disconnected, without bound under a flood of
    // deliveries; metrics are the one thing worth dropping instead.
    if (this.redis.status !== 'ready') {
      this.options.logger?.debug(
        { metrics: batch.size, redis: this.redis.status },
        'fleet metrics dropped: Redis is not connected',
      );
      return Promise.resolve();
    }
    const pipeline = this.redis.pipeline();
    for (const [metric, fields] of batch) {
      for (const [field, { by, float }] of fields) {
        if (float) pipeline.hincrbyfloat(this.key(metric), field, by);
        else pipeline.hincrby(this.key(metric), field, by);
      }
    }
    const write = pipeline.exec().then(
      (results) => {
        const failed = results?.filter(([err]) => err) ?? [];
        if (failed.length > 0)
          this.options.logger?.debug(
            { err: failed[0]![0], failed: failed.length },
            'some fleet metric writes failed',
          );
      },
      (err: unknown) => this.options.logger?.debug({ err }, 'fleet metrics write failed'),
    );
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
    return write;
  }

  /** Includes what this process has added and not yet written: a scrape sees its own server's work at once. */
  async read(metric: string): Promise<Record<string, string>> {
    await this.flush();
    return this.redis.hgetall(this.key(metric));
  }

  available(): boolean {
    return this.redis.status === 'ready';
  }

  /** Writes what is pending and waits for writes in flight: call before closing Redis. */
  async close(): Promise<void> {
    await this.flush();
    await Promise.all([...this.writes]);
  }
}
