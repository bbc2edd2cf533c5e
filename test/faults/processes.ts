/**
 * Real processes for the fault tests: `slipway worker` / `slipway server` started from
 * bin/slipway.js (so `npm run build` first), and a Redis with AOF fsynced on every write
 * that a test can SIGKILL and start again on the same port and data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { freePort, tempDir, waitFor } from '../support/stack.js';

export interface SlipwayProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited(): Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

export function startSlipwayProcess(args: string[], env: Record<string, string>): SlipwayProcess {
  let output = '';
  const child = spawn(process.execPath, ['bin/slipway.js', ...args], {
    env: { ...process.env, SLIPWAY_LOG_LEVEL: 'info', ...env },
  });
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited: () => exit,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Starts `slipway worker` and waits until it takes jobs. */
export async function startWorkerProcess(env: Record<string, string>): Promise<SlipwayProcess> {
  const p = startSlipwayProcess(['worker'], {
    SLIPWAY_ROUTER_LISTEN: `127.0.0.1:${await freePort()}`,
    ...env,
  });
  await waitFor('the worker process to start', async () => p.output().includes('taking builds'), 30000);
  return p;
}

export interface AofRedis {
  url: string;
  port: number;
  /** SIGKILL: no shutdown save, only what the AOF already holds survives. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A Redis that fsyncs its AOF on every write, so whatever it acknowledged survives a SIGKILL. */
export async function startAofRedis(): Promise<AofRedis> {
  const port = await freePort();
  const dir = tempDir('slipway-aof-redis-');
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    );
    await waitFor('redis', async () => {
      const r = new Redis(port, '127.0.0.1', {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      r.on('error', () => undefined); // refused until it listens
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    });
  };
  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
