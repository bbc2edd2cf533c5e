/**
 * Committing a build container as the output image, as s2i's commitImageStep does:
 * CMD becomes the `run` script, the entrypoint and USER go back to the base image's
 * (the build container ran with neither), the build environment and the output
 * labels are set. The engine merges anything unset from the container's config.
 */
import type Docker from 'dockerode';
import { BuildFailure, errorMessage } from '../../core/errors.js';

/** `registry:5000/ns/app:tag` → repo `registry:5000/ns/app`, tag `tag` (default `latest`). */
export function splitTag(reference: string): { repo: string; tag: string } {
  if (reference.includes('@')) throw new Error(`cannot tag an image by digest: "${reference}"`);
  const slash = reference.lastIndexOf('/');
  const colon = reference.lastIndexOf(':');
  if (colon > slash) return { repo: reference.slice(0, colon), tag: reference.slice(colon + 1) };
  return { repo: reference, tag: 'latest' };
}

export interface CommitOptions {
  tag: string;
  /** The new CMD (`run`). An empty list lets the engine take the container's, so pass the base image's instead. */
  cmd: string[];
  /** The base image's entrypoint (an empty list when it had none). */
  entrypoint: string[];
  /** The base image's USER. */
  user: string;
  env: string[];
  labels: Record<string, string>;
}

/** Commits and tags; returns the image ID. A failure is s2i's CommitContainerFailed. */
export async function commitContainer(container: Docker.Container, options: CommitOptions): Promise<string> {
  const { repo, tag } = splitTag(options.tag);
  try {
    const body = {
      Cmd: options.cmd,
      Entrypoint: options.entrypoint,
      User: options.user,
      Env: options.env,
      Labels: options.labels,
    };
    const result = (await container.commit({
      _query: { container: container.id, repo, tag, pause: false },
      _body: body,
    })) as { Id?: string };
    if (!result.Id) throw new Error('the engine did not return an image ID');
    return result.Id;
  } catch (err) {
    throw new BuildFailure(
      'CommitContainerFailed',
      `could not commit the build container as ${options.tag}: ${errorMessage(err)}`,
      {
        cause: err,
        phase: 'Error',
      },
    );
  }
}
