/**
 * The real stack for integration tests: a Redis and a docker-registry on free loopback
 * ports, and git servers over real repositories. Each test file starts its own and
 * stops it afterwards.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';

export const BASE_IMAGE = process.env.SLIPWAY_BASE_IMAGE ?? 'slipway/debian:bookworm';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
}

export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

export function tempDir(prefix = 'slipway-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface RedisHandle {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /** Restarts on the same port and data directory (AOF replays everything). */
  restart(): Promise<void>;
}

export async function startRedis(): Promise<RedisHandle> {
  const port = await freePort();
  const dir = tempDir('slipway-redis-');
  let child: ChildProcess;
  const launch = async (): Promise<void> => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', ''],
      { stdio: 'ignore' },
    );
    await waitFor('redis', async () => {
      const r = new Redis(port, '127.0.0.1', {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      r.on('error', () => undefined); // refused until redis-server listens: expected while probing
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    });
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stopChild(child);
      await launch();
    },
  };
}

export interface RegistryHandle {
  /** `127.0.0.1:PORT` */
  host: string;
  port: number;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Send Distribution notifications here, with this bearer token. */
  notifyUrl?: string;
  notifyToken?: string;
  /** Require basic auth: htpasswd lines (bcrypt). */
  htpasswd?: string;
}

