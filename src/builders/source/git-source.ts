/**
 * Fetches a build's git source into a directory with simple-git: shallow where git
 * allows it, credentials from the BuildConfig's sourceSecret handed to git through its
 * environment (never in the URL, so they never reach a log).
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { BuildCancelled, BuildFailure, errorMessage } from '../../core/errors.js';
import { redactText, redactUri, stripUriCredentials, uriHasCredentials } from '../../core/redact.js';
import { isAllowedGitUri } from '../../core/validation.js';
import type { SourceInfo } from '../types.js';

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

function client(options: FetchSourceOptions, env: Record<string, string>): SimpleGit {
  return simpleGit({
    baseDir: options.dir,
    abort: options.signal,
    allowEnvironment: Object.keys(env).filter((k) => k.startsWith('GIT_')),
    // Both are set by Slipway itself above (the key path, fixed options), never from user input.
    unsafe: { allowUnsafeSshCommand: true, allowUnsafeConfigEnvCount: true },
  }).env(env);
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
  const env = gitEnvironment(options);
  const git = client(options, env);
  const target = options.commit ?? options.ref ?? '';
  log(`Cloning "${uri}"${target ? ` at ${target}` : ''} ...`);
  try {
    await git.init();
    await git.addRemote('origin', cloneUri);
    if (options.commit || FULL_SHA.test(target)) {
      const sha = options.commit ?? target;
      try {
        // Protocol v2 servers hand out any reachable commit; older ones only refs.
        await git.fetch(['--depth', '1', 'origin', sha]);
      } catch {
        log(`Shallow fetch of ${sha} refused by the server; fetching full history`);
        await git.fetch(['--tags', 'origin']);
      }
      await git.checkout(['-q', '--detach', sha]);
    } else {
      await git.fetch(['--depth', '1', 'origin', target || 'HEAD']);
      await git.checkout(['-q', '--detach', 'FETCH_HEAD']);
    }
    if (existsSync(join(options.dir, '.gitmodules'))) {
      log('Updating submodules ...');
      await git.subModule(['update', '--init', '--recursive', '--depth', '1']);
    }
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
    const detail = redactText(errorMessage(err)).trim();
    for (const line of detail.split('\n')) log(line);
    const first =
      detail.split('\n').find((l) => /fatal|error/i.test(l)) ?? detail.split('\n')[0] ?? 'git failed';
    throw new BuildFailure('FetchSourceFailed', `Failed to fetch the input source: ${first}`, { cause: err });
  }
}
