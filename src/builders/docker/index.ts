/**
 * The Docker strategy: the context directory streamed to the engine with tar-fs, the
 * engine's output streamed into the build log line by line.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import tar from 'tar-fs';
import { BuildCancelled, BuildFailure, errorMessage } from '../../core/errors.js';
import { runPostCommitHook } from '../post-commit.js';
import type { Builder, BuilderInput, BuilderResult } from '../types.js';
import { buildLabels, editDockerfile } from './dockerfile.js';

interface BuildMessage {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: { ID?: string };
}

function prepareDockerfile(input: BuilderInput): string {
  const { spec, contextDir } = input;
  const strategy = spec.strategy.dockerStrategy ?? {};
  const dockerfilePath = strategy.dockerfilePath ?? 'Dockerfile';
  const path = resolve(contextDir, dockerfilePath);
  if (relative(contextDir, path).startsWith('..')) {
    throw new BuildFailure(
      'ManageDockerfileFailed',
      `dockerfilePath "${dockerfilePath}" points outside the context directory`,
    );
  }
  if (spec.source.dockerfile !== undefined) {
    // OpenShift writes an inline Dockerfile over the one in the context.
    writeFileSync(path, spec.source.dockerfile);
  }
  if (!existsSync(path)) {
    throw new BuildFailure(
      'ManageDockerfileFailed',
      `no Dockerfile at "${dockerfilePath}" in context directory "${spec.source.contextDir ?? '.'}"`,
    );
  }
  const env = [...(strategy.env ?? []), ...input.extraEnv];
  const edited = editDockerfile(readFileSync(path, 'utf8'), {
    from: input.fromImage,
    env,
    labels: {
      ...buildLabels(input.source, spec.source.contextDir),
      ...Object.fromEntries((spec.output?.imageLabels ?? []).map((l) => [l.name, l.value ?? ''])),
    },
  });
  writeFileSync(path, edited);
  return relative(contextDir, path);
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

export const dockerBuilder: Builder = async (input: BuilderInput): Promise<BuilderResult> => {
  const { docker, spec, log, signal, tag } = input;
  const strategy = spec.strategy.dockerStrategy ?? {};
  const dockerfile = prepareDockerfile(input);
  const buildargs: Record<string, string> = {};
  for (const a of strategy.buildArgs ?? []) buildargs[a.name] = a.value ?? '';
  for (const e of input.extraEnv) {
    // Docker's predefined proxy ARGs reach RUN steps without touching the image.
    if (/^(https?_proxy|no_proxy)$/i.test(e.name)) buildargs[e.name] = e.value ?? '';
  }
  const context = tar.pack(input.contextDir) as unknown as NodeJS.ReadableStream;
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
        throw new BuildFailure('DockerBuildFailed', step ? `${step}: ${detail}` : detail);
      }
    }
  } catch (err) {
    if (signal.aborted) throw new BuildCancelled('build cancelled', { cause: err });
    if (err instanceof BuildFailure) throw err;
    throw new BuildFailure(
      'DockerBuildFailed',
      `lost the build output from the Docker engine: ${errorMessage(err)}`,
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
};
