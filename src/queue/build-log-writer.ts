/**
 * Batches a build's log lines into the log store (one round trip per 100 ms, not per
 * line) and keeps the tail for `status.logSnippet`.
 */
import type { BuildLogStore } from '../store/build-logs.js';

export class BuildLogWriter {
  private pending: string[] = [];
  private readonly tail: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly logs: BuildLogStore,
    private readonly namespace: string,
    private readonly build: string,
    private readonly tailSize = 20,
  ) {}

  readonly line = (text: string): void => {
    for (const l of text.replace(/\r/g, '').split('\n')) {
      this.pending.push(l);
      this.tail.push(l);
      if (this.tail.length > this.tailSize) this.tail.shift();
    }
    this.timer ??= setTimeout(() => void this.flush(), 100);
  };

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing
      .then(() => this.logs.appendLog(this.namespace, this.build, batch))
      .catch(() => undefined);
    return this.flushing;
  }

  snippet(): string {
    return this.tail.filter((l) => l.trim() !== '').join('\n');
  }

  /** Drops lines not yet written and waits for writes in flight (before the log is reset). */
  async discard(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
    this.tail.length = 0;
    await this.flushing;
  }

  async close(phase: string): Promise<void> {
    await this.flush();
    await this.logs.closeLog(this.namespace, this.build, phase);
  }
}
