/**
 * The Docker strategy: the context directory streamed to the engine with tar-fs, the
 * engine's output streamed into the build log line by line.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { relative, sep } from 'node:path';
import tar from 'tar-fs';
import { envNameProblem, quoteValue } from '../../core/build-input-rules.js';
import { BuildCancelled, BuildFailure, errorMessage } from '../../core/errors.js';
import { ENGINE_GONE, engineGone, watchEngine, type EngineWatch } from '../engine-watch.js';
import { runPostCommitHook } from '../post-commit.js';
import { checkoutPath, inside, replaceCheckoutFile } from '../source/checkout-paths.js';
import { writeInputFiles } from '../source/input-files.js';
import type { Builder, BuilderInput, BuilderResult } from '../types.js';
import { buildLabels, editDockerfile } from './dockerfile.js';

interface BuildMessage {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: { ID?: string };
}

/**
 * Finds the Dockerfile inside the checkout, applies OpenShift's edits and writes the
 * result as a regular file in its place. A Dockerfile (or a directory on its path) that
 * is a symbolic link leading outside the checkout is refused, inline or not; one that
 * points inside is read through and replaced by the edited copy, so nothing is ever
 * written through a link (docs/hostile-repositories.md).
 */
function prepareDockerfile(input: BuilderInput): string {
  const { spec, contextDir } = input;
  const strategy = spec.strategy.dockerStrategy ?? {};
  const dockerfilePath = strategy.dockerfilePath ?? 'Dockerfile';
  const target = checkoutPath({
    root: input.sourceDir,
    from: contextDir,
    path: dockerfilePath,
    what: `dockerfilePath ${JSON.stringify(dockerfilePath)}`,
    reason: 'ManageDockerfileFailed',
  });
  let text: string;
  if (spec.source.dockerfile !== undefined) {
    // OpenShift writes an inline Dockerfile over the one in the context.
    if (target.isLink) input.log(`Replacing the symbolic link ${dockerfilePath} with the inline Dockerfile`);
    text = spec.source.dockerfile;
  } else {
    if (!target.exists) {
      throw new BuildFailure(
        'ManageDockerfileFailed',
        `no Dockerfile at "${dockerfilePath}" in context directory "${spec.source.contextDir ?? '.'}"`,
      );
    }
    if (!statSync(target.path).isFile()) {
      throw new BuildFailure(
        'ManageDockerfileFailed',
        `dockerfilePath "${dockerfilePath}" in context directory "${spec.source.contextDir ?? '.'}" is not a file`,
      );
    }
    text = readFileSync(target.path, 'utf8');
  }
  const env = [...(strategy.env ?? []), ...input.extraEnv];
  const edited = editDockerfile(text, {
    from: input.fromImage,
    env,
    labels: {
      ...buildLabels(input.source, spec.source.contextDir),
      ...Object.fromEntries((spec.output?.imageLabels ?? []).map((l) => [l.name, l.value ?? ''])),
    },
  });
  const context = realpathSync(contextDir);
  if (target.location === context || !inside(context, target.location)) {
    // Inside the checkout but through a link out of the context: the engine gets only the context.
    throw new BuildFailure(
      'ManageDockerfileFailed',
      `dockerfilePath ${JSON.stringify(dockerfilePath)} leads outside the context directory "${spec.source.contextDir ?? '.'}", which is all the Docker engine receives`,
    );
  }
  replaceCheckoutFile(target, edited);
  return relative(context, target.location).split(sep).join('/');
}

/** Splits a chunked byte stream of newline-delimited JSON into messages. */
async function* jsonLines(stream: NodeJS.ReadableStream): AsyncGenerator<BuildMessage> {
  let buffer = '';
  for await (const chunk of stream) {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) yield JSON.parse(line) as BuildMessage;
    }
  }
  if (buffer.trim()) yield JSON.parse(buffer) as BuildMessage;
}

/**
 * Errors that are the Dockerfile's or the context's own (a step that exited non-zero but
 * was not killed, a COPY of a missing file, a parse error, an image that cannot be
 * pulled): the engine is asked once whether it is still there. Anything else — a killed
 * step (137, 143) or the engine's internal errors while it shuts down ("failed to update
 * store…") — gets a few seconds to show the engine going away.
 */
export function dockerfileFault(detail: string): boolean {
  const code = /returned a non-zero code: (\d+)/.exec(detail)?.[1];
  if (code !== undefined) return code !== '137' && code !== '143';
  return /\b(COPY|ADD) failed|dockerfile parse error|unknown instruction|unknown flag|failed to process|pull access denied|manifest (unknown|for .* not found)|no such image|failed to compute cache key|cannot locate specified dockerfile|failed to read dockerfile/i.test(
    detail,
  );
}

