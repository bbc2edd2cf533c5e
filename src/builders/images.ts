/** Making sure an image a build needs is on the local engine, pulling it if it is not. */
import type Docker from 'dockerode';
import { BuildFailure, errorMessage } from '../core/errors.js';

export interface EnsureImageOptions {
  docker: Docker;
  reference: string;
  auth?: { username: string; password: string; serveraddress: string } | undefined;
  /** Pull even when the image is present (`forcePull`). */
  forcePull?: boolean | undefined;
  log: (line: string) => void;
}

/** Resolves to the engine's image ID; a failed pull is PullBuilderImageFailed. */
export async function ensureImage(options: EnsureImageOptions): Promise<string> {
  const { docker, reference, log } = options;
  if (!options.forcePull) {
    try {
      return (await docker.getImage(reference).inspect()).Id;
    } catch {
      // not present: pull below
    }
  }
  log(`Pulling image ${reference} ...`);
  try {
    const stream = (await docker.pull(
      reference,
      options.auth ? { authconfig: options.auth } : {},
    )) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
        const failed = out?.find((m) => m.error);
        if (err || failed) reject(err ?? new Error(failed?.error));
        else resolve();
      });
    });
    return (await docker.getImage(reference).inspect()).Id;
  } catch (err) {
    throw new BuildFailure(
      'PullBuilderImageFailed',
      `Failed to pull image "${reference}": ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
}
