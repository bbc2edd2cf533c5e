/**
 * Where a build's input Secrets and ConfigMaps (`spec.source.secrets`, `configMaps`) go,
 * as OpenShift puts them:
 *
 * - Docker strategy: into the context directory at `destinationDir`, for the Dockerfile
 *   to `COPY` or `ADD`. The directory is resolved inside the checkout, and each file is
 *   written as a new regular file: a repository whose `destinationDir` (or a file of the
 *   same name) is a symbolic link cannot make Slipway write a Secret anywhere else
 *   (docs/hostile-repositories.md).
 * - Source strategy: into the assemble container at `destinationDir`, relative to the
 *   builder image's working directory (or absolute), world-writable (0666); once assemble
 *   has run, each Secret file is truncated to zero length before the image is committed,
 *   so the output holds the files but not their content. ConfigMap files stay as they are.
 */
import { mkdirSync, realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { quoteValue } from '../../core/build-input-rules.js';
import { BuildFailure, errorMessage } from '../../core/errors.js';
import { archivePath, type GeneratedEntry } from '../sti/upload.js';
import type { BuildInputFiles } from '../types.js';
import { checkoutPath, inside, replaceCheckoutFile } from './checkout-paths.js';

const REASON = 'FetchSourceFailed';

function describe(input: BuildInputFiles): string {
  return `${input.kind === 'Secret' ? 'secret' : 'config map'} "${input.name}"`;
}

/** Docker strategy: writes every input's files into the context directory. */
export function writeInputFiles(o: {
  sourceDir: string;
  contextDir: string;
  inputs: readonly BuildInputFiles[];
  log: (line: string) => void;
}): void {
  const context = realpathSync(o.contextDir);
  for (const input of o.inputs) {
    const shown = quoteValue(input.destinationDir || '.');
    const what = `the destinationDir ${shown} of the build ${describe(input)}`;
    const dir = checkoutPath({
      root: o.sourceDir,
      from: o.contextDir,
      path: input.destinationDir,
      what,
      reason: REASON,
    });
    if (!inside(context, dir.path))
      throw new BuildFailure(
        REASON,
        `${what} leads outside the context directory, which is all the Docker engine receives`,
      );
    try {
      if (dir.exists && !statSync(dir.path).isDirectory()) throw new Error('it is not a directory');
      mkdirSync(dir.path, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw new BuildFailure(REASON, `cannot create ${what}: ${errorMessage(err)}`, { cause: err });
    }
    o.log(`Copying files from the build ${describe(input)} to ${shown}`);
    for (const file of input.files) {
      const target = checkoutPath({
        root: o.sourceDir,
        from: dir.path,
        path: file.name,
        what: `the file ${quoteValue(file.name)} of the build ${describe(input)}`,
        reason: REASON,
      });
      replaceCheckoutFile(target, file.content, { reason: REASON, mode: 0o644 });
    }
  }
}

/** The directory an input goes to in an S2I container: `destinationDir` from `workDir`. */
export function inputDirectory(workDir: string, destinationDir: string): string {
  return posix.resolve(posix.join('/', workDir || '/'), destinationDir || '.');
}

/**
 * Source strategy: the archive entries that put every input's files into the container,
 * and those that truncate the Secrets' files after assemble.
 */
export function inputFileEntries(
  inputs: readonly BuildInputFiles[],
  workDir: string,
): { files: GeneratedEntry[]; truncate: GeneratedEntry[] } {
  const files: GeneratedEntry[] = [];
  const truncate: GeneratedEntry[] = [];
  for (const input of inputs) {
    const dir = inputDirectory(workDir, input.destinationDir);
    for (const file of input.files) {
      const name = archivePath(dir, file.name);
      files.push({ name, content: file.content, mode: 0o666 });
      if (input.kind === 'Secret') truncate.push({ name, content: Buffer.alloc(0), mode: 0o666 });
    }
  }
  return { files, truncate };
}
