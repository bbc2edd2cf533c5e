/**
 * Incremental builds: `save-artifacts` runs in a container of the previous output
 * image and writes a tar stream on stdout; that stream becomes DEST/artifacts of the
 * new build. As in s2i (sti.go `Save`), anything that goes wrong here (no previous
 * image, no save-artifacts, a non-zero exit, a stream that is not a tar archive) is a
 * warning and the build goes on as a clean one.
 *
 * The stream is checked and rewritten entry by entry into a temporary archive (names
 * moved under DEST/artifacts, owner set to the assemble user) before anything is put
 * into the build container, so a broken stream never leaves half an artifact tree.
 */
import { createWriteStream } from 'node:fs';
import { join, posix } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import tarStream from 'tar-stream';
import { BuildCancelled, errorMessage } from '../../core/errors.js';
import { isExecutableFile, runToCompletion, statPath, withContainer } from './run-container.js';
import type { ScriptLocation } from './script-lookup.js';
import { archivePath, entriesArchive } from './upload.js';
import type { NumericUser } from './user-spec.js';

export interface SaveArtifactsOptions {
  docker: Docker;
  previousImage: string;
  script: ScriptLocation;
  destination: string;
  /** The assemble user spec; the previous image's USER when undefined (as s2i). */
  user: string | undefined;
  /** Owner the artifacts get in the new build container. */
  owner: NumericUser;
  /** Where to write the rewritten archive. */
  workDir: string;
  containerName: string;
  log: (line: string) => void;
  signal: AbortSignal;
}

export interface SavedArtifacts {
  /** A tar archive with entries under DEST/artifacts/, ready for putArchive at `/`. */
  archive: string;
  entries: number;
  bytes: number;
}

/** Runs save-artifacts; returns the artifacts, or undefined (with a warning logged) for a clean build. */
export async function saveArtifacts(options: SaveArtifactsOptions): Promise<SavedArtifacts | undefined> {
  const { docker, previousImage, log } = options;
  let previous: Docker.ImageInspectInfo;
  try {
    previous = await docker.getImage(previousImage).inspect();
  } catch {
    log(`Previous image ${previousImage} is not on this engine: clean build`);
    return undefined;
  }

  const scriptPath =
    options.script.kind === 'image'
      ? options.script.path
      : posix.join(options.destination, 'scripts', 'save-artifacts');
  const user = options.user ?? previous.Config.User ?? '';
  log(`Saving build artifacts from the previous image ${previousImage} ...`);
  try {
    return await withContainer(
      docker,
      {
        name: options.containerName,
        Image: previous.Id,
        Entrypoint: [],
        Cmd: [scriptPath],
        User: user,
        AttachStdout: true,
        AttachStderr: true,
        NetworkDisabled: true,
      },
      async (container) => {
        if (options.script.kind === 'image') {
          const stat = await statPath(container, scriptPath);
          if (!stat || !isExecutableFile(stat)) {
            log(
              `warning: the previous image has no executable ${scriptPath} (${options.script.url}): clean build`,
            );
            return undefined;
          }
        } else {
          await container.putArchive(
            entriesArchive(
              [
                {
                  name: archivePath(options.destination, 'scripts', 'save-artifacts'),
                  content: options.script.content,
                  mode: 0o755,
                },
              ],
              options.owner,
            ),
            { path: '/' },
          );
        }
        return collect(container, scriptPath, options);
      },
      log,
    );
  } catch (err) {
    if (err instanceof BuildCancelled) throw err;
    log(`warning: clean build because saving the previous build's artifacts failed: ${errorMessage(err)}`);
    return undefined;
  }
}

async function collect(
  container: Docker.Container,
  scriptPath: string,
  options: SaveArtifactsOptions,
): Promise<SavedArtifacts | undefined> {
  const { log } = options;
  const archive = join(options.workDir, 'artifacts.tar');
  const sink = new PassThrough();
  let streamError: unknown;
  const rewrite = rewriteArtifacts(sink, archive, options).catch((err: unknown) => {
    streamError = err;
    return undefined;
  });

  const code = await runToCompletion(container, {
    docker: options.docker,
    signal: options.signal,
    what: 'while saving artifacts',
    stdout: sink,
    onStderrLine: (line) => log(line),
  });
  const result = await rewrite;
  if (code !== 0) {
    log(`warning: ${scriptPath} exited with code ${code}: clean build, the previous artifacts are not used`);
    return undefined;
  }
  if (streamError !== undefined || !result) {
    log(
      `warning: the artifacts stream from ${scriptPath} is not a valid tar archive (${errorMessage(streamError)}): ` +
        'clean build, the previous artifacts are not used',
    );
    return undefined;
  }
  if (!result.entries) {
    log('save-artifacts saved nothing: nothing to restore');
    return undefined;
  }
  log(`Saved ${result.entries} artifact entries (${formatBytes(result.bytes)}) for assemble`);
  return { archive, ...result };
}

/** Safe relative name inside DEST/artifacts, or throws for `..` and absolute names. */
export function artifactEntryName(name: string): string {
  const parts = name.split('/').filter((p) => p && p !== '.');
  if (name.startsWith('/') || parts.includes('..')) {
    throw new Error(`entry "${name}" points outside the artifacts directory`);
  }
  return parts.join('/');
}

function rewriteArtifacts(
  input: PassThrough,
  archive: string,
  options: SaveArtifactsOptions,
): Promise<{ entries: number; bytes: number }> {
  const prefix = archivePath(options.destination, 'artifacts');
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  let entries = 0;
  let bytes = 0;
  // DEST/artifacts itself belongs to the assemble user, as when s2i's tar (running as
  // that user) creates it: assemble commonly moves things out of it.
  pack.entry({
    name: prefix,
    type: 'directory',
    mode: 0o755,
    uid: options.owner.uid,
    gid: options.owner.gid,
    mtime: new Date(),
  });

  extract.on('entry', (header, stream, next) => {
    const fail = (err: unknown): void => {
      stream.resume();
      next(err as Error);
    };
    let name: string;
    try {
      name = artifactEntryName(header.name);
    } catch (err) {
      fail(err);
      return;
    }
    if (!name || !['file', 'directory', 'symlink', 'link'].includes(header.type ?? 'file')) {
      // The top directory itself, devices and fifos: nothing assemble can use.
      stream.on('end', () => next());
      stream.resume();
      return;
    }
    const out: Partial<tarStream.Header> & { name: string } = {
      ...header,
      name: `${prefix}/${name}`,
      uid: options.owner.uid,
      gid: options.owner.gid,
      uname: '',
      gname: '',
    };
    if (header.type === 'link' && header.linkname) {
      try {
        out.linkname = `${prefix}/${artifactEntryName(header.linkname)}`;
      } catch (err) {
        fail(err);
        return;
      }
    }
    entries++;
    bytes += header.size ?? 0;
    if (header.type === 'file' || header.type === undefined) {
      stream.pipe(pack.entry(out, (err) => next(err ?? undefined)));
    } else {
      pack.entry(out);
      stream.on('end', () => next());
      stream.resume();
    }
  });

  return new Promise((resolve, reject) => {
    const written = pipeline(pack, createWriteStream(archive));
    let failed = false;
    const onFail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      // Keep draining the container's stdout so that it can finish and exit.
      input.unpipe(extract);
      input.resume();
      pack.destroy(err as Error);
      written.catch(() => undefined).finally(() => reject(err));
    };
    extract.on('error', onFail);
    extract.on('finish', () => {
      pack.finalize();
      written.then(() => resolve({ entries, bytes }), onFail);
    });
    input.pipe(extract);
  });
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
