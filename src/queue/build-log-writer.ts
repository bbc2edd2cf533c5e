/**
 * Batches a build's log lines into the log store (one round trip per 100 ms, not per
 * line) and keeps the tail for `status.logSnippet`.
 */
import { SecretMasker } from '../core/redact.js';
import type { BuildLogStore } from '../store/build-logs.js';

export class BuildLogWriter {
  private pending: string[] = [];
  private readonly tail: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** The values of the Secrets this build uses; no line is stored with one in it. */
  private readonly masker = new SecretMasker();

  constructor(
    private readonly logs: BuildLogStore,
    private readonly namespace: string,
    private readonly build: string,
    private readonly tailSize = 20,
  ) {}

  /** Adds secret values to mask in every line written from now on (and in `redact`). */
  mask(...values: (string | undefined)[]): void {
    this.masker.add(...values);
  }

  /** `text` with the masked values and URI credentials replaced (status messages). */
  redact(text: string): string {
    return this.masker.mask(text);
  }

  readonly line = (text: string): void => {
    // Callers hand whole lines (builders buffer streamed output by line), so a value is
    // never split across two calls; a multi-line value is masked line by line.
    for (const l of this.masker.mask(text.replace(/\r/g, '')).split('\n')) {
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
