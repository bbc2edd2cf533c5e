/**
 * Whether the Docker engine went away under a build. An engine shutting down ends what
 * it runs with whatever it meets first (a step's container killed: exit 137 or 143; a
 * network store it has just closed; a dropped API connection) while its API may still
 * answer for a few seconds, and a build that failed that way reads like a fault of its
 * Dockerfile or assemble script. Both builders hold a watch for the build's whole length
 * and ask it when they fail, so the failure says the engine went away (with the phase
 * Error, as a build the platform lost) and the user does not go looking in their code.
 */
import type Docker from 'dockerode';
import { BuildFailure } from '../core/errors.js';

export const ENGINE_GONE = 'the Docker engine went away during the build (stopped or restarted)';

/** Whether the engine answers a ping within a few seconds. */
async function engineAnswers(docker: Docker): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 3000);
  });
  const ping = docker.ping().then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A connection held open to the engine for the whole build (its event stream, filtered to
 * daemon events, which are rare): the engine closes it when it stops. A restart can be
 * over before a slow worker reads the build's last message, so asking the engine whether
 * it answers at that point is not enough; a closed watch says it went away in between.
 */
export interface EngineWatch {
  lost(): boolean;
  close(): void;
}

export async function watchEngine(docker: Docker): Promise<EngineWatch> {
  let lost = false;
  let closing = false;
  let stream: NodeJS.ReadableStream | undefined;
  try {
    stream = await docker.getEvents({ filters: { type: ['daemon'] } });
  } catch {
    // No watch: the ping below is all there is.
  }
  const gone = () => {
    if (!closing) lost = true;
  };
  stream?.on('end', gone);
  stream?.on('close', gone);
  stream?.on('error', gone);
  stream?.on('data', () => undefined);
  return {
    lost: () => lost,
    close: () => {
      closing = true;
      (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    },
  };
}

/**
 * Whether the engine went away under the build. An engine shutting down ends the builds
 * it runs with whatever it meets first (a network store it has just closed, or the step's
 * container killed: exit 137 or 143) while its API still answers for a few seconds, which
 * reads like a fault of the Dockerfile. A killed step gets `watchMs` to see the engine
 * stop answering or the watch close; any other error is checked once.
 */
export async function engineGone(docker: Docker, watch: EngineWatch, watchMs: number): Promise<boolean> {
  const until = Date.now() + watchMs;
  for (;;) {
    if (watch.lost() || !(await engineAnswers(docker))) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Errors an engine going away gives (a killed container, a dropped or refused API
 * connection, the engine's server errors while it shuts down): these get a few seconds to
 * show it. Anything else is the build's own (a script that exited non-zero, a missing
 * file) and the engine is asked once.
 */
export function engineFault(message: string): boolean {
  return /exited with code (137|143)\b|ECONNRESET|ECONNREFUSED|EPIPE|socket hang up|\(HTTP code 5\d\d\)|failed to update store/i.test(
    message,
  );
}

/**
 * A builder's failure, told as the engine going away when it did: the same reason, the
 * message saying so first, the phase Error. Anything else comes back as it was.
 */
export async function explainEngineLoss(err: unknown, docker: Docker, watch: EngineWatch): Promise<unknown> {
  if (!(err instanceof BuildFailure) || err.message.startsWith(ENGINE_GONE)) return err;
  if (!(await engineGone(docker, watch, engineFault(err.message) ? 5000 : 0))) return err;
  return new BuildFailure(err.reason, `${ENGINE_GONE}: ${err.message}`, {
    phase: 'Error',
    cause: err,
    logSnippet: err.logSnippet,
  });
}
