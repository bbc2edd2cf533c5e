/**
 * The failures of a loop that runs every few hundred milliseconds (the replica monitor,
 * the reconciler's resync), logged so that an outage reads as an outage, not as a flood:
 * the first failure is a warning at once; while the failures go on, one warning every
 * `quietMs` (30 s by default) says how many there were and for how long, with the latest
 * error; the first success after them is one line saying how long it lasted. A Docker
 * engine restarting for a minute is 3 lines, not 240.
 */
import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

export interface RecurringFailureOptions {
  /** What fails, for the lines: "replica monitor tick". */
  what: string;
  quietMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

export class RecurringFailure {
  private readonly quietMs: number;
  private readonly now: () => number;
  /** When the current run of failures began; undefined while things work. */
  private since: number | undefined;
  private lastLine = 0;
  private failures = 0;

  constructor(
    private readonly logger: Logger,
    private readonly options: RecurringFailureOptions,
  ) {
    this.quietMs = options.quietMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** Whether the loop is failing now. */
  get failing(): boolean {
    return this.since !== undefined;
  }

  failed(err: unknown, fields: Record<string, unknown> = {}): void {
    const at = this.now();
    this.failures++;
    if (this.since === undefined) {
      this.since = at;
      this.lastLine = at;
      // The first failure whole (an Error with its stack); the reminders say only its message.
      this.logger.warn({ ...fields, err }, `${this.options.what} failed`);
      return;
    }
    if (at - this.lastLine < this.quietMs) return;
    this.lastLine = at;
    this.logger.warn(
      { ...fields, err: errorMessage(err), failures: this.failures },
      `${this.options.what} still failing: ${count(this.failures)} in ${seconds(at - this.since)} s`,
    );
  }

  succeeded(): void {
    if (this.since === undefined) return;
    const lasted = this.now() - this.since;
    this.logger.info(
      { failures: this.failures },
      `${this.options.what} works again after ${seconds(lasted)} s (${count(this.failures)})`,
    );
    this.since = undefined;
    this.failures = 0;
  }
}

function count(failures: number): string {
  return failures === 1 ? '1 failure' : `${failures} failures`;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
