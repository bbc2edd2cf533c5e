/**
 * Does a pushed ref build this BuildConfig? OpenShift compares the branch name with
 * `spec.source.git.ref` and nothing else (openshift-apiserver webhook.GitRefMatches).
 * Slipway keeps that, and adds what OpenShift users asked for: globs and lists of refs
 * (trigger `refs`), tag pushes on request (`includeTags`), and the repository's default
 * branch when `ref` is empty.
 */
import picomatch from 'picomatch';
import type { WebHookTrigger } from '../core/build-types.js';

const HEADS = 'refs/heads/';
const TAGS = 'refs/tags/';

/**
 * OpenShift's webhooks treat an empty `ref` as "master" (webhook.DefaultConfigRef), even
 * though a build with an empty ref clones the repository's default branch; its docs now
 * say to set `ref` for any other branch (OCPBUGS-15206, openshift/openshift-docs#61527).
 * Slipway uses the default branch the payload names (GitHub, GitLab), and "master"
 * only when the payload does not say.
 */
export const OPENSHIFT_DEFAULT_REF = 'master';

export interface ParsedRef {
  kind: 'branch' | 'tag' | 'other';
  /** Short name: `main`, `release/1.0`, `v1.2.3`; the full ref for `other`. */
  name: string;
  full: string;
}

/** Splits a ref; a bare name (`main`) is a branch, as generic callers and Bitbucket write it. */
export function parseRef(ref: string): ParsedRef {
  if (ref.startsWith(HEADS)) return { kind: 'branch', name: ref.slice(HEADS.length), full: ref };
  if (ref.startsWith(TAGS)) return { kind: 'tag', name: ref.slice(TAGS.length), full: ref };
  if (ref.startsWith('refs/')) return { kind: 'other', name: ref, full: ref };
  return { kind: 'branch', name: ref, full: `${HEADS}${ref}` };
}

export interface RefMatchInput {
  /** The pushed ref. */
  ref: string;
  /** `spec.source.git.ref` of the BuildConfig (may be empty, a branch, `refs/heads/x` or a glob). */
  configRef?: string | undefined;
  /** The trigger that would fire; its `refs` and `includeTags` widen what matches. */
  trigger?: Pick<WebHookTrigger, 'refs' | 'includeTags'> | undefined;
  /** The repository's default branch, when the payload names it. */
  defaultBranch?: string | undefined;
  /** The push deleted the ref. */
  deleted?: boolean | undefined;
}

export type RefMatch = { match: true; pattern: string } | { match: false; reason: string };

const matcherCache = new Map<string, (s: string) => boolean>();
function globMatch(pattern: string, value: string): boolean {
  let m = matcherCache.get(pattern);
  if (!m) {
    // `*` stays inside one path segment (`release/*` is not `release/a/b`); `**` crosses.
    m = picomatch(pattern, { dot: true, nonegate: true });
    if (matcherCache.size > 1000) matcherCache.clear();
    matcherCache.set(pattern, m);
  }
  return m(value);
}

/** The branch patterns a BuildConfig builds: trigger `refs` if given, else its `ref`, else the default branch. */
export function branchPatterns(
  input: Pick<RefMatchInput, 'configRef' | 'trigger' | 'defaultBranch'>,
): string[] {
  const listed = input.trigger?.refs?.filter((r) => r.trim() !== '');
  if (listed && listed.length > 0) return listed;
  const configRef = input.configRef?.trim();
  if (configRef) return [configRef];
  return [input.defaultBranch?.trim() || OPENSHIFT_DEFAULT_REF];
}

/**
 * Decides whether a pushed ref builds. Branch patterns match the short branch name
 * (`release/*`) or, when written with `refs/heads/`, the full ref. Tags build only with
 * `includeTags`: every tag, or the tags that `refs/tags/…` patterns in `refs` select.
 * A deleted ref never builds: there is no commit left to build.
 */
export function matchRef(input: RefMatchInput): RefMatch {
  const parsed = parseRef(input.ref);
  if (input.deleted)
    return { match: false, reason: `${input.ref} was deleted; a deletion has nothing to build` };
  const patterns = branchPatterns(input);

  if (parsed.kind === 'tag') {
    if (!input.trigger?.includeTags) {
      return {
        match: false,
        reason: `${input.ref} is a tag push; set includeTags on the trigger to build tags`,
      };
    }
    const tagPatterns = patterns.filter((p) => p.startsWith(TAGS));
    if (tagPatterns.length === 0) return { match: true, pattern: `${TAGS}*` };
    const hit = tagPatterns.find((p) => globMatch(p, parsed.full));
    return hit
      ? { match: true, pattern: hit }
      : { match: false, reason: `tag ${parsed.name} matches none of ${tagPatterns.join(', ')}` };
  }

  if (parsed.kind === 'other') {
    const hit = patterns.find((p) => p.startsWith('refs/') && globMatch(p, parsed.full));
    return hit
      ? { match: true, pattern: hit }
      : { match: false, reason: `${input.ref} is not a branch or tag` };
  }

  for (const p of patterns) {
    if (p.startsWith(TAGS)) continue;
    const hit = p.startsWith('refs/') ? globMatch(p, parsed.full) : globMatch(p, parsed.name);
    if (hit) return { match: true, pattern: p };
  }
  return {
    match: false,
    reason: `branch ${parsed.name} does not match ${patterns.filter((p) => !p.startsWith(TAGS)).join(', ') || 'any branch pattern'}`,
  };
}
