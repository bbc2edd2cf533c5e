/**
 * `slipway up`'s local stack: starts Redis (AOF on) and the image registry when they
 * do not answer, each as a background daemon with its data under the data directory,
 * so a second `up` finds and reuses them.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseHostPort } from '../core/config.js';

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

/** Starts redis-server for `redisUrl` if nothing answers there; returns what it did. */
export async function ensureRedis(redisUrl: string, dataDir: string): Promise<string> {
  const url = new URL(redisUrl);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await answers(host, port)) return `Redis answers at ${redisUrl}`;
  if (!LOOPBACK.has(host))
    throw new Error(`Redis at ${redisUrl} does not answer, and it is not on this machine to start`);
  const dir = join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  daemon(
    'redis-server',
    ['--port', String(port), '--bind', host, '--appendonly', 'yes', '--dir', dir],
    join(dir, 'redis.log'),
    join(dir, 'redis.pid'),
  );
  await waitUntil('redis-server', () => answers(host, port));
  return `started redis-server on ${host}:${port} (data in ${dir}, AOF on, pid in ${join(dir, 'redis.pid')})`;
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
