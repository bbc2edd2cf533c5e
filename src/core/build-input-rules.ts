/**
 * The shape rules for names that end up on a git command line or in a Dockerfile:
 * environment variable and build-arg names, git refs and commit ids. Every source of
 * them (the API, BuildRequests, webhook payloads, `.s2i/environment`) checks them with
 * these functions, and the worker checks them again before it hands them to git or
 * writes them into a Dockerfile. docs/hostile-repositories.md explains why.
 *
 * Each function returns undefined when the value is fine, or what is wrong with it in
 * words that fit after the value in a message.
 */

/** The API server's rule for env names (Kubernetes IsEnvVarName; OpenShift applies it to build env and buildArgs). */
export const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** A commit id as Slipway accepts it: 7 to 40 hexadecimal digits (an abbreviated or full SHA-1). */
export const COMMIT_ID = /^[0-9a-fA-F]{7,40}$/;

/** Longest ref name Slipway passes to git; real refs are far shorter. */
const MAX_REF_LENGTH = 1024;

/** Shows a value in a message without letting it break the line or the log. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

export function envNameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (!ENV_NAME.test(name)) {
    return "must consist of letters, digits, '_', '-' or '.', and must not start with a digit ([-._a-zA-Z][-._a-zA-Z0-9]*)";
  }
  return undefined;
}

export function commitProblem(commit: string): string | undefined {
  if (!COMMIT_ID.test(commit)) return 'must be a commit id of 7 to 40 hexadecimal digits';
  return undefined;
}

/**
 * git check-ref-format's rules (one-level names allowed, as a branch name like `main`
 * is), and no `-` at the start of the ref or of any component (git's rule for branch
 * names), so that a ref can never be read as an option.
 */
export function gitRefProblem(ref: string): string | undefined {
  if (ref === '') return 'must not be empty';
  if (ref.length > MAX_REF_LENGTH) return `must be at most ${MAX_REF_LENGTH} characters`;
  if (ref.startsWith('-')) return 'must not start with "-"';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(ref)) return 'must not contain spaces or control characters';
  if (/[~^:?*[\\]/.test(ref)) return 'must not contain any of ~ ^ : ? * [ \\';
  if (ref.includes('..')) return 'must not contain ".."';
  if (ref.includes('@{')) return 'must not contain "@{"';
  if (ref === '@') return 'must not be "@"';
  if (ref.startsWith('/') || ref.endsWith('/')) return 'must not start or end with "/"';
  if (ref.includes('//')) return 'must not contain "//"';
  if (ref.endsWith('.')) return 'must not end with "."';
  for (const part of ref.split('/')) {
    if (part.startsWith('.')) return 'must not have a path component that starts with "."';
    // git refuses branch names that start with "-" (`refs/heads/-x` would be one).
    if (part.startsWith('-')) return 'must not have a path component that starts with "-"';
    if (part.endsWith('.lock')) return 'must not have a path component that ends with ".lock"';
  }
  return undefined;
}

/** True for a name `gitRefProblem` accepts. */
export function isValidGitRef(ref: string): boolean {
  return gitRefProblem(ref) === undefined;
}

export function isValidCommit(commit: string): boolean {
  return commitProblem(commit) === undefined;
}

export function isValidEnvName(name: string): boolean {
  return envNameProblem(name) === undefined;
}

/** The parts of a BuildRequest these rules look at; anything else about it is not checked here. */
export interface BuildRequestNames {
  revision?: { git?: { commit?: unknown } | undefined } | undefined;
  env?: unknown;
  dockerStrategyOptions?: { buildArgs?: unknown } | undefined;
}

/**
 * What breaks the rules in a BuildRequest (from the API, a webhook or a trigger): its
 * commit and its env and build-arg names, each with the field named. Empty when fine.
 */
export function buildRequestCauses(request: BuildRequestNames): { field: string; message: string }[] {
  const causes: { field: string; message: string }[] = [];
  const commit = request.revision?.git?.commit;
  if (commit !== undefined) {
    const problem = typeof commit === 'string' ? commitProblem(commit) : 'must be a string';
    if (problem) causes.push({ field: 'revision.git.commit', message: `${describe(commit)} ${problem}` });
  }
  const lists: [string, unknown][] = [
    ['env', request.env],
    ['dockerStrategyOptions.buildArgs', request.dockerStrategyOptions?.buildArgs],
  ];
  for (const [field, list] of lists) {
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      causes.push({ field, message: 'must be a list of {name, value}' });
      continue;
    }
    list.forEach((entry: unknown, i) => {
      const name = (entry as { name?: unknown } | null)?.name;
      const problem = typeof name === 'string' ? envNameProblem(name) : 'is required and must be a string';
      if (problem) causes.push({ field: `${field}[${i}].name`, message: `${describe(name)} ${problem}` });
    });
  }
  return causes;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? quoteValue(value) : 'the value';
}