export async function startRegistry(options: RegistryOptions = {}): Promise<RegistryHandle> {
  const port = await freePort();
  const dir = tempDir('slipway-registry-');
  const lines = [
    'version: 0.1',
    'log: { level: error }',
    'storage:',
    `  filesystem: { rootdirectory: ${join(dir, 'data')} }`,
    '  delete: { enabled: true }',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (options.htpasswd) {
    writeFileSync(join(dir, 'htpasswd'), options.htpasswd);
    lines.push('auth:', `  htpasswd: { realm: slipway-test, path: ${join(dir, 'htpasswd')} }`);
  }
  if (options.notifyUrl) {
    lines.push(
      'notifications:',
      '  endpoints:',
      '    - name: slipway',
      `      url: ${options.notifyUrl}`,
      `      headers: { Authorization: ["Bearer ${options.notifyToken ?? ''}"] }`,
      '      timeout: 2s',
      '      threshold: 5',
      '      backoff: 1s',
    );
  }
  writeFileSync(join(dir, 'config.yml'), lines.join('\n') + '\n');
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  await waitFor('registry', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v2/`);
    return res.status === 200 || res.status === 401;
  });
  return {
    host: `127.0.0.1:${port}`,
    port,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Slipway Test',
      GIT_AUTHOR_EMAIL: 'test@slipway.invalid',
      GIT_COMMITTER_NAME: 'Slipway Test',
      GIT_COMMITTER_EMAIL: 'test@slipway.invalid',
    },
  }).trim();
}

export interface GitServer {
  /** Creates (or updates) bare repo `name` with one commit of `files` on `branch`; returns the commit id. */
  commit(
    name: string,
    files: Record<string, string>,
    options?: { branch?: string; message?: string; tag?: string },
  ): string;
  /** The URL a BuildConfig uses for repo `name`. */
  url(name: string): string;
  root: string;
  stop(): Promise<void>;
}

export function makeCommitter(root: string): GitServer['commit'] {
  return (name, files, options = {}) => {
    const branch = options.branch ?? 'main';
    const bare = join(root, `${name}.git`);
    const work = mkdtempSync(join(tmpdir(), 'slipway-work-'));
    try {
      if (!existsSync(join(bare, 'HEAD'))) execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
      git(['init', '-q', '-b', branch], work);
      git(['remote', 'add', 'origin', bare], work);
      try {
        git(['fetch', '-q', 'origin', branch], work);
        git(['checkout', '-q', '-B', branch, 'FETCH_HEAD'], work);
      } catch {
        // new branch
      }
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(work, path)), { recursive: true });
        writeFileSync(join(work, path), content);
      }
      git(['add', '-A'], work);
      git(
        ['commit', '-q', '--allow-empty', '-m', options.message ?? `update ${Object.keys(files).join(', ')}`],
        work,
      );
      if (options.tag) git(['tag', options.tag], work);
      git(['push', '-q', '--tags', 'origin', `HEAD:refs/heads/${branch}`], work);
      return git(['rev-parse', 'HEAD'], work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  };
}

/** Serves every bare repo under a temporary root with `git daemon` on loopback (git://). */
export async function startGitDaemon(): Promise<GitServer> {
  const root = tempDir('slipway-git-');
  const port = await freePort();
  const child = spawn(
    'git',
    [
      'daemon',
      '--export-all',
      `--base-path=${root}`,
      '--reuseaddr',
      '--listen=127.0.0.1',
      `--port=${port}`,
      root,
    ],
    { stdio: 'ignore' },
  );
  await waitFor('git daemon', () => portAnswers(port));
  return {
    root,
    commit: makeCommitter(root),
    url: (name) => `git://127.0.0.1:${port}/${name}.git`,
    stop: async () => {
      await stopChild(child);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * Serves bare repos over smart HTTP (`git http-backend` as CGI) behind HTTP basic auth,
 * for private-repository tests.
 */
export async function startGitHttpServer(credentials: {
  username: string;
  password: string;
}): Promise<GitServer> {
  const root = tempDir('slipway-githttp-');
  const expected =
    'Basic ' + Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
  const server: Server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="slipway-test"' }).end('auth required\n');
      return;
    }
    gitHttpBackend(root, req, res, credentials.username);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : 0;
  return {
    root,
    commit: makeCommitter(root),
    url: (name) => `http://127.0.0.1:${port}/${name}.git`,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Answers one smart-HTTP git request for the bare repos under `root` with `git http-backend` (CGI). */
export function gitHttpBackend(
  root: string,
  req: IncomingMessage,
  res: ServerResponse,
  remoteUser = 'anonymous',
): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const cgi = spawn('git', ['http-backend'], {
    env: {
      ...process.env,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: remoteUser,
      HTTP_GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
    },
  });
  req.pipe(cgi.stdin);
  let head = Buffer.alloc(0);
  let headerDone = false;
  cgi.stdout.on('data', (chunk: Buffer) => {
    if (headerDone) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headerDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString().split('\r\n')) {
      const i = line.indexOf(':');
      const k = line.slice(0, i).trim();
      const v = line.slice(i + 1).trim();
      if (k.toLowerCase() === 'status') status = parseInt(v, 10);
      else res.setHeader(k, v);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  cgi.on('close', () => res.end());
}

export interface GitSshServer extends GitServer {
  /** The private key (OpenSSH format) sshd accepts, for a `kubernetes.io/ssh-auth` Secret. */
  privateKey: string;
}

/**
 * Serves bare repos over SSH: a real `sshd` on a loopback port with its own host key,
 * accepting one key pair made for the test (no password logins).
 */
export async function startGitSshServer(): Promise<GitSshServer> {
  const root = tempDir('slipway-gitssh-');
  const port = await freePort();
  const user = userInfo().username;
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(root, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(root, 'client_key')]);
  writeFileSync(join(root, 'authorized_keys'), readFileSync(join(root, 'client_key.pub')));
  writeFileSync(
    join(root, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(root, 'host_key')}`,
      `AuthorizedKeysFile ${join(root, 'authorized_keys')}`,
      `PidFile ${join(root, 'sshd.pid')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      '',
    ].join('\n'),
  );
  // sshd wants its privilege-separation directory to exist.
  mkdirSync('/run/sshd', { recursive: true });
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(root, 'sshd_config')], { stdio: 'ignore' });
  await waitFor('sshd', () => portAnswers(port));
  return {
    root,
    privateKey: readFileSync(join(root, 'client_key'), 'utf8'),
    commit: makeCommitter(join(root, 'repos')),
    url: (name) => `ssh://${user}@127.0.0.1:${port}${join(root, 'repos', `${name}.git`)}`,
    stop: async () => {
      await stopChild(child);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
