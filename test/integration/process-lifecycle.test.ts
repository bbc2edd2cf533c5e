/**
 * `slipway worker` and `slipway server` as processes: SIGTERM stops them cleanly, and
 * still stops them when Redis has gone away (a stop signal must stop).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, startRedis, startRegistry, waitFor, type RegistryHandle } from '../support/stack.js';

let registry: RegistryHandle;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => registry?.stop());

function start(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['bin/slipway.js', ...args], {
    env: { ...process.env, SLIPWAY_LOG_LEVEL: 'silent', SLIPWAY_REGISTRY: registry.host, ...env },
  });
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });
}

test('SIGTERM stops a server with exit code 0', async () => {
  const redis = await startRedis();
  const port = await freePort();
  try {
    const { child, output } = start(['server'], {
      SLIPWAY_REDIS_URL: redis.url,
      SLIPWAY_LISTEN: `127.0.0.1:${port}`,
    });
    await waitFor('the server to listen', async () => output().includes('listening on'), 20000);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  } finally {
    await redis.stop();
  }
});

test('SIGTERM stops a worker even when Redis has gone away', async () => {
  const redis = await startRedis();
  const { child, output } = start(['worker'], {
    SLIPWAY_REDIS_URL: redis.url,
    SLIPWAY_ROUTER_LISTEN: `127.0.0.1:${await freePort()}`,
  });
  try {
    await waitFor('the worker to start', async () => output().includes('taking builds'), 20000);
    await redis.stop();
    const started = Date.now();
    child.kill('SIGTERM');
    const code = await exited(child);
    expect(code === 0 || code === 1).toBe(true);
    expect(Date.now() - started).toBeLessThan(30000);
  } finally {
    child.kill('SIGKILL');
  }
});
