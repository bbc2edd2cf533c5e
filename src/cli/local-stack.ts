/**
 * `slipway up`'s local stack: starts Redis (AOF on, a generated password, loopback only)
 * and the image registry when they do not answer, each as a background daemon with its
 * data under the data directory, so a second `up` finds and reuses them.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseHostPort, redactUrlCredentials } from '../core/config.js';

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, host, () => {
      sock.destroy();
      resolve(true);
    });
    sock.on('error', () => resolve(false));
  });
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not start within ${timeoutMs / 1000}s`);
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Starts a background daemon and writes its pid beside its log, for `kill $(cat …)`. */
function daemon(command: string, args: string[], logFile: string, pidFile: string): void {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out] });
  child.on('error', () => undefined);
  if (child.pid !== undefined) writeFileSync(pidFile, `${child.pid}\n`);
  child.unref();
}

/** What Redis says to a first command: whether it wants a password, and whether ours is right. */
export type RedisAuthState = 'ok' | 'no-password' | 'password-required' | 'wrong-password';

function resp(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/**
 * Asks the Redis at host:port, in its own protocol, whether `password` lets us in (or, with
 * no password, whether it needs one). One command, one reply line; no client library, so
 * a Redis that wants a password is told apart from one that does not answer.
 */
export function probeRedisAuth(
  host: string,
  port: number,
  password: string | undefined,
): Promise<RedisAuthState> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, host);
    let reply = '';
    sock.setTimeout(5000, () =>
      sock.destroy(new Error(`Redis at ${host}:${port} did not answer within 5 s`)),
    );
    sock.on('connect', () => sock.write(resp(password === undefined ? ['PING'] : ['AUTH', password])));
    sock.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const nl = reply.indexOf('\r\n');
      if (nl < 0) return;
      const line = reply.slice(0, nl);
      sock.destroy();
      if (line === '+OK') resolve('ok');
      else if (line === '+PONG') resolve('no-password');
      else if (line.startsWith('-NOAUTH')) resolve('password-required');
      else if (/without any password configured|no password is set/i.test(line)) resolve('no-password');
      else if (line.startsWith('-WRONGPASS') || /invalid (username-)?password/i.test(line))
        resolve('wrong-password');
      else reject(new Error(`Redis at ${host}:${port} answered ${line.slice(0, 200)}`));
    });
    sock.on('error', reject);
  });
}

/**
 * The password of the Redis `up` starts: generated once, kept in the data directory (mode
 * 0600) and reused, so a later `up` reaches the same Redis and its AOF data.
 */
