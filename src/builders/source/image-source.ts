/**
 * `spec.source.images`: paths copied out of images into the source before the build, as
 * OpenShift's builder does for chained builds (a jar built by one build, copied into the
 * next one's source). The image is not run: a container is created and never started,
 * and each `sourcePath` is read with the engine's archive API (`GET
 * /containers/{id}/archive`, `docker cp`'s semantics: a path ending in `/.` copies a
 * directory's content, otherwise the directory itself). The archive is unpacked with the
 * binary input's rules (src/builders/source/binary-source.ts): an image is as foreign as
 * a repository, so no entry may climb out, link out, or be a device file; and the
 * `destinationDir` is resolved inside the checkout first, so a repository's link cannot
 * send the image's files to the host.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { quoteValue } from '../../core/build-input-rules.js';
import { BuildFailure, errorMessage } from '../../core/errors.js';
import { unpackTar } from './binary-source.js';
import { checkoutPath } from './checkout-paths.js';

const REASON = 'FetchImageContentFailed';

export interface ImageSourceCopy {
  /** The image as the engine has it (its ID). */
  image: string;
  /** How the BuildConfig named it, for messages. */
  name: string;
  paths: readonly { sourcePath: string; destinationDir?: string | undefined }[];
}

/** Copies every path of every image into `sourceDir`. */
export async function copyImageSources(o: {
  docker: Docker;
  sourceDir: string;
  copies: readonly ImageSourceCopy[];
  log: (line: string) => void;
}): Promise<void> {
  const root = realpathSync(o.sourceDir);
  for (const copy of o.copies) {
    // Never started: a command is given only because the engine wants one to create it.
    const container = await o.docker.createContainer({
      Image: copy.image,
      Entrypoint: ['/slipway-image-source-is-never-run'],
      Cmd: [],
      NetworkDisabled: true,
    });
    try {
      for (const path of copy.paths) {
        const dest = path.destinationDir ?? '';
        const label = `image source ${quoteValue(copy.name)} path ${quoteValue(path.sourcePath)}`;
        const target = checkoutPath({
          root: o.sourceDir,
          path: dest,
          what: `the destinationDir ${quoteValue(dest || '.')} of ${label}`,
          reason: REASON,
        });
        try {
          mkdirSync(target.path, { recursive: true, mode: 0o755 });
        } catch (err) {
          throw new BuildFailure(
            REASON,
            `cannot create the destinationDir of ${label}: ${errorMessage(err)}`,
            {
              cause: err,
            },
          );
        }
        let archive: Readable;
        try {
          archive = (await container.getArchive({ path: path.sourcePath })) as unknown as Readable;
        } catch (err) {
          const missing = (err as { statusCode?: number }).statusCode === 404;
          throw new BuildFailure(
            REASON,
            missing
              ? `${quoteValue(path.sourcePath)} does not exist in image ${quoteValue(copy.name)}`
              : `cannot read ${quoteValue(path.sourcePath)} from image ${quoteValue(copy.name)}: ${errorMessage(err)}`,
            { cause: err },
          );
        }
        const under = relative(root, target.path).split(sep).join('/');
        const entries = await unpackTar({ archive, dir: o.sourceDir, under, label, reason: REASON });
        o.log(
          `Copied ${entries} entries from ${path.sourcePath} of image ${copy.name} to ${quoteValue(dest || '.')}`,
        );
      }
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  }
}