export const dockerBuilder: Builder = async (input: BuilderInput): Promise<BuilderResult> => {
  const { docker, spec } = input;
  const strategy = spec.strategy.dockerStrategy ?? {};
  // Inputs first, as OpenShift does: the (inline) Dockerfile is written after them.
  if (input.inputs?.length)
    writeInputFiles({
      sourceDir: input.sourceDir,
      contextDir: input.contextDir,
      inputs: input.inputs,
      log: input.log,
    });
  const dockerfile = prepareDockerfile(input);
  const buildargs: Record<string, string> = {};
  for (const a of strategy.buildArgs ?? []) {
    // Checked on every way in (API, BuildRequest, webhook); again here for Builds stored before.
    const problem = envNameProblem(a.name);
    if (problem) {
      throw new BuildFailure('ManageDockerfileFailed', `build arg name ${quoteValue(a.name)} ${problem}`);
    }
    buildargs[a.name] = a.value ?? '';
  }
  for (const e of input.extraEnv) {
    // Docker's predefined proxy ARGs reach RUN steps without touching the image.
    if (/^(https?_proxy|no_proxy)$/i.test(e.name)) buildargs[e.name] = e.value ?? '';
  }
  const watch = await watchEngine(docker);
  try {
    return await runDockerBuild(input, watch, dockerfile, buildargs);
  } finally {
    watch.close();
  }
};

async function runDockerBuild(
  input: BuilderInput,
  watch: EngineWatch,
  dockerfile: string,
  buildargs: Record<string, string>,
): Promise<BuilderResult> {
  const { docker, spec, log, signal, tag } = input;
  const strategy = spec.strategy.dockerStrategy ?? {};
  // Symbolic links go into the context as links (never their targets): the engine
  // resolves them inside the context, so a link to a host file carries nothing of it.
  const context = tar.pack(input.contextDir, { dereference: false }) as unknown as NodeJS.ReadableStream;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(context, {
      t: tag,
      dockerfile,
      buildargs: JSON.stringify(buildargs) as unknown as Record<string, string>,
      nocache: strategy.noCache ?? false,
      pull: strategy.forcePull ? 'true' : undefined,
      rm: true,
      forcerm: true,
      abortSignal: signal,
    } as Parameters<typeof docker.buildImage>[1]);
  } catch (err) {
    if (signal.aborted) throw new BuildCancelled('build cancelled', { cause: err });
    throw new BuildFailure('DockerBuildFailed', `the Docker engine refused the build: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  let step = '';
  let imageId: string | undefined;
  let partial = '';
  try {
    for await (const msg of jsonLines(stream)) {
      if (msg.stream !== undefined) {
        partial += msg.stream;
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          if (/^Step \d+\/\d+ : /.test(line)) step = line;
          log(line);
        }
      } else if (msg.status) {
        log(msg.status);
      }
      if (msg.aux?.ID) imageId = msg.aux.ID;
      if (msg.error || msg.errorDetail) {
        if (partial) log(partial);
        const detail = (msg.errorDetail?.message ?? msg.error ?? 'unknown error').trim();
        log(`error: ${detail}`);
        if (!signal.aborted && (await engineGone(docker, watch, dockerfileFault(detail) ? 0 : 5000))) {
          throw new BuildFailure('DockerBuildFailed', `${ENGINE_GONE}: ${step ? `${step}: ` : ''}${detail}`, {
            phase: 'Error',
          });
        }
        throw new BuildFailure('DockerBuildFailed', step ? `${step}: ${detail}` : detail);
      }
    }
  } catch (err) {
    if (signal.aborted) throw new BuildCancelled('build cancelled', { cause: err });
    if (err instanceof BuildFailure) throw err;
    const gone = await engineGone(docker, watch, 0);
    throw new BuildFailure(
      'DockerBuildFailed',
      `${gone ? `${ENGINE_GONE}; ` : ''}lost the build output from the Docker engine: ${errorMessage(err)}`,
      {
        phase: 'Error',
        cause: err,
      },
    );
  }
  if (partial) log(partial);
  if (signal.aborted) throw new BuildCancelled('build cancelled');
  if (!imageId) imageId = (await docker.getImage(tag).inspect()).Id;
  if (spec.postCommit && (spec.postCommit.script || spec.postCommit.command || spec.postCommit.args)) {
    await runPostCommitHook({
      docker,
      image: imageId,
      postCommit: spec.postCommit,
      env: strategy.env ?? [],
      log,
      signal,
    });
  }
  return { imageId };
}
