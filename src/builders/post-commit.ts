/**
 * The postCommit build hook (BuildConfig `spec.postCommit`), shared by both strategies:
 * after the image is committed and before it is pushed, a container runs from it and
 * a non-zero exit fails the build with PostCommitHookFailed.
 *
 * The three fields mean what they mean in OpenShift (openshift/builder
 * `execPostCommitHook`, docs "Build hooks"):
 * - `script`: run by `/bin/sh -ic script` (entrypoint `/bin/sh -ic`, `-i` so shells
 *   that set PATH in their rc files work); `args` are the script's positional
 *   parameters, `$0` being `/bin/sh`; `command` is ignored;
 * - `command`: replaces the image's entrypoint, `args` are its arguments;
 * - `args` alone: passed to the image's entrypoint (they replace its CMD).
 */
import type Docker from 'dockerode';
import type { EnvVar } from '../core/build-types.js';
import { BuildCancelled, BuildFailure, errorMessage } from '../core/errors.js';
import { TailBuffer, runToCompletion, throwIfCancelled, withContainer } from './sti/run-container.js';

export interface PostCommitSpec {
  command?: string[] | undefined;
  args?: string[] | undefined;
  script?: string | undefined;
}

export interface PostCommitOptions {
  docker: Docker;
  /** The committed image (ID or reference). */
  image: string;
  postCommit: PostCommitSpec | undefined;
  /** Extra environment for the hook container (the build's proxy settings); the image's own Env applies anyway. */
  env?: readonly EnvVar[] | readonly string[] | undefined;
  log: (line: string) => void;
  signal: AbortSignal;
  /** Names the container (`slipway-{ns}-{build}-post-commit-…`) so an operator can tell it apart. */
  containerName?: string | undefined;
}

/** The container's Entrypoint and Cmd for a hook, or undefined when none is set. */
export function postCommitCommand(
  hook: PostCommitSpec | undefined,
): { entrypoint?: string[] | undefined; cmd: string[] } | undefined {
  if (!hook) return undefined;
  const script = hook.script ?? '';
  const command = hook.command ?? [];
  const args = hook.args ?? [];
  if (!script && !command.length && !args.length) return undefined;
  if (script) return { entrypoint: ['/bin/sh', '-ic'], cmd: [script, '/bin/sh', ...args] };
  if (command.length) return { entrypoint: command, cmd: args };
  return { cmd: args };
}

function envList(env: PostCommitOptions['env']): string[] {
  return (env ?? []).map((e) => (typeof e === 'string' ? e : `${e.name}=${e.value ?? ''}`));
}

/**
 * Runs the hook, streaming its output to `log`. Resolves when there is no hook or it
 * exits 0; throws BuildFailure('PostCommitHookFailed') with the last lines of its
 * output in `logSnippet` otherwise, BuildCancelled when `signal` aborts.
 */
export async function runPostCommitHook(options: PostCommitOptions): Promise<void> {
  const command = postCommitCommand(options.postCommit);
  if (!command) return;
  const { docker, log, signal } = options;
  throwIfCancelled(signal, 'before the post commit hook');
  log('Running post commit hook ...');
  const tail = new TailBuffer(20);
  const line = (l: string): void => {
    tail.add(l);
    log(l);
  };
  const create: Docker.ContainerCreateOptions = {
    Image: options.image,
    Cmd: command.cmd,
    Env: envList(options.env),
    AttachStdout: true,
    AttachStderr: true,
  };
  if (command.entrypoint) create.Entrypoint = command.entrypoint;
  if (options.containerName) create.name = options.containerName;

  let code: number;
  try {
    code = await withContainer(
      docker,
      create,
      (container) =>
        runToCompletion(container, {
          docker,
          signal,
          what: 'while running the post commit hook',
          onStdoutLine: line,
          onStderrLine: line,
        }),
      log,
    );
  } catch (err) {
    if (err instanceof BuildCancelled) throw err;
    // The engine refuses to start it: no /bin/sh for a script, a command that does not exist.
    const message = errorMessage(err);
    throw new BuildFailure('PostCommitHookFailed', `the post commit hook could not run: ${message}`, {
      cause: err,
      logSnippet: tail.text() || message,
    });
  }
  if (code !== 0) {
    throw new BuildFailure('PostCommitHookFailed', `the post commit hook exited with code ${code}`, {
      logSnippet: tail.text(),
    });
  }
  log('Post commit hook succeeded');
}
