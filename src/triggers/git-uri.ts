/**
 * One repository, many spellings: GitHub alone names a repository four ways in a push
 * payload (`clone_url`, `ssh_url`, `git_url`, `html_url`), and users write any of them,
 * or the scp-like `git@host:owner/repo`, in `spec.source.git.uri`. Matching a push to
 * BuildConfigs compares one canonical key per repository instead.
 */

/** Ports that name the transport's default and so say nothing about the repository. */
const DEFAULT_PORTS: Record<string, string> = { https: '443', http: '80', ssh: '22', git: '9418' };

// scp-like syntax: `[user@]host:path`, no scheme, and the colon comes before any slash
// (git-clone(1) "GIT URLS"). A Windows drive letter (`C:\repo`) is not one.
const SCP_LIKE = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/;

/**
 * The canonical key of a git repository URL: `host[:port]/owner/repo`, with the host and
 * path lowercased, userinfo, query, fragment, a trailing `.git` and trailing slashes
 * removed, and the transport's default port dropped. `file://` URLs and absolute paths
 * become `file:/abs/path` and keep their case (a local filesystem may be case-sensitive).
 *
 * The path is lowercased because GitHub, GitLab and Bitbucket resolve owner and
 * repository names case-insensitively, and payloads spell them as the forge stores them
 * (`Codertocat/Hello-World`) while users type them as they like.
 *
 * Returns undefined for a string that is not a git URL at all.
 */
export function normalizeGitUri(uri: string): string | undefined {
  const raw = uri.trim();
  if (raw === '') return undefined;

  if (raw.startsWith('/')) return `file:${stripRepoSuffix(raw)}`;

  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    const scp = SCP_LIKE.exec(raw);
    if (!scp || /^[a-zA-Z]$/.test(scp[1]!)) return undefined;
    const path = stripRepoSuffix(scp[2]!.replace(/^\/+/, ''));
    if (path === '') return undefined;
    return `${scp[1]!.toLowerCase()}/${path.toLowerCase()}`;
  }

  if (scheme === 'file') {
    const path = stripRepoSuffix(decodeSafe(raw.slice('file://'.length).replace(/^localhost(?=\/)/, '')));
    return path.startsWith('/') ? `file:${path}` : undefined;
  }

  // `git+ssh://` and `ssh+git://` are old aliases of ssh:// that git still accepts.
  const transport = scheme === 'git+ssh' || scheme === 'ssh+git' ? 'ssh' : scheme;
  let url: URL;
  try {
    // WHATWG URL parses only "special" schemes' hosts reliably; parse as http and keep
    // the real transport for the default-port rule.
    url = new URL(`http://${raw.slice(raw.indexOf('://') + 3)}`);
  } catch {
    return undefined;
  }
  if (url.hostname === '') return undefined;
  const explicitPort = portOf(raw);
  const port =
    explicitPort !== undefined && DEFAULT_PORTS[transport] !== explicitPort ? `:${explicitPort}` : '';
  const path = stripRepoSuffix(decodeSafe(url.pathname).replace(/^\/+/, ''));
  if (path === '') return undefined;
  return `${url.hostname.toLowerCase()}${port}/${path.toLowerCase()}`;
}

/** The explicit port in `scheme://[user@]host:port/…`, read from the text (URL drops :80 for http). */
function portOf(raw: string): string | undefined {
  const authority = raw.slice(raw.indexOf('://') + 3).split(/[/?#]/, 1)[0] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const m = /:(\d+)$/.exec(hostPort.startsWith('[') ? hostPort.slice(hostPort.indexOf(']') + 1) : hostPort);
  return m ? String(Number(m[1])) : undefined;
}

function stripRepoSuffix(path: string): string {
  let p = path.replace(/[?#].*$/, '').replace(/\/+$/, '');
  if (p.toLowerCase().endsWith('.git')) p = p.slice(0, -4);
  return p.replace(/\/+$/, '');
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** True when two git URLs name the same repository. */
export function sameRepository(a: string, b: string): boolean {
  const na = normalizeGitUri(a);
  return na !== undefined && na === normalizeGitUri(b);
}

/** `owner` and `repo` of a repository on a forge host, read from any URL form. */
export interface RepositoryCoordinates {
  host: string;
  owner: string;
  repo: string;
}

/**
 * Splits a git URL into host, owner and repository name, for APIs that address a
 * repository as `/repos/{owner}/{repo}`. Undefined when the path is not `owner/repo`.
 */
export function repositoryCoordinates(uri: string): RepositoryCoordinates | undefined {
  const normalized = normalizeGitUri(uri);
  if (normalized === undefined || normalized.startsWith('file:')) return undefined;
  const slash = normalized.indexOf('/');
  const host = normalized.slice(0, slash);
  const parts = normalized.slice(slash + 1).split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  // Lowercase is fine here: GitHub's REST API resolves owner/repo case-insensitively.
  return { host, owner: parts[0], repo: parts[1] };
}
