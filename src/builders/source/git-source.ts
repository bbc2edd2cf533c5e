/**
 * Fetches a build's git source into a directory with simple-git: shallow where git
 * allows it, credentials from the BuildConfig's sourceSecret handed to git through its
 * environment (never in the URL, so they never reach a log).
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { commitProblem, gitRefProblem, quoteValue } from '../../core/build-input-rules.js';
import { BuildCancelled, BuildFailure, errorMessage } from '../../core/errors.js';
import { redactText, redactUri, stripUriCredentials, uriHasCredentials } from '../../core/redact.js';
import { isAllowedGitUri } from '../../core/validation.js';
import type { SourceInfo } from '../types.js';
import { resolveCheckoutPath } from './checkout-paths.js';

export interface SourceCredentials {
  username?: string;
  password?: string;
  sshPrivateKey?: string;
  knownHosts?: string;
  caCert?: string;
}

export interface FetchSourceOptions {
  uri: string;
  /** Branch, tag, or commit; empty means the remote's default branch. */
  ref?: string | undefined;
  /** A commit to build (from a webhook or `start-build --commit`); wins over `ref`. */
  commit?: string | undefined;
  dir: string;
  /** A private directory for key files; removed by the caller. */
  secretsDir: string;
  credentials?: SourceCredentials | undefined;
  proxy?: { httpProxy?: string | undefined; httpsProxy?: string | undefined; noProxy?: string | undefined };
  allowFileSources: boolean;
  log: (line: string) => void;
  signal: AbortSignal;
}

const FULL_SHA = /^[0-9a-f]{40}$/i;

function gitEnvironment(options: FetchSourceOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: options.secretsDir,
    // Never wait for a password on a terminal that is not there.
    GIT_TERMINAL_PROMPT: '0',
    // git itself refuses every other transport (ext::, fd::, file:// unless allowed), for
    // the source and for every submodule at any depth (git(1) GIT_ALLOW_PROTOCOL).
    GIT_ALLOW_PROTOCOL: allowedProtocols(options.allowFileSources),
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
  };
  // simple-git itself refuses ext:: and other command-running transports.
  const config: [string, string][] = [];
  const creds = options.credentials;
  if (creds?.username !== undefined || creds?.password !== undefined) {
    const token = Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64');
    config.push(['http.extraHeader', `Authorization: Basic ${token}`]);
  }
  if (creds?.caCert) {
    const caPath = join(options.secretsDir, 'ca.crt');
    writeFileSync(caPath, creds.caCert);
    config.push(['http.sslCAInfo', caPath]);
  }
  if (creds?.sshPrivateKey) {
    const keyPath = join(options.secretsDir, 'id_source');
    writeFileSync(
      keyPath,
      creds.sshPrivateKey.endsWith('\n') ? creds.sshPrivateKey : `${creds.sshPrivateKey}\n`,
    );
    chmodSync(keyPath, 0o600);
    let hosts = '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null';
    if (creds.knownHosts) {
      const hostsPath = join(options.secretsDir, 'known_hosts');
      writeFileSync(hostsPath, creds.knownHosts);
      hosts = `-o StrictHostKeyChecking=yes -o UserKnownHostsFile=${hostsPath}`;
    }
    env.GIT_SSH_COMMAND = `ssh -o BatchMode=yes -o IdentitiesOnly=yes -i ${keyPath} ${hosts}`;
  }
  for (const [k, v] of Object.entries(options.proxy ?? {})) {
    if (v) env[k === 'httpProxy' ? 'http_proxy' : k === 'httpsProxy' ? 'https_proxy' : 'no_proxy'] = v;
  }
  // GIT_CONFIG_* passes settings without putting secrets on the command line.
  if (config.length === 0) return env;
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

function client(options: FetchSourceOptions, env: Record<string, string>, dir = options.dir): SimpleGit {
  return simpleGit({
    baseDir: dir,
    abort: options.signal,
    allowEnvironment: Object.keys(env).filter((k) => k.startsWith('GIT_')),
    // Both are set by Slipway itself above (the key path, fixed options), never from user input.
    unsafe: { allowUnsafeSshCommand: true, allowUnsafeConfigEnvCount: true },
  }).env(env);
}

/** The transports git may use, as GIT_ALLOW_PROTOCOL lists them. */
export function allowedProtocols(allowFileSources: boolean): string {
  return ['https', 'http', 'ssh', 'git', ...(allowFileSources ? ['file'] : [])].join(':');
}

/**
 * The commit and ref reach git's command line: checked here again, whatever checked them
 * on the way in (a Build stored before the rules existed must not get past either).
 */
