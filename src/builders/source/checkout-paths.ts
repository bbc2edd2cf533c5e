/**
 * Paths inside a checked-out (or unpacked) source, resolved as the operating system
 * would resolve them and refused when they lead outside it. A repository is written by
 * strangers: a `Dockerfile`, a `contextDir` or a `.s2i/bin/assemble` that is a symbolic
 * link to `/etc/passwd` or to the worker's credentials must never be read, and never be
 * written through. docs/hostile-repositories.md has the rules.
 *
 * Nothing else changes the checkout while Slipway reads it (builds run inside the Docker
 * engine, not in the checkout), so checking a path and then opening it is not a race.
 */
import { existsSync, lstatSync, realpathSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { BuildFailure, errorMessage, type BuildReason } from '../../core/errors.js';
import { quoteValue } from '../../core/build-input-rules.js';

export interface CheckoutPathInput {
  /** The checkout: nothing outside it may be read or written. */
  root: string;
  /** A relative path as the BuildConfig or the repository spells it, `/`-separated; `''` is `from` itself. */
  path: string;
  /** The directory `path` starts from (the context directory); `root` when not given. */
  from?: string | undefined;
}

export interface ResolvedCheckoutPath {
  /** The path with every symbolic link resolved; inside the real root. */
  path: string;
  /**
   * Where the last component itself lives (its parent resolved, the name kept): the
   * place to replace the file, never following a link in the last component.
   */
  location: string;
  /** Whether the path exists (following links). */
  exists: boolean;
  /** Whether the last component is a symbolic link (pointing inside the checkout). */
  isLink: boolean;
}

export type CheckoutPathResult = ({ ok: true } & ResolvedCheckoutPath) | { ok: false; problem: string };

/** Whether `path` is `root` or below it (both already resolved). */
export function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** Splits a relative path into components, or says why it is not one. */
function components(path: string): string[] | string {
  if (path.includes('\0')) return 'contains a NUL character';
  if (isAbsolute(path) || path.startsWith('/') || path.startsWith('\\')) return 'is an absolute path';
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return 'contains ".."';
  return parts;
}

/**
 * The real location of `parts` below the real directory `base`: the longest prefix that
 * exists (following links) is resolved with realpath, the rest is appended as written.
 * A component after that prefix that exists without a target is a dangling link:
 * refused, since writing to it would create its target wherever it points.
 */
function realLocation(base: string, parts: string[]): { path: string; exists: boolean } | string {
  let existing = parts.length;
  while (existing > 0 && !existsSync(join(base, ...parts.slice(0, existing)))) existing--;
  let real: string;
  try {
    real = realpathSync(join(base, ...parts.slice(0, existing)));
  } catch (err) {
    return `cannot be resolved (${errorMessage(err)})`;
  }
  if (existing < parts.length) {
    const next = join(real, parts[existing]!);
    let dangling = false;
    try {
      dangling = lstatSync(next).isSymbolicLink();
    } catch {
      // absent (or below a file): nothing there to follow
    }
    if (dangling) {
      const link = quoteValue(parts.slice(0, existing + 1).join('/'));
      return `goes through ${link}, a symbolic link that does not resolve (dangling or a loop)`;
    }
  }
  return { path: join(real, ...parts.slice(existing)), exists: existing === parts.length };
}

/** Resolves `input.path` inside the checkout, or says why it may not be used. */
export function resolveCheckoutPath(input: CheckoutPathInput): CheckoutPathResult {
  const parts = components(input.path);
  if (typeof parts === 'string') return { ok: false, problem: parts };
  let root: string;
  try {
    root = realpathSync(input.root);
  } catch (err) {
    return { ok: false, problem: `cannot be resolved: the checkout is missing (${errorMessage(err)})` };
  }
  let from = root;
  if (input.from !== undefined) {
    try {
      from = realpathSync(input.from);
    } catch (err) {
      return { ok: false, problem: `cannot be resolved (${errorMessage(err)})` };
    }
    if (!inside(root, from)) return { ok: false, problem: 'starts outside the source checkout' };
  }
  const outside = 'leads outside the source checkout through a symbolic link';
  const whole = realLocation(from, parts);
  if (typeof whole === 'string') return { ok: false, problem: whole };
  if (!inside(root, whole.path)) return { ok: false, problem: outside };
  if (parts.length === 0) {
    return { ok: true, path: whole.path, location: whole.path, exists: whole.exists, isLink: false };
  }
  const parent = realLocation(from, parts.slice(0, -1));
  if (typeof parent === 'string') return { ok: false, problem: parent };
  if (!inside(root, parent.path)) return { ok: false, problem: outside };
  const location = join(parent.path, parts[parts.length - 1]!);
  let isLink = false;
  try {
    isLink = lstatSync(location).isSymbolicLink();
  } catch {
    // absent
  }
  return { ok: true, path: whole.path, location, exists: whole.exists, isLink };
}

export interface CheckoutPathRule extends CheckoutPathInput {
  /** How the path is named in the message: `contextDir "app"`, `.s2i/environment`. */
  what: string;
  /** The Build's reason when the path is refused. */
  reason: BuildReason;
}

/** `resolveCheckoutPath`, throwing a BuildFailure that names the path and why it was refused. */
export function checkoutPath(rule: CheckoutPathRule): ResolvedCheckoutPath {
  const result = resolveCheckoutPath(rule);
  if (!result.ok) {
    throw new BuildFailure(
      rule.reason,
      `${rule.what} ${result.problem}; Slipway reads and writes only inside the source checkout`,
    );
  }
  const { ok: _ok, ...resolved } = result;
  return resolved;
}

/**
 * Writes `content` at `target.location` as a new regular file: whatever was there (a
 * file, a symbolic link) is removed first, and the create fails rather than follow a
 * link that appeared in between. Never writes through a link.
 */
export function replaceCheckoutFile(
  target: ResolvedCheckoutPath,
  content: string | Buffer,
  options: { reason?: BuildReason; mode?: number } = {},
): void {
  try {
    const st = lstatSync(target.location, { throwIfNoEntry: false });
    if (st?.isDirectory()) throw new Error('it is a directory');
    if (st) unlinkSync(target.location);
    writeFileSync(target.location, content, { flag: 'wx', mode: options.mode ?? 0o644 });
  } catch (err) {
    throw new BuildFailure(
      options.reason ?? 'ManageDockerfileFailed',
      `cannot write ${quoteValue(target.location)}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

/**
 * The build's context directory (`spec.source.contextDir`), resolved inside the checkout
 * with its links followed; InvalidContextDirectory when it leads outside or is missing.
 */
export function resolveContextDir(sourceDir: string, contextDir: string | undefined): string {
  const what = `contextDir ${quoteValue(contextDir ?? '.')}`;
  const target = checkoutPath({
    root: sourceDir,
    path: contextDir ?? '',
    what,
    reason: 'InvalidContextDirectory',
  });
  if (!target.exists || !statSync(target.path).isDirectory()) {
    throw new BuildFailure('InvalidContextDirectory', `${what} does not exist in the source repository`);
  }
  return target.path;
}
