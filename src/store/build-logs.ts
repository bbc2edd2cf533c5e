/**
 * Build logs as Redis streams, one per build: kept after the build ends (AOF makes
 * them survive a restart) and followable live with XREAD BLOCK.
 */
import type { Redis } from 'ioredis';

export interface BuildLogStore {
  appendLog(namespace: string, build: string, lines: string[]): Promise<void>;
  /** Marks the log finished; followers stop after the last line. */
  closeLog(namespace: string, build: string, phase: string): Promise<void>;
  readLog(namespace: string, build: string): Promise<{ lines: string[]; closed: boolean }>;
  /** Yields lines as they are written until the log is closed or `signal` aborts. */
  followLog(namespace: string, build: string, signal: AbortSignal): AsyncGenerator<string>;
  deleteLog(namespace: string, build: string): Promise<void>;
}

export class RedisBuildLogStore implements BuildLogStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {}

  private key(ns: string, build: string): string {
    return `${this.prefix}:log:${ns}:${build}`;
  }

  async appendLog(namespace: string, build: string, lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const line of lines) pipeline.xadd(this.key(namespace, build), '*', 'l', line);
    await pipeline.exec();
  }

  async closeLog(namespace: string, build: string, phase: string): Promise<void> {
    await this.redis.xadd(this.key(namespace, build), '*', 'end', phase);
  }

  async readLog(namespace: string, build: string): Promise<{ lines: string[]; closed: boolean }> {
    const entries = await this.redis.xrange(this.key(namespace, build), '-', '+');
    const lines: string[] = [];
    let closed = false;
    for (const [, fields] of entries) {
      if (fields[0] === 'l') lines.push(fields[1] ?? '');
      else if (fields[0] === 'end') closed = true;
    }
    return { lines, closed };
  }

  async *followLog(namespace: string, build: string, signal: AbortSignal): AsyncGenerator<string> {
    const key = this.key(namespace, build);
    // XREAD BLOCK holds its connection: each follower gets its own.
    const conn = this.redis.duplicate();
    const onAbort = (): void => conn.disconnect();
    signal.addEventListener('abort', onAbort, { once: true });
    let last = '0-0';
    try {
      while (!signal.aborted) {
        const res = (await conn
          .xread('COUNT', '500', 'BLOCK', '2000', 'STREAMS', key, last)
          .catch((err: unknown) => {
            if (signal.aborted) return null;
            throw err;
          })) as [string, [string, string[]][]][] | null;
        if (!res) continue;
        for (const [, entries] of res) {
          for (const [id, fields] of entries) {
            last = id;
            if (fields[0] === 'end') return;
            yield fields[1] ?? '';
          }
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      conn.disconnect();
    }
  }

  async deleteLog(namespace: string, build: string): Promise<void> {
    await this.redis.del(this.key(namespace, build));
  }
}
