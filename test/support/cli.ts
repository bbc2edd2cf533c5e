/**
 * The built `slipway` CLI run as a user runs it, against a test server: one child process
 * per call, with its own credentials file (none by default, so nothing of the machine's
 * `slipway up` leaks in) and standard input given or closed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  server: string;
  token: string;
  /** `-n`; left out, the CLI's current project (or "default") applies. */
  namespace?: string;
  /** The credentials file; a fresh empty directory's by default. */
  credentials?: string;
}

/** A function running `slipway ARGS…` with `options` (read at each call: the server may start later). */
export function cliRunner(options: () => CliOptions): (args: string[], input?: string) => Promise<CliRun> {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-cli-'));
  return (args, input) =>
    new Promise((resolve) => {
      const o = options();
      const child = spawn(
        process.execPath,
        [
          'bin/slipway.js',
          '--server',
          o.server,
          '--token',
          o.token,
          ...(o.namespace === undefined ? [] : ['-n', o.namespace]),
          ...args,
        ],
        { env: { ...process.env, SLIPWAY_CREDENTIALS: o.credentials ?? join(dir, 'none.json') } },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input ?? '');
    });
}
