/**
 * `slipway server` as a child process on a test's own Redis, for tests that must see the
 * server die if an input kills it. It runs `dist/` (npm test builds first) with a capped
 * V8 heap, so an input that makes the server balloon shows up as a crash, not as a slow
 * machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { freePort, waitFor } from '../support/stack.js';

export interface ServerProcess {
  url: string;
  token: string;
  githubSecret: string;
  registryToken: string;
  child: ChildProcess;
  /** Everything the process printed. */
  output(): string;
  alive(): boolean;
  /** Resident set size in bytes, from /proc. */
  rssBytes(): number;
  /** Fetches with the admin token and a deadline; a hang is an error, not a stuck test. */
  fetch(path: string, init?: RequestInit & { timeoutMs?: number }): Promise<Response>;
  stop(): Promise<void>;
}

export const SERVER_HEAP_MB = 512;

export async function startServerProcess(options: { redisUrl: string }): Promise<ServerProcess> {
  const port = await freePort();
  const token = `fuzz-${randomUUID()}`;
  const githubSecret = `gh-${randomUUID()}`;
  const registryToken = `reg-${randomUUID()}`;
  let output = '';
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${SERVER_HEAP_MB}`, 'bin/slipway.js', 'server'],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        SLIPWAY_LOG_LEVEL: 'error',
        SLIPWAY_REDIS_URL: options.redisUrl,
        SLIPWAY_LISTEN: `127.0.0.1:${port}`,
        SLIPWAY_ADMIN_TOKEN: token,
        SLIPWAY_GITHUB_SECRET: githubSecret,
        SLIPWAY_REGISTRY_NOTIFY_TOKEN: registryToken,
        SLIPWAY_REGISTRY: '127.0.0.1:5000',
      },
    },
  );
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  await waitFor(
    'the server to listen',
    async () => {
      if (!alive()) throw new Error(`the server exited: ${output}`);
      return output.includes('listening on');
    },
    30000,
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    token,
    githubSecret,
    registryToken,
    child,
    output: () => output,
    alive,
    rssBytes: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
      return Number(kb ?? 0) * 1024;
    },
    fetch: (path, init = {}) => {
      const { timeoutMs = 20000, headers, ...rest } = init;
      return fetch(`${url}${path}`, {
        ...rest,
        headers: { authorization: `Bearer ${token}`, ...(headers as Record<string, string> | undefined) },
        signal: AbortSignal.timeout(timeoutMs),
      });
    },
    stop: async () => {
      if (!alive()) return;
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => child.kill('SIGKILL'), 8000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      });
    },
  };
}

/** The Status a 4xx/5xx answer carries. */
export async function statusOf(
  res: Response,
): Promise<{ code: number; reason?: string; message?: string; kind?: string }> {
  const text = await res.text();
  try {
    return JSON.parse(text) as { code: number; reason?: string; message?: string; kind?: string };
  } catch {
    return { code: res.status, message: text };
  }
}