function checkRevision(options: FetchSourceOptions): void {
  const commitIssue = options.commit ? commitProblem(options.commit) : undefined;
  if (commitIssue) {
    throw new BuildFailure(
      'FetchSourceFailed',
      `revision.git.commit ${quoteValue(options.commit ?? '')} ${commitIssue}; refused before running git`,
    );
  }
  const refIssue = options.ref ? gitRefProblem(options.ref) : undefined;
  if (refIssue) {
    throw new BuildFailure(
      'FetchSourceFailed',
      `spec.source.git.ref ${quoteValue(options.ref ?? '')} ${refIssue}; refused before running git`,
    );
  }
}

/** How deep submodules of submodules are followed. */
const MAX_SUBMODULE_DEPTH = 5;

/** `submodule.NAME.url` and `.path` of a `.gitmodules` file, read by git itself. */
async function submoduleEntries(git: SimpleGit): Promise<{ name: string; url?: string; path?: string }[]> {
  let raw: string;
  try {
    raw = await git.raw([
      'config',
      '--file',
      '.gitmodules',
      '--null',
      '--get-regexp',
      '^submodule\\..*\\.(url|path)$',
    ]);
  } catch {
    return []; // no url or path entries: git has nothing to fetch
  }
  const byName = new Map<string, { name: string; url?: string; path?: string }>();
  for (const record of raw.split('\0')) {
    const nl = record.indexOf('\n');
    if (nl < 0) continue;
    const key = record.slice(0, nl);
    const value = record.slice(nl + 1);
    const m = /^submodule\.(.*)\.(url|path)$/s.exec(key);
    if (!m) continue;
    const name = m[1]!;
    const entry = byName.get(name) ?? { name };
    entry[m[2] as 'url' | 'path'] = value;
    byName.set(name, entry);
  }
  return [...byName.values()];
}

/**
 * A submodule URL git may fetch: a transport the source itself may use, or a relative
 * URL (`../lib.git`), which git resolves against the already checked remote and so keeps
 * its transport.
 */
export function submoduleUrlProblem(url: string, allowFileSources: boolean): string | undefined {
  if (url.startsWith('-')) return 'starts with "-"';
  if (url.startsWith('./') || url.startsWith('../')) return undefined;
  if (isAllowedGitUri(url, allowFileSources)) return undefined;
  return allowFileSources
    ? 'uses a transport Slipway does not allow (https, http, ssh, git or file)'
    : 'uses a transport Slipway does not allow (https, http, ssh or git; file:// needs SLIPWAY_ALLOW_FILE_SOURCES)';
}

interface SubmoduleLevel {
  options: FetchSourceOptions;
  env: Record<string, string>;
  /** The repository whose `.gitmodules` is read. */
  dir: string;
  level: number;
}

/**
 * Fetches submodules one level at a time, each level's `.gitmodules` checked against the
 * transport allow-list before git sees it (GIT_ALLOW_PROTOCOL stops the rest in git).
 */
async function updateSubmodules(at: SubmoduleLevel): Promise<void> {
  const { options } = at;
  if (!existsSync(join(at.dir, '.gitmodules'))) return;
  const git = client(options, at.env, at.dir);
  const entries = await submoduleEntries(git);
  const where = relative(options.dir, at.dir) || '.';
  for (const entry of entries) {
    const problem =
      entry.url === undefined ? undefined : submoduleUrlProblem(entry.url, options.allowFileSources);
    if (problem) {
      throw new BuildFailure(
        'FetchSourceFailed',
        `submodule ${quoteValue(entry.name)} in ${where}/.gitmodules: url ${quoteValue(redactUri(entry.url ?? ''))} ${problem}; no submodule was fetched`,
      );
    }
  }
  if (at.level >= MAX_SUBMODULE_DEPTH) {
    options.log(
      `warning: submodules nested deeper than ${MAX_SUBMODULE_DEPTH} levels in ${where} are not fetched`,
    );
    return;
  }
  options.log(`Updating submodules${where === '.' ? '' : ` of ${where}`} ...`);
  await git.raw(['submodule', 'update', '--init', '--depth', '1']);
  for (const entry of entries) {
    if (entry.path === undefined) continue;
    const sub = resolveCheckoutPath({ root: options.dir, from: at.dir, path: entry.path });
    // git refuses submodule paths through links; a path it did not check out has nothing to recurse into.
    if (!sub.ok || !sub.exists) continue;
    await updateSubmodules({ ...at, dir: sub.path, level: at.level + 1 });
  }
}