export function redisPassword(dataDir: string, generate: () => string): string {
  const dir = join(dataDir, 'redis');
  const file = join(dir, 'password');
  if (existsSync(file)) {
    const saved = readFileSync(file, 'utf8').trim();
    if (saved) return saved;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = generate();
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

function withPassword(redisUrl: string, password: string): string {
  const url = new URL(redisUrl);
  url.username = '';
  url.password = password;
  return url.toString().replace(/\/$/, '');
}

/** `redis://:secret@host:port` → `redis://***@host:port`, for anything printed or logged. */
export function redactRedisUrl(redisUrl: string): string {
  return redactUrlCredentials(redisUrl);
}

export interface EnsureRedisOptions {
  /** SLIPWAY_REDIS_URL; a password in it is used as given. */
  redisUrl: string;
  dataDir: string;
  /** Makes the password of a Redis `up` starts. */
  generate: () => string;
}

export interface EnsuredRedis {
  /** The URL to connect with, password included: never print it, print `message`. */
  url: string;
  message: string;
}

/**
 * Starts redis-server for `redisUrl` if nothing answers there: listening on the URL's
 * loopback address only, protected mode on, with a generated password (redis.conf and the
 * password file are mode 0600, so the password is not on a command line for `ps` to show).
 * A Redis that already answers is used as it is; one without a password is reported.
 */
export async function ensureRedis(options: EnsureRedisOptions): Promise<EnsuredRedis> {
  const url = new URL(options.redisUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(url.port || 6379);
  const shown = `${host}:${port}`;
  const given = url.password ? decodeURIComponent(url.password) : undefined;
  const dir = join(options.dataDir, 'redis');
  if (await answers(host, port)) {
    const saved = existsSync(join(dir, 'password'))
      ? redisPassword(options.dataDir, options.generate)
      : undefined;
    const password = given ?? saved;
    const state = await probeRedisAuth(host, port, password);
    if (state === 'ok')
      return {
        url: withPassword(options.redisUrl, password!),
        message: `Redis answers at ${shown} (password-protected)`,
      };
    if (state === 'no-password') {
      const plain = new URL(options.redisUrl);
      plain.password = '';
      plain.username = '';
      return {
        url: plain.toString().replace(/\/$/, ''),
        message: [
          `WARNING: Redis at ${shown} answers without a password: any process on this machine can read and change`,
          "  Slipway's resources, Secrets and queues. Slipway did not start it; stop it and run `slipway up` again to",
          '  start one with a generated password, or set its requirepass and put it in SLIPWAY_REDIS_URL',
          '  (redis://:PASSWORD@HOST:PORT).',
        ].join('\n'),
      };
    }
    throw new Error(
      state === 'wrong-password'
        ? `Redis at ${shown} refused the password ${given !== undefined ? 'in SLIPWAY_REDIS_URL' : `saved in ${join(dir, 'password')}`}; set SLIPWAY_REDIS_URL=redis://:PASSWORD@${shown} with its password`
        : `Redis at ${shown} requires a password; set SLIPWAY_REDIS_URL=redis://:PASSWORD@${shown}`,
    );
  }
  if (!LOOPBACK.has(host))
    throw new Error(`Redis at ${shown} does not answer, and it is not on this machine to start`);
  const password = given ?? redisPassword(options.dataDir, options.generate);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bind = host === 'localhost' ? '127.0.0.1 -::1' : host;
  const conf = join(dir, 'redis.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      `bind ${bind}`,
      'protected-mode yes',
      `requirepass "${password.replace(/["\\]/g, (c) => `\\${c}`)}"`,
      'appendonly yes',
      `dir "${dir}"`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  daemon('redis-server', [conf], join(dir, 'redis.log'), join(dir, 'redis.pid'));
  await waitUntil('redis-server', () => answers(host, port));
  return {
    url: withPassword(options.redisUrl, password),
    message: `started redis-server on ${shown} (listening on ${host} only, password in ${join(dir, 'password')}, data in ${dir}, AOF on, pid in ${join(dir, 'redis.pid')})`,
  };
}

export interface RegistryNotifications {
  url: string;
  token: string;
}

/**
 * The bearer token the local registry sends with its notifications. It is written into
 * the registry's config when `up` starts the registry, and the registry keeps running
 * after `up` exits, so a later `up` must use the same token: it is kept in the data
 * directory (mode 0600) and read back. SLIPWAY_REGISTRY_NOTIFY_TOKEN, when set, wins.
 */
export function registryNotifyToken(
  dataDir: string,
  configured: string | undefined,
  generate: () => string,
): string {
  const dir = join(dataDir, 'registry');
  const file = join(dir, 'notify-token');
  if (configured) return configured;
  if (existsSync(file)) {
    const saved = readFileSync(file, 'utf8').trim();
    if (saved) return saved;
  }
  mkdirSync(dir, { recursive: true });
  const token = generate();
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** Starts docker-registry on `registry` (HOST:PORT) if nothing answers there. */
export async function ensureRegistry(
  registry: string,
  dataDir: string,
  notify?: RegistryNotifications,
): Promise<string> {
  const { host, port } = parseHostPort(registry);
  if (await answers(host, port)) {
    // Slipway configured the notifications of a registry it started; one started by
    // someone else (Debian's docker-registry service, say) must be told by hand.
    const ours = existsSync(join(dataDir, 'registry', 'config.yml'));
    return ours
      ? `registry answers at ${registry}`
      : `registry answers at ${registry} (not started by Slipway: for ImageChange triggers on docker push, configure its notifications to POST to ${notify?.url ?? '/webhooks/registry'} with "Authorization: Bearer <SLIPWAY_REGISTRY_NOTIFY_TOKEN>")`;
  }
  if (!LOOPBACK.has(host))
    throw new Error(`the registry at ${registry} does not answer, and it is not on this machine to start`);
  const dir = join(dataDir, 'registry');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const lines = [
    'version: 0.1',
    'log: { level: warn }',
    'storage:',
    `  filesystem: { rootdirectory: ${join(dir, 'data')} }`,
    '  delete: { enabled: true }',
    'http:',
    `  addr: ${host}:${port}`,
  ];
  if (notify) {
    lines.push(
      'notifications:',
      '  endpoints:',
      '    - name: slipway',
      `      url: ${notify.url}`,
      `      headers: { Authorization: ["Bearer ${notify.token}"] }`,
      '      timeout: 5s',
      '      threshold: 10',
      '      backoff: 2s',
    );
  }
  writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`, { mode: 0o600 });
  daemon(
    'docker-registry',
    ['serve', join(dir, 'config.yml')],
    join(dir, 'registry.log'),
    join(dir, 'registry.pid'),
  );
  await waitUntil('docker-registry', () => answers(host, port));
  return `started docker-registry on ${registry} (data in ${dir}, notifying ${notify ? notify.url : 'nobody'}, pid in ${join(dir, 'registry.pid')})`;
}
