/**
 * Where each S2I script comes from. s2i searches, per script and in this order
 * (docs/builder_image.md, pkg/scripts/install.go):
 *
 *   1. the URL in `sourceStrategy.scripts` (s2i's --scripts-url),
 *   2. the application source's `.s2i/bin/` directory,
 *   3. the builder image's `io.openshift.s2i.scripts-url` label.
 *
 * A URL is `image:///dir` (the scripts are already inside the image: nothing is
 * fetched and the first image:// location wins), `file://path` or `http(s)://dir`
 * (fetched now and uploaded to DEST/scripts). The first location that yields a
 * script wins; a location that fails is remembered for the error message.
 */
import { realpathSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { quoteValue } from '../../core/build-input-rules.js';
import { BuildFailure } from '../../core/errors.js';
import { resolveCheckoutPath } from '../source/checkout-paths.js';

export const Assemble = 'assemble';
export const Run = 'run';
export const SaveArtifacts = 'save-artifacts';
export const Usage = 'usage';
export const AssembleRuntime = 'assemble-runtime';

export type ScriptOrigin = 'sourceStrategy.scripts' | '.s2i/bin' | 'image label';

export type ScriptsUrl =
  { scheme: 'image'; path: string } | { scheme: 'file'; path: string } | { scheme: 'http'; url: string };

/**
 * Parses a scripts URL. `file://` paths that are relative are taken from `baseDir`
 * (the source directory: s2i takes them from its working directory, which is where
 * a developer runs it, the repository).
 */
export function parseScriptsUrl(url: string, baseDir?: string): ScriptsUrl {
  const trimmed = url.trim().replace(/\/+$/, '');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === 'image') {
    const path = trimmed.slice('image://'.length);
    return { scheme: 'image', path: path.startsWith('/') ? path : `/${path}` };
  }
  if (scheme === 'file') {
    const path = trimmed.slice('file://'.length) || '/';
    return { scheme: 'file', path: isAbsolute(path) ? path : resolve(baseDir ?? process.cwd(), path) };
  }
  if (scheme === 'http' || scheme === 'https') return { scheme: 'http', url: trimmed };
  throw new Error(
    `scripts URL "${url}" is not supported: use image:///path (inside the builder image), file://path or http(s)://host/path`,
  );
}

/** Where one script was found. */
export type ScriptLocation =
  /** Already in the image at `path`; s2i calls these "installed, not downloaded". */
  | { kind: 'image'; origin: ScriptOrigin; url: string; path: string }
  /** Fetched content, uploaded to DEST/scripts/NAME before the script runs. */
  | { kind: 'upload'; origin: ScriptOrigin; url: string; content: Buffer };

export interface ScriptSearch {
  /** The first location that has the script, if any. */
  found?: ScriptLocation;
  /** Every location asked and why it did not answer, for a precise error. */
  tried: { origin: ScriptOrigin; url: string; error: string }[];
}

export interface ScriptSources {
  userUrl?: string | undefined;
  /** `<source>/.s2i/bin`, absolute; undefined when there is no source (usage). */
  sourceBinDir?: string | undefined;
  imageUrl?: string | undefined;
  baseDir: string;
  /**
   * The source checkout, in a build: file:// locations (`.s2i/bin` and relative
   * `sourceStrategy.scripts`) are read only inside it, symbolic links resolved; a script
   * that leads outside fails the build instead of being read.
   */
  checkoutRoot?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** The locations s2i searches, in order; locations that are not configured are left out. */
export function searchOrder(sources: Pick<ScriptSources, 'userUrl' | 'sourceBinDir' | 'imageUrl'>): {
  origin: ScriptOrigin;
  url: string;
}[] {
  const order: { origin: ScriptOrigin; url: string }[] = [];
  if (sources.userUrl) order.push({ origin: 'sourceStrategy.scripts', url: sources.userUrl });
  if (sources.sourceBinDir) order.push({ origin: '.s2i/bin', url: `file://${sources.sourceBinDir}` });
  if (sources.imageUrl) order.push({ origin: 'image label', url: sources.imageUrl });
  return order;
}

/** The path of `file` relative to the checkout, `/`-separated, or undefined when it is not under it. */
function underCheckout(root: string, file: string): string | undefined {
  for (const base of [realpathSync(root), root]) {
    const rel = relative(base, file);
    if (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)) return rel.split(sep).join('/');
  }
  return undefined;
}