/** Clones `uri` at `commit` or `ref` into `dir`; returns what was checked out. */
export async function fetchGitSource(options: FetchSourceOptions): Promise<SourceInfo> {
  const { log } = options;
  // Credentials in the URI are never used nor shown (a stored object from before they were
  // refused): git gets the URI without them, everything else sees it redacted.
  const uri = redactUri(options.uri);
  const cloneUri = stripUriCredentials(options.uri);
  if (!isAllowedGitUri(cloneUri, options.allowFileSources)) {
    throw new BuildFailure(
      'FetchSourceFailed',
      `source URI "${uri}" uses a transport Slipway does not allow`,
    );
  }
  if (uriHasCredentials(options.uri))
    log('warning: the source URI carries credentials, which are not used; put them in a sourceSecret');
  checkRevision(options);
  const env = gitEnvironment(options);
  const git = client(options, env);
  const target = options.commit || options.ref || '';
  log(`Cloning "${uri}"${target ? ` at ${target}` : ''} ...`);
  try {
    await git.init();
    // `--` everywhere a value from a BuildConfig, a request or a payload follows: git
    // must never read one as an option (they are checked by checkRevision as well).
    await git.raw(['remote', 'add', '--', 'origin', cloneUri]);
    if (options.commit || FULL_SHA.test(target)) {
      const sha = target;
      try {
        // Protocol v2 servers hand out any reachable commit; older ones only refs.
        await git.raw(['fetch', '--depth', '1', '--', 'origin', sha]);
      } catch {
        log(`Shallow fetch of ${sha} refused by the server; fetching full history`);
        await git.raw(['fetch', '--tags', '--', 'origin']);
      }
      // checkout has no `--end-of-options` in every git; `sha` is hexadecimal (checked).
      await git.raw(['checkout', '-q', '--detach', sha, '--']);
    } else {
      await git.raw(['fetch', '--depth', '1', '--', 'origin', target || 'HEAD']);
      await git.raw(['checkout', '-q', '--detach', 'FETCH_HEAD', '--']);
    }
    await updateSubmodules({ options, env, dir: options.dir, level: 0 });
    const SEP = '\u001f';
    const raw = await git.raw([
      'log',
      '-1',
      `--format=%H${SEP}%an${SEP}%ae${SEP}%cn${SEP}%ce${SEP}%cI${SEP}%B`,
    ]);
    const [commit, an, ae, cn, ce, date, message] = raw.split(SEP);
    const info: SourceInfo = {
      uri,
      commit: commit ?? '',
      author: { name: an ?? '', email: ae ?? '' },
      committer: { name: cn ?? '', email: ce ?? '' },
      date: date ?? '',
      message: (message ?? '').trim(),
    };
    if (options.ref) info.ref = options.ref;
    log(`Commit:\t${info.commit} (${(info.message ?? '').split('\n')[0]})`);
    log(`Author:\t${an} <${ae}>`);
    log(`Date:\t${date}`);
    return info;
  } catch (err) {
    if (options.signal.aborted)
      throw new BuildCancelled('build cancelled while fetching source', { cause: err });
    if (err instanceof BuildFailure) throw err;
    const detail = redactText(errorMessage(err)).trim();
    for (const line of detail.split('\n')) log(line);
    const first =
      detail.split('\n').find((l) => /fatal|error/i.test(l)) ?? detail.split('\n')[0] ?? 'git failed';
    throw new BuildFailure('FetchSourceFailed', `Failed to fetch the input source: ${first}`, { cause: err });
  }
}

/** The options {@link resolveGitCommit} needs: the fetch's own, with its log optional. */
export type ResolveCommitOptions = Omit<FetchSourceOptions, 'log'> & { log?: (line: string) => void };

/**
 * The full commit id a fetch of these options would check out, learnt without cloning:
 * the commit itself when it is a full id, otherwise the ref (or the remote's HEAD) as
 * `git ls-remote` lists it, with git fetch's order of preference (the name itself,
 * `refs/NAME`, `refs/tags/NAME` peeled to its commit, `refs/heads/NAME`). Undefined when
 * that cannot be told without a clone (an abbreviated commit, a ref ls-remote does not
 * list) or when git fails: the fetch then decides, and reports any error itself.
 */
export async function resolveGitCommit(options: ResolveCommitOptions): Promise<string | undefined> {
  const target = options.commit || options.ref || 'HEAD';
  if (FULL_SHA.test(target)) return target.toLowerCase();
  if (options.commit) return undefined;
  const cloneUri = stripUriCredentials(options.uri);
  if (!isAllowedGitUri(cloneUri, options.allowFileSources)) return undefined;
  try {
    checkRevision({ ...options, log: () => undefined });
  } catch {
    return undefined;
  }
  const env = gitEnvironment({ ...options, log: () => undefined });
  try {
    const out = await client({ ...options, log: () => undefined }, env).raw([
      'ls-remote',
      '--',
      cloneUri,
      target,
      `${target}^{}`,
    ]);
    const refs = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [sha, name] = line.split('\t');
      if (sha && name && FULL_SHA.test(sha)) refs.set(name, sha.toLowerCase());
    }
    const tag = `refs/tags/${target}`;
    const candidates = [target, `refs/${target}`, `${tag}^{}`, tag, `refs/heads/${target}`];
    for (const name of candidates) {
      const sha = refs.get(name);
      if (sha) return sha;
    }
    return undefined;
  } catch (err) {
    options.log?.(
      `Could not resolve ${target} without cloning (${redactText(errorMessage(err)).split('\n')[0]})`,
    );
    return undefined;
  }
}
