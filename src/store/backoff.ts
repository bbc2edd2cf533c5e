/**
 * Retrying a compare-and-set that lost a race. Immediate retries make contention worse:
 * twenty writers that all lost re-read and collide again at once. Each retry here waits
 * a random time up to an exponentially growing cap ("full jitter"), so the writers
 * spread out, and the whole loop gives up only after a bounded time, not a count.
 */
import { AlreadyExistsError, ConflictError } from '../core/errors.js';

export interface ConflictRetryOptions {
  /** The first cap on a wait; it doubles each retry. */
  baseDelayMs?: number;
  /** No single wait is longer than this. */
  maxDelayMs?: number;
  /** After this long since the first attempt, the last ConflictError is thrown. */
  maxElapsedMs?: number;
  signal?: AbortSignal;
}

export const CONFLICT_RETRY_DEFAULTS = { baseDelayMs: 4, maxDelayMs: 250, maxElapsedMs: 20_000 } as const;

/** The wait before retry `attempt` (0-based): uniform in [0, min(max, base·2^attempt)]. */
export function jitteredDelay(attempt: number, options: ConflictRetryOptions = {}): number {
  const base = options.baseDelayMs ?? CONFLICT_RETRY_DEFAULTS.baseDelayMs;
  const max = options.maxDelayMs ?? CONFLICT_RETRY_DEFAULTS.maxDelayMs;
  const cap = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.random() * cap;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it returns without a ConflictError, waiting a jittered,
 * growing time between tries. Any other error (AlreadyExists included) is thrown at once; a ConflictError is
 * thrown once `maxElapsedMs` has passed.
 */
export async function retryOnConflict<T>(
  attempt: (n: number) => Promise<T>,
  options: ConflictRetryOptions = {},
): Promise<T> {
  const started = Date.now();
  const maxElapsed = options.maxElapsedMs ?? CONFLICT_RETRY_DEFAULTS.maxElapsedMs;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      // AlreadyExists is a ConflictError too, but a create that lost will lose again.
      if (!(err instanceof ConflictError) || err instanceof AlreadyExistsError) throw err;
      const wait = jitteredDelay(n, options);
      if (Date.now() - started + wait > maxElapsed) throw err;
      await sleep(wait, options.signal);
    }
  }
}
