/**
 * The Redis `slipway up` starts (src/cli/local-stack.ts), with a real redis-server on a
 * free port: it refuses unauthenticated commands, listens on loopback only, keeps its
 * generated password in a 0600 file that the next start reuses (the AOF data stays
 * reachable), and the password is never in what `up` prints. A Redis already running
 * without a password is reported plainly.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redactUrlCredentials } from '../../src/core/config.js';
import { ensureRedis, probeRedisAuth } from '../../src/cli/local-stack.js';
import { freePort, startRedis, tempDir, waitFor } from '../support/stack.js';

const cli = (args: string[]): string =>
  execFileSync('redis-cli', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function stopDaemon(dataDir: string): void {
  const pid = Number(readFileSync(join(dataDir, 'redis', 'redis.pid'), 'utf8').trim());
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

test("up's Redis wants a password, binds loopback only, and a second start reuses the password and the data", async () => {
  const dataDir = tempDir('slipway-up-redis-');
  const port = await freePort();
  let generated = 0;
  const generate = (): string => `pw-${++generated}-${Math.random().toString(36).slice(2)}`;
  try {
    const first = await ensureRedis({ redisUrl: `redis://127.0.0.1:${port}`, dataDir, generate });
    const password = readFileSync(join(dataDir, 'redis', 'password'), 'utf8').trim();
    expect(first.url).toBe(`redis://:${password}@127.0.0.1:${port}`);
    expect(first.message).not.toContain(password);
    expect(redactUrlCredentials(first.url)).toBe(`redis://***@127.0.0.1:${port}`);
    expect(statSync(join(dataDir, 'redis', 'password')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'redis', 'redis.conf')).mode & 0o777).toBe(0o600);
    // The password is not on redis-server's command line, where `ps` would show it.
    const pid = readFileSync(join(dataDir, 'redis', 'redis.pid'), 'utf8').trim();
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(password);

    // A raw client without the password is refused.
    expect(cli(['-p', String(port), 'ping'])).toMatch(/^NOAUTH/);
    expect(await probeRedisAuth('127.0.0.1', port, undefined)).toBe('password-required');
    // With it: loopback only, protected mode on.
    const redis = new Redis(first.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      expect(await redis.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
      expect(await redis.config('GET', 'protected-mode')).toEqual(['protected-mode', 'yes']);
      await redis.set('kept', 'across restarts');
    } finally {
      redis.disconnect();
    }
    const listening = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
    // The local-address column of every listening socket on the port: loopback, nothing else.
    const local = listening
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[3]);
    expect(local).toEqual([`127.0.0.1:${port}`]);

    // Still running: the next `up` finds it and gets in with the saved password.
    const again = await ensureRedis({ redisUrl: `redis://127.0.0.1:${port}`, dataDir, generate });
    expect(again.url).toBe(first.url);
    expect(again.message).toContain('password-protected');
    // Stopped: the next `up` starts it with the same password, over the same AOF.
    stopDaemon(dataDir);
    await waitFor(
      'redis to stop',
      async () => (await probeRedisAuth('127.0.0.1', port, password).catch(() => 'down')) === 'down',
      15000,
    );
    const restarted = await ensureRedis({ redisUrl: `redis://127.0.0.1:${port}`, dataDir, generate });
    expect(restarted.url).toBe(first.url);
    expect(generated).toBe(1);
    const back = new Redis(restarted.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await back.connect();
    try {
      expect(await back.get('kept')).toBe('across restarts');
    } finally {
      back.disconnect();
    }
  } finally {
    stopDaemon(dataDir);
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a Redis already running without a password is used, and up says so plainly', async () => {
  const plain = await startRedis();
  const dataDir = tempDir('slipway-up-redis-');
  try {
    const found = await ensureRedis({ redisUrl: plain.url, dataDir, generate: () => 'unused' });
    expect(found.url).toBe(plain.url);
    expect(found.message).toContain(`WARNING: Redis at 127.0.0.1:${plain.port} answers without a password`);
    expect(found.message).toContain('SLIPWAY_REDIS_URL');
  } finally {
    await plain.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a Redis that wants a password Slipway does not have stops up with an error naming SLIPWAY_REDIS_URL', async () => {
  const dataDir = tempDir('slipway-up-redis-');
  const port = await freePort();
  try {
    await ensureRedis({ redisUrl: `redis://127.0.0.1:${port}`, dataDir, generate: () => 'the-right-one' });
    await expect(
      ensureRedis({ redisUrl: `redis://:wrong@127.0.0.1:${port}`, dataDir, generate: () => 'x' }),
    ).rejects.toThrow(/refused the password in SLIPWAY_REDIS_URL/);
  } finally {
    stopDaemon(dataDir);
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('`slipway up` starts its Redis with a password, serves on it, and never prints the password (the built CLI)', async () => {
  const home = tempDir('slipway-up-home-');
  const dataDir = join(home, 'data');
  const redisPort = await freePort();
  const listen = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, ['bin/slipway.js', 'up'], {
    env: {
      ...process.env,
      HOME: home,
      SLIPWAY_DATA_DIR: dataDir,
      SLIPWAY_LISTEN: listen,
      SLIPWAY_ROUTER_LISTEN: `127.0.0.1:${await freePort()}`,
      SLIPWAY_REGISTRY: `127.0.0.1:${await freePort()}`,
      SLIPWAY_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      SLIPWAY_ADMIN_TOKEN: `admin-${Math.random().toString(36).slice(2)}`,
      SLIPWAY_LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  try {
    // The server answers ready once it reached Redis with the password (pushing the builder
    // images, which `up` does next, takes minutes on a fresh registry: not waited for).
    await waitFor(
      'the server up started to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`slipway up exited ${child.exitCode}:\n${out}`);
        return (await fetch(`http://${listen}/readyz`).catch(() => undefined))?.status === 200;
      },
      90000,
      200,
    );
    const password = readFileSync(join(dataDir, 'redis', 'password'), 'utf8').trim();
    expect(out).toContain(`started redis-server on 127.0.0.1:${redisPort} (listening on 127.0.0.1 only`);
    expect(out).not.toContain(password);
    expect(cli(['-p', String(redisPort), 'ping'])).toMatch(/^NOAUTH/);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    // `up` leaves Redis and the registry running for the next `up`: this test stops them.
    for (const pidFile of [join(dataDir, 'redis', 'redis.pid'), join(dataDir, 'registry', 'registry.pid')]) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
      } catch {
        // not started, or already gone
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    rmSync(home, { recursive: true, force: true });
  }
}, 120000);