/** Reads a script from the checkout, never through a link that leads out of it. */
async function readCheckoutScript(root: string, file: string, origin: ScriptOrigin): Promise<Buffer> {
  const reason = origin === '.s2i/bin' ? 'InstallScriptsFailed' : 'ScriptsFetchFailed';
  const rel = underCheckout(root, file);
  if (rel === undefined) {
    throw new BuildFailure(
      reason,
      `${origin} script ${quoteValue(file)} is outside the source checkout; file:// scripts are read only from the source`,
    );
  }
  const target = resolveCheckoutPath({ root, path: rel });
  if (!target.ok) {
    throw new BuildFailure(
      reason,
      `${origin} script ${quoteValue(rel)} ${target.problem}; Slipway reads and writes only inside the source checkout`,
    );
  }
  if (!target.exists) throw new Error(`${rel} does not exist`);
  if (!(await stat(target.path)).isFile()) throw new Error(`${rel} is not a file`);
  return readFile(target.path);
}

async function readScript(
  location: ScriptsUrl,
  name: string,
  from: { origin: ScriptOrigin; signal?: AbortSignal | undefined; checkoutRoot?: string | undefined },
): Promise<Buffer> {
  const { signal } = from;
  if (location.scheme === 'file') {
    const file = join(location.path, name);
    if (from.checkoutRoot !== undefined) return readCheckoutScript(from.checkoutRoot, file, from.origin);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new Error(`${file} does not exist`);
    return readFile(file);
  }
  if (location.scheme === 'http') {
    const url = `${location.url}/${name}`;
    const res = await fetch(url, signal ? { signal } : {});
    // s2i accepts 200 and 201 only.
    if (res.status !== 200 && res.status !== 201) {
      await res.body?.cancel();
      throw new Error(`GET ${url} answered ${res.status}`);
    }
    return Buffer.from(await res.arrayBuffer());
  }
  throw new Error('image:// scripts are not fetched');
}

/** Finds each of `names` in the configured locations, in s2i's order. */
export async function findScripts(
  names: readonly string[],
  sources: ScriptSources,
): Promise<Map<string, ScriptSearch>> {
  const order = searchOrder(sources).map((entry) => {
    try {
      return { ...entry, parsed: parseScriptsUrl(entry.url, sources.baseDir) };
    } catch (err) {
      return { ...entry, invalid: (err as Error).message };
    }
  });
  const result = new Map<string, ScriptSearch>();
  await Promise.all(
    names.map(async (name) => {
      const search: ScriptSearch = { tried: [] };
      for (const entry of order) {
        if ('invalid' in entry) {
          search.tried.push({ origin: entry.origin, url: entry.url, error: entry.invalid ?? 'invalid URL' });
          continue;
        }
        const { parsed } = entry;
        if (parsed.scheme === 'image') {
          search.found = {
            kind: 'image',
            origin: entry.origin,
            url: entry.url,
            path: `${parsed.path}/${name}`,
          };
          break;
        }
        try {
          const content = await readScript(parsed, name, {
            origin: entry.origin,
            signal: sources.signal,
            checkoutRoot: sources.checkoutRoot,
          });
          search.found = { kind: 'upload', origin: entry.origin, url: entry.url, content };
          break;
        } catch (err) {
          // A refused path fails the build: falling back to the image's script would hide it.
          if (sources.signal?.aborted || err instanceof BuildFailure) throw err;
          search.tried.push({ origin: entry.origin, url: entry.url, error: (err as Error).message });
        }
      }
      result.set(name, search);
    }),
  );
  return result;
}

/** "assemble: not found in sourceStrategy.scripts (…), .s2i/bin (…)" */
export function describeSearch(name: string, search: ScriptSearch | undefined): string {
  const tried = search?.tried ?? [];
  if (!tried.length)
    return `${name}: no location to search (no sourceStrategy.scripts, no .s2i/bin, no scripts-url label)`;
  return `${name}: not found in ${tried.map((t) => `${t.origin} (${t.error})`).join(', ')}`;
}
