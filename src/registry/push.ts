/**
 * Pushes a built image to a registry through the Docker engine and returns the
 * manifest digest the registry stored. Bounded retries: a registry that is down fails
 * the build with PushImageToRegistryFailed instead of hanging it.
 */
import type Docker from 'dockerode';
import { BuildCancelled, BuildFailure, errorMessage } from '../core/errors.js';
import type { RegistryAuth } from './credentials.js';
import { parseImageReference } from './references.js';

export interface PushImageOptions {
  docker: Docker;
  /** The local image (ID or tag) to push. */
  image: string;
  /** `registry/ns/app:tag` */
  reference: string;
  auth?: RegistryAuth | undefined;
  attempts: number;
  retryDelayMs: number;
  log: (line: string) => void;
  signal: AbortSignal;
}

interface PushMessage {
  id?: string;
  status?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new BuildCancelled('build cancelled while waiting to retry the push'));
      },
      { once: true },
    );
  });
}

async function pushOnce(options: PushImageOptions, repo: string, tag: string): Promise<string> {
  const { docker, log, signal } = options;
  const image = docker.getImage(repo);
  const stream = (await image.push({
    tag,
    ...(options.auth ? { authconfig: options.auth } : {}),
    abortSignal: signal,
  } as Parameters<typeof image.push>[0])) as NodeJS.ReadableStream;
  const messages: PushMessage[] = await new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: PushMessage[]) => (err ? reject(err) : resolve(output)),
      (msg: PushMessage) => {
        // Layer progress bars would flood the log: keep the state changes only.
        if (msg.status && !msg.progress) log(msg.id ? `${msg.id}: ${msg.status}` : msg.status);
      },
    );
  });
  const failure = messages.find((m) => m.error || m.errorDetail);
  if (failure) throw new Error(failure.errorDetail?.message ?? failure.error ?? 'push failed');
  const digest =
    messages.find((m) => m.aux?.Digest)?.aux?.Digest ??
    messages.map((m) => /digest: (sha256:[0-9a-f]{64})/.exec(m.status ?? '')?.[1]).find(Boolean);
  if (!digest) throw new Error('the registry accepted the push but reported no digest');
  return digest;
}

/** Tags `image` as `reference` and pushes it; returns the manifest digest (`sha256:…`). */
export async function pushImage(options: PushImageOptions): Promise<string> {
  const { docker, reference, log, signal } = options;
  const ref = parseImageReference(reference);
  const repo = ref.registry ? `${ref.registry}/${ref.repository}` : ref.repository;
  const tag = ref.tag ?? 'latest';
  await docker.getImage(options.image).tag({ repo, tag });
  log(`Pushing image ${repo}:${tag} ...`);
  let lastError: unknown;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    if (signal.aborted) throw new BuildCancelled('build cancelled before push');
    try {
      const digest = await pushOnce(options, repo, tag);
      log(`Successfully pushed ${repo}@${digest}`);
      return digest;
    } catch (err) {
      if (signal.aborted) throw new BuildCancelled('build cancelled during push', { cause: err });
      lastError = err;
      log(`Push attempt ${attempt}/${options.attempts} failed: ${errorMessage(err)}`);
      if (attempt < options.attempts) await sleep(options.retryDelayMs * attempt, signal);
    }
  }
  throw new BuildFailure(
    'PushImageToRegistryFailed',
    `Failed to push the image to ${ref.registry || 'the registry'} after ${options.attempts} attempts: ${errorMessage(lastError)}`,
    { cause: lastError },
  );
}
