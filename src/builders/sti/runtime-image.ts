/**
 * Runtime-image (extended) builds, s2i's docs/runtime_image.md: `assemble` runs in the
 * builder as usual, then the files named by the artifacts mapping are copied from the
 * stopped builder container into the runtime image's WORKDIR, `assemble-runtime` runs
 * there when one is found, and the runtime container is committed as the result.
 *
 * Slipway's choices where s2i is loose:
 * - the mapping comes from `sourceStrategy.runtimeArtifacts`, else the runtime image's
 *   `io.openshift.s2i.assemble-input-files` label (s2i's rule), else the builder
 *   image's (the builder knows where its own output lands);
 * - `assemble-runtime` and `run` are searched in sourceStrategy.scripts, `.s2i/bin`,
 *   then the runtime image's scripts-url label; without assemble-runtime the files
 *   are committed as copied, without run the runtime image keeps its own CMD;
 * - copied files get s2i's permissions (directories and executables 0755, other
 *   files 0644) and the runtime user as owner.
 */
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import tarStream from 'tar-stream';
import { BuildFailure, errorMessage } from '../../core/errors.js';
import type { ArtifactMapping } from './artifacts-mapping.js';
import { isExecutableFile, statPath } from './run-container.js';
import type { ScriptLocation } from './script-lookup.js';
import { archivePrefix, entriesArchive } from './upload.js';
import type { NumericUser } from './user-spec.js';

/** The runtime image's WORKDIR, `/` when it declares none (as s2i). */
export function runtimeWorkDir(config: { WorkingDir?: string | undefined }): string {
  const dir = config.WorkingDir?.trim();
  return dir ? dir.replace(/\/+$/, '') || '/' : '/';
}

/** `<WORKDIR>/<destination>` as an archive path (relative to `/`). */
export function mappingTarget(workDir: string, mapping: ArtifactMapping): string {
  const base = archivePrefix(workDir);
  const dest = mapping.destination === '.' ? '' : mapping.destination;
  return [base, dest].filter(Boolean).join('/');
}

/**
 * Streams `mapping.source` out of the builder container and returns an archive of it
 * placed under the runtime WORKDIR, re-owned and with s2i's modes. Throws
 * RuntimeArtifactsFetchFailed when the path does not exist after assemble.
 */
export async function copyArtifact(
  builderContainer: Docker.Container,
  mapping: ArtifactMapping,
  workDir: string,
  owner: NumericUser,
): Promise<Readable> {
  let source: NodeJS.ReadableStream;
  try {
    source = (await builderContainer.getArchive({ path: mapping.source })) as NodeJS.ReadableStream;
  } catch (err) {
    const missing = (err as { statusCode?: number }).statusCode === 404;
    throw new BuildFailure(
      'RuntimeArtifactsFetchFailed',
      missing
        ? `runtime artifact ${mapping.source} does not exist in the builder container after assemble`
        : `could not copy runtime artifact ${mapping.source} from the builder container: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  const target = mappingTarget(workDir, mapping);
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  extract.on('entry', (header, stream, next) => {
    // The engine names entries from the basename of the copied path: `app.war`, `dist/…`.
    const name = [target, header.name.replace(/^\.?\/+/, '')].filter(Boolean).join('/');
    const isDir = header.type === 'directory';
    const executable = isDir || ((header.mode ?? 0) & 0o111) !== 0;
    const out: Partial<tarStream.Header> & { name: string } = {
      ...header,
      name,
      mode: executable ? 0o755 : 0o644,
      uid: owner.uid,
      gid: owner.gid,
      uname: '',
      gname: '',
    };
    if (header.type === 'link' && header.linkname)
      out.linkname = [target, header.linkname].filter(Boolean).join('/');
    if (header.type === 'file') {
      stream.pipe(pack.entry(out, (err) => next(err ?? undefined)));
    } else {
      pack.entry(out);
      stream.on('end', () => next());
      stream.resume();
    }
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (err) => pack.destroy(err));
  source.on('error', (err: Error) => extract.destroy(err));
  source.pipe(extract);
  const out = new PassThrough();
  pack.on('error', (err) => out.destroy(err));
  return pack.pipe(out);
}

export interface RuntimeScripts {
  assembleRuntime?: ScriptLocation | undefined;
  run?: ScriptLocation | undefined;
}

/**
 * Decides where assemble-runtime and run are inside the runtime container, and the
 * archive of the fetched ones (placed in WORKDIR/scripts, as s2i does). Scripts that
 * point into an image are checked to exist in the runtime container.
 */
export async function placeRuntimeScripts(
  container: Docker.Container,
  scripts: RuntimeScripts,
  workDir: string,
  owner: NumericUser,
): Promise<{ assembleRuntime?: string; run?: string; upload?: Readable; missing: string[] }> {
  const scriptsDir = [archivePrefix(workDir), 'scripts'].filter(Boolean).join('/');
  const uploads: { name: string; content: Buffer; mode: number }[] = [];
  const missing: string[] = [];
  const place = async (name: string, location: ScriptLocation | undefined): Promise<string | undefined> => {
    if (!location) return undefined;
    if (location.kind === 'upload') {
      uploads.push({ name: `${scriptsDir}/${name}`, content: location.content, mode: 0o755 });
      return `/${scriptsDir}/${name}`;
    }
    const stat = await statPath(container, location.path);
    if (stat && isExecutableFile(stat)) return location.path;
    missing.push(`${name} (${location.path}, from ${location.origin} ${location.url})`);
    return undefined;
  };
  const assembleRuntime = await place('assemble-runtime', scripts.assembleRuntime);
  const run = await place('run', scripts.run);
  return {
    ...(assembleRuntime ? { assembleRuntime } : {}),
    ...(run ? { run } : {}),
    ...(uploads.length ? { upload: entriesArchive(uploads, owner) } : {}),
    missing,
  };
}
