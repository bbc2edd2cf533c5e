/**
 * Unpacks a binary build input into the source directory: a tar archive (gzip or
 * not), or with `asFile` a single file written under that name, as OpenShift does.
 *
 * The archive comes from whoever may start a build, so every entry is checked before
 * anything is written: names must be relative without `..`, every directory on the way
 * must resolve inside the source directory (an earlier entry may have made it a link),
 * links must point inside it, and device files and fifos are refused. One bad entry
 * fails the build (docs/hostile-repositories.md).
 */
import {
  createWriteStream,
  linkSync,
  lstatSync,
  mkdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, posix } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { quoteValue } from '../../core/build-input-rules.js';
import { BuildFailure, errorMessage, type BuildReason } from '../../core/errors.js';
import { checkoutPath, type ResolvedCheckoutPath } from './checkout-paths.js';

export async function unpackBinarySource(options: {
  data: Buffer;
  dir: string;
  asFile?: string | undefined;
  log: (line: string) => void;
}): Promise<void> {
  const { data, dir, asFile, log } = options;
  if (asFile !== undefined) {
    const name = basename(asFile);
    if (name !== asFile || name === '.' || name === '..' || name === '' || name.includes('\0')) {
      throw new BuildFailure('FetchSourceFailed', `asFile ${quoteValue(asFile)} must be a plain file name`);
    }
    // The directory is new and empty: `wx` fails rather than follow anything there.
    writeFileSync(join(dir, name), data, { flag: 'wx' });
    log(`Received ${data.length} bytes as file ${name}`);
    return;
  }
  const gzipped = data[0] === 0x1f && data[1] === 0x8b;
  const entries = await unpackTar({
    archive: Readable.from([data]),
    gzipped,
    dir,
    under: '',
    label: 'binary input',
    reason: 'FetchSourceFailed',
  });
  log(`Extracted binary input (${data.length} bytes${gzipped ? ', gzip' : ''}, ${entries} entries)`);
}

/** Where an archive's entries go, and how a refusal names them. */
export interface UnpackScope {
  /** The checkout: nothing outside it is written. */
  dir: string;
  /** A relative directory inside `dir` (already checked) the entries go below; '' for `dir`. */
  under: string;
  /** What the archive is, for messages: `binary input`, `image source "x" path "/y"`. */
  label: string;
  reason: BuildReason;
}

/**
 * Unpacks a tar stream into the checkout, entry by entry, with the rules above; returns
 * the number of entries. One bad entry refuses the whole archive.
 */
export async function unpackTar(
  options: UnpackScope & { archive: Readable; gzipped?: boolean },
): Promise<number> {
  const { archive, gzipped, ...scope } = options;
  let entries = 0;
  const extract = tarStream.extract();
  extract.on('entry', (header, stream, next) => {
    entries++;
    // tar-stream's entry streams are streamx streams, which node's pipeline accepts.
    unpackEntry(scope, header, stream as unknown as Readable).then(
      () => next(),
      (err: unknown) => {
        stream.resume();
        next(err as Error);
      },
    );
  });
  try {
    if (gzipped) await pipeline(archive, createGunzip(), extract);
    else await pipeline(archive, extract);
  } catch (err) {
    if (err instanceof BuildFailure) throw err;
    throw new BuildFailure(
      scope.reason,
      `the ${scope.label} is not a readable tar archive: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  return entries;
}

function refuse(scope: Pick<UnpackScope, 'label' | 'reason'>, name: string, why: string): BuildFailure {
  return new BuildFailure(
    scope.reason,
    `${scope.label} entry ${quoteValue(name)} ${why}; the archive is refused`,
  );
}

const BINARY_INPUT = { label: 'binary input', reason: 'FetchSourceFailed' } as const;

/** `./a//b/` → `a/b`; absolute names, `..` and NUL are refused. */
export function archiveEntryPath(
  name: string,
  scope: Pick<UnpackScope, 'label' | 'reason'> = BINARY_INPUT,
): string {
  if (name.includes('\0')) throw refuse(scope, name, 'contains a NUL character');
  if (name.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(name)) throw refuse(scope, name, 'is an absolute path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refuse(scope, name, 'contains ".."');
  return parts.join('/');
}

/** Where a new entry goes: its directory resolved inside the source, then made. */
function place(scope: UnpackScope, name: string, path: string): ResolvedCheckoutPath {
  const what = `${scope.label} entry ${quoteValue(name)}`;
  const parent = posix.dirname(path);
  const parentDir = checkoutPath({
    root: scope.dir,
    path: parent === '.' ? '' : parent,
    what,
    reason: scope.reason,
  });
  if (!parentDir.exists) mkdirSync(parentDir.path, { recursive: true, mode: 0o755 });
  return checkoutPath({ root: scope.dir, path, what, reason: scope.reason });
}

/** Removes what a later entry of the same name replaces; never a directory. */
function clear(scope: UnpackScope, target: ResolvedCheckoutPath, name: string): void {
  const st = lstatSync(target.location, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isDirectory()) throw refuse(scope, name, 'would replace a directory');
  unlinkSync(target.location);
}

async function unpackEntry(scope: UnpackScope, header: tarStream.Header, stream: Readable): Promise<void> {
  const name = header.name;
  const inArchive = archiveEntryPath(name, scope);
  const path = [scope.under, inArchive].filter(Boolean).join('/');
  const type = header.type ?? 'file';
  if (inArchive === '') {
    if (type !== 'directory') throw refuse(scope, name, 'has no name');
    stream.resume();
    return;
  }
  // Permission bits only: no setuid or setgid files from an upload.
  const mode = (header.mode ?? 0o644) & 0o777;
  switch (type) {
    case 'file':
    case 'contiguous-file': {
      const target = place(scope, name, path);
      clear(scope, target, name);
      await pipeline(stream, createWriteStream(target.location, { flags: 'wx', mode }) as Writable);
      return;
    }
    case 'directory': {
      const target = place(scope, name, path);
      if (!target.exists) mkdirSync(target.location, { mode: mode | 0o700 });
      else if (!lstatSync(target.path).isDirectory())
        throw refuse(scope, name, 'is a directory where a file is');
      stream.resume();
      return;
    }
    case 'symlink': {
      const link = header.linkname ?? '';
      if (link === '' || link.startsWith('/'))
        throw refuse(scope, name, `is a symbolic link to an absolute path`);
      const resolved = posix.normalize(posix.join(posix.dirname(path), link));
      if (resolved === '..' || resolved.startsWith('../')) {
        throw refuse(scope, name, 'is a symbolic link that leads outside the source directory');
      }
      const target = place(scope, name, path);
      clear(scope, target, name);
      symlinkSync(link, target.location);
      stream.resume();
      return;
    }
    case 'link': {
      const linkPath = [scope.under, archiveEntryPath(header.linkname ?? '', scope)]
        .filter(Boolean)
        .join('/');
      const existing = checkoutPath({
        root: scope.dir,
        path: linkPath,
        what: `${scope.label} entry ${quoteValue(name)} (a hard link to ${quoteValue(header.linkname ?? '')})`,
        reason: scope.reason,
      });
      if (!existing.exists || !lstatSync(existing.path).isFile()) {
        throw refuse(scope, name, 'is a hard link to something that is not a file unpacked before it');
      }
      const target = place(scope, name, path);
      clear(scope, target, name);
      linkSync(existing.path, target.location);
      stream.resume();
      return;
    }
    default:
      // Character and block devices, fifos and anything newer: nothing a build needs.
      throw refuse(scope, name, `is a ${type} entry, which ${scope.label} may not carry`);
  }
}
