/**
 * A rollout's view of its deploy target that outlasts the target going away for a while:
 * a Docker engine restarting, a Kubernetes API server being upgraded. Without it, the
 * first call that meets the closed socket fails the rollout, and the automatic rollback
 * then scales the new revision to zero, though nothing was wrong with it. OpenShift's
 * deployer retries its API calls the same way until its timeout.
 *
 * Only the calls that are safe to repeat wait: reading revisions and their status,
 * annotating a revision and setting its replica count (the target converges on the
 * count, so a second call finishes what the first began). Running a hook pod is not
 * repeated behind the hook's back: its failure policy decides. A call waits while the
 * target cannot be reached at all (see `targetUnreachable`), up to the rollout's
 * timeout, retrying with a growing pause; an answer that is an error (not found,
 * conflict, refused) is thrown at once, as before.
 */
import { errorMessage } from '../core/errors.js';
import { sleep } from './strategy.js';
import type { DeployTarget } from './target.js';

/** Socket-level failures: nobody answered, or the connection died under the call. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** HTTP answers of a proxy or server that is there but cannot serve now. */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/**
 * Whether an error says the target could not be reached (its engine's socket gone or
 * refusing, the API server down or restarting), as opposed to an answer that refused
 * the call. Looks down the error's causes: dockerode puts the socket error itself, the
 * Kubernetes client wraps fetch's.
 */
export function targetUnreachable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const { code, syscall, statusCode, message } = e as {
      code?: unknown;
      syscall?: unknown;
      statusCode?: unknown;
      message?: unknown;
    };
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    // A Unix socket whose file is gone: the engine stopped and removed it.
    if (code === 'ENOENT' && syscall === 'connect') return true;
    const status = typeof statusCode === 'number' ? statusCode : typeof code === 'number' ? code : undefined;
    if (status !== undefined && UNAVAILABLE_STATUSES.has(status)) return true;
    if (typeof message === 'string' && /^socket hang up$/.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The verbs repeated while the target is unreachable: each is safe to call twice. */
const REPEATABLE = new Set<string>([
  'getRevision',
  'listRevisions',
  'annotateRevision',
  'scaleRevision',
  'revisionStatus',
]);

export interface PatienceOptions {
  /** Fires on cancel, supersession or shutdown: a wait ends at once, with the signal's reason. */
  signal: AbortSignal;
  /** How long one call may wait for the target to answer again; then its error is thrown. */
  waitMs: number;
  /** A line in the rollout's log. */
  log(line: string): void;
  /** Pause before the first retry, doubled up to 2 s; tests shorten it. */
  firstPauseMs?: number;
}

/**
 * `target`, with the repeatable verbs waiting out an unreachable target (logged once when
 * the wait starts and once when the target answers again). Everything else passes through.
 */
export function patientTarget(target: DeployTarget, options: PatienceOptions): DeployTarget {
  const { signal, waitMs, log } = options;
  let outageSince: number | undefined;
  const patiently = async (verb: string, call: () => Promise<unknown>): Promise<unknown> => {
    let pause = options.firstPauseMs ?? 250;
    let waitingSince: number | undefined;
    for (;;) {
      try {
        const result = await call();
        if (outageSince !== undefined) {
          log(
            `The ${target.name} target answers again after ${((Date.now() - outageSince) / 1000).toFixed(1)} s`,
          );
          outageSince = undefined;
        }
        return result;
      } catch (err) {
        if (!targetUnreachable(err) || signal.aborted) throw err;
        const now = Date.now();
        waitingSince ??= now;
        if (outageSince === undefined) {
          outageSince = now;
          log(
            `The ${target.name} target is not answering (${errorMessage(err)}); waiting up to ${waitMs / 1000} s for it`,
          );
        }
        if (now - waitingSince >= waitMs) {
          throw new Error(
            `the ${target.name} target did not answer for ${waitMs / 1000} s (${verb}: ${errorMessage(err)})`,
            { cause: err },
          );
        }
        await sleep(Math.min(pause, waitMs - (now - waitingSince)), signal);
        pause = Math.min(pause * 2, 2000);
      }
    }
  };
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...a: unknown[]) => Promise<unknown>;
      if (typeof prop !== 'string' || !REPEATABLE.has(prop)) return fn.bind(obj);
      return (...args: unknown[]) => patiently(prop, () => fn.apply(obj, args));
    },
  });
}
