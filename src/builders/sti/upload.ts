/**
 * The archives Slipway puts into a build container before it starts (the engine's
 * PUT /containers/{id}/archive): the source as DEST/src, fetched scripts as
 * DEST/scripts. See docs/s2i-injection.md for why this route and not s2i's
 * `tar -xf -` on the container's stdin.
 *
 * Entries are written relative to `/` (`tmp/src/…`), so the destination need not
 * exist in the image, and carry the assemble user's uid/gid, which the engine keeps.
 */
import { relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import tarFs from 'tar-fs';
import tarStream from 'tar-stream';
import type { NumericUser } from './user-spec.js';

/** `/tmp` → `tmp`, `/` → `` : the archive path of the destination directory. */
export function archivePrefix(destination: string): string {
  return destination.replace(/^\/+/, '').replace(/\/+$/, '');
}

export function archivePath(destination: string, ...parts: string[]): string {
  return [archivePrefix(destination), ...parts].filter(Boolean).join('/');
}

export interface SourceArchiveOptions {
  /** The source after contextDir. */
  dir: string;
  destination: string;
  owner: NumericUser;
  /** `.s2iignore`'s verdict for a path relative to `dir`. */
  ignored: (relPath: string) => boolean;
}

/**
 * The source directory as `DEST/src`. `.git` directories are left out, as s2i's default
 * exclude pattern `(^|/)\.git(/|$)` does; sockets and other special files are skipped.
 */
export function sourceArchive(options: SourceArchiveOptions): Readable {
  const prefix = archivePath(options.destination, 'src');
  const { uid, gid } = options.owner;
  // umask 0: modes as they are on disk (tar-fs would apply the process umask).
  const packOptions: tarFs.PackOptions & { umask: number } = {
    umask: 0,
    strict: false,
    // Links go in as links, never their targets: inside the container they resolve in
    // the container's filesystem, so a link to a host file carries nothing of it.
    dereference: false,
    ignore: (absolute: string) => {
      const rel = relative(options.dir, absolute).split(sep).join('/');
      if (rel.split('/').includes('.git')) return true;
      return options.ignored(rel);
    },
    map: (header) => {
      header.name = header.name === '.' ? prefix : `${prefix}/${header.name}`;
      header.uid = uid;
      header.gid = gid;
      return header;
    },
  };
  return tarFs.pack(options.dir, packOptions) as unknown as Readable;
}

export interface GeneratedEntry {
  /** Path relative to `/`. */
  name: string;
  content?: Buffer;
  type?: 'file' | 'directory';
  mode?: number;
}

/** A small archive of generated entries (fetched scripts, the destination directory). */
export function entriesArchive(entries: readonly GeneratedEntry[], owner: NumericUser): Readable {
  const pack = tarStream.pack();
  const mtime = new Date();
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const header = {
      name: entry.name,
      type,
      mode: entry.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: owner.uid,
      gid: owner.gid,
      mtime,
    };
    if (type === 'file')
      pack.entry({ ...header, size: entry.content?.length ?? 0 }, entry.content ?? Buffer.alloc(0));
    else pack.entry(header);
  }
  pack.finalize();
  return pack as unknown as Readable;
}
