/**
 * The paths filter: in a monorepo, a BuildConfig with `contextDir: services/api` should
 * not rebuild when only `services/web` changed. A trigger's `paths` globs replace the
 * `contextDir` default. When the payload does not list every changed file (GitHub and
 * GitLab cut long commit lists) the filter cannot prove a push irrelevant, so it builds.
 */
import picomatch from 'picomatch';

export interface PathsFilterInput {
  /** Paths the push touched; undefined when unknown. */
  changedPaths: readonly string[] | undefined;
  /** `spec.source.contextDir`. */
  contextDir?: string | undefined;
  /** The trigger's `paths` globs. */
  paths?: readonly string[] | undefined;
}

export type PathsDecision = { build: true; reason: string } | { build: false; reason: string };

function cleanDir(dir: string): string {
  return dir
    .trim()
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '');
}

/** The globs a push must touch: the trigger's `paths`, else everything under `contextDir`, else none (no filter). */
export function pathPatterns(input: Pick<PathsFilterInput, 'contextDir' | 'paths'>): string[] {
  const listed = input.paths?.map((p) => p.trim().replace(/^(\.\/)+/, '')).filter((p) => p !== '');
  if (listed && listed.length > 0) return listed;
  const dir = input.contextDir === undefined ? '' : cleanDir(input.contextDir);
  if (dir === '' || dir === '.') return [];
  return [`${dir}/**`];
}

/** Decides whether a push touched anything the BuildConfig builds from; the reason says why not. */
export function pushTouchesPaths(input: PathsFilterInput): PathsDecision {
  const patterns = pathPatterns(input);
  if (patterns.length === 0) return { build: true, reason: 'no paths filter' };
  if (input.changedPaths === undefined) {
    return {
      build: true,
      reason: 'the payload does not list every changed path, so the paths filter cannot skip it',
    };
  }
  const isMatch = picomatch(patterns, { dot: true, nonegate: true });
  const hit = input.changedPaths.find((p) => isMatch(p.replace(/^\/+/, '')));
  if (hit !== undefined) return { build: true, reason: `${hit} matches ${patterns.join(', ')}` };
  return {
    build: false,
    reason:
      input.changedPaths.length === 0
        ? `the push changed no files (paths filter ${patterns.join(', ')})`
        : `none of the ${input.changedPaths.length} changed paths matches ${patterns.join(', ')}`,
  };
}
