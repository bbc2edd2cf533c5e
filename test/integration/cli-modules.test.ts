/**
 * The verbs that talk to the API start fast because they load only commander, the HTTP
 * client and output formatting (docs/cli.md). Each verb here runs as a user runs it (the
 * built bin, a real server with a real BuildConfig and Build) under a Node loader hook
 * that records every module the process resolves (ESM) or requires (CommonJS), and the
 * test fails if one of them is the runtime or a heavy package: a static import of
 * src/runtime.ts, @kubernetes/client-node, BullMQ, Docker's client… from main.ts or from
 * anything it imports. Not a timing test: bench/cli-start.ts measures the time.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BC_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

// Another checkout's built CLI can be checked the same way (it is how this test was shown to
// fail on the CLI that imported the runtime at start-up).
const BIN = process.env.SLIPWAY_TEST_CLI_BIN ?? 'bin/slipway.js';
let s: TestSlipway;
const ns = `climod-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'slipway-cli-modules-'));

// Runs in the loader thread: every resolved URL, one a line, appended to the record file.
const HOOKS = `import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(out, resolved.url + '\\n');
  return resolved;
}
`;
// Preloaded with --import: registers the hooks, and at exit adds every CommonJS module
// required by anything (a CommonJS package's own requires never reach the ESM hooks).
const REGISTER = `import { createRequire, register } from 'node:module';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const out = process.env.SLIPWAY_TEST_MODULE_RECORD;
register('./hooks.mjs', import.meta.url, { data: { out } });
process.on('exit', () => {
  const files = Object.keys(createRequire(import.meta.url).cache);
  appendFileSync(out, files.map((f) => pathToFileURL(f).href + '\\n').join(''));
});
`;

/** What no API verb may load, with why, for the failure message. */
const FORBIDDEN: [RegExp, string][] = [
  [/\/dist\/runtime\.js$/, 'the runtime'],
  [/\/dist\/cli\/(run-commands|local-stack|sample)\.js$/, "up/server/worker's own modules"],
  [/\/dist\/core\/(config|logger|metrics)\.js$/, 'server configuration, logging or metrics'],
  [/\/dist\/(api|queue|store|builders|strategies|registry|webhooks|triggers)\//, 'a pipeline stage'],
  [
    /\/node_modules\/(@kubernetes\/client-node|bullmq|ioredis|dockerode|docker-modem|express|pino|prom-client|simple-git|@octokit|zod|handlebars)\//,
    'a server-side package',
  ],
];

beforeAll(async () => {
  writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
  writeFileSync(join(dir, 'register.mjs'), REGISTER);
  s = await startSlipway({ workers: 0 });
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'web', namespace: ns, labels: { app: 'web' } },
    spec: {
      source: { type: 'Git', git: { uri: 'https://git.example/web.git', ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      output: { to: { kind: 'ImageStreamTag', name: 'web:latest' } },
    },
  });
});
afterAll(async () => {
  await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every module URL the process loaded, node: built-ins left out. */
  modules: string[];
}

let runs = 0;
function slipway(args: string[], input = ''): Promise<Run> {
  const record = join(dir, `modules-${++runs}.txt`);
  writeFileSync(record, '');
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        join(dir, 'register.mjs'),
        BIN,
        '--server',
        s.http.url,
        '--token',
        s.token,
        '-n',
        ns,
        ...args,
      ],
      {
        env: {
          ...process.env,
          SLIPWAY_CREDENTIALS: join(dir, 'none.json'),
          SLIPWAY_TEST_MODULE_RECORD: record,
        },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => {
      const modules = [...new Set(readFileSync(record, 'utf8').split('\n'))].filter(
        (u) => u !== '' && !u.startsWith('node:'),
      );
      resolve({ code, stdout, stderr, modules });
    });
    child.stdin.end(input);
  });
}

/** The forbidden modules a run loaded, each with the reason it is forbidden. */
function heavy(run: Run, also: [RegExp, string][] = []): string[] {
  return run.modules.flatMap((url) =>
    [...FORBIDDEN, ...also].filter(([re]) => re.test(url)).map(([, why]) => `${url} (${why})`),
  );
}

// tar-fs and yaml load only for the flags that need them (--from-dir; describe, -o yaml, -f).
const TAR: [RegExp, string] = [/\/node_modules\/tar-fs\//, 'tar-fs, only --from-dir needs it'];
const YAML: [RegExp, string] = [/\/node_modules\/yaml\//, 'yaml, only describe, -o yaml and -f need it'];

test('the recorder sees the CLI and what its actions import on demand (else the other tests prove nothing)', async () => {
  const run = await slipway(['get', 'bc', 'web', '-o', 'yaml']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('name: web');
  expect(run.modules.some((u) => u.endsWith('/dist/cli/main.js'))).toBe(true);
  expect(run.modules.some((u) => u.includes('/node_modules/commander/'))).toBe(true);
  // Loaded by import() inside the action, after start-up: the hook still sees it.
  expect(run.modules.some((u) => YAML[0].test(u))).toBe(true);
  expect(heavy(run)).toEqual([]);
});

test('get, logs and start-build load neither the runtime, nor a server-side package, nor tar-fs or yaml', async () => {
  const started = await slipway(['start-build', 'web']);
  expect(started.stderr).toBe('');
  expect(started.stdout).toContain('build.build.openshift.io/web-1 started');
  expect(heavy(started, [TAR, YAML])).toEqual([]);

  const builds = await slipway(['get', 'builds']);
  expect(builds.code).toBe(0);
  expect(builds.stdout).toMatch(/^web-1\s+Docker/m);
  expect(heavy(builds, [TAR, YAML])).toEqual([]);

  const logs = await slipway(['logs', 'build/web-1']);
  expect(logs.code).toBe(0);
  expect(heavy(logs, [TAR, YAML])).toEqual([]);

  const cancelled = await slipway(['cancel-build', 'web-1']);
  expect(cancelled.stdout).toContain('build.build.openshift.io/web-1 cancelled');
  expect(heavy(cancelled, [TAR, YAML])).toEqual([]);
});

test('describe and apply -f load yaml for their YAML, and still no runtime', async () => {
  const described = await slipway(['describe', 'bc', 'web']);
  expect(described.code).toBe(0);
  expect(described.stdout).toContain('Name:\t\tweb');
  expect(heavy(described, [TAR])).toEqual([]);

  const applied = await slipway(
    ['apply', '-f', '-'],
    'apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata:\n  name: web\n',
  );
  expect(applied.stderr).toBe('');
  expect(applied.stdout).toContain('imagestream.image.openshift.io/web created');
  expect(heavy(applied, [TAR])).toEqual([]);
});

test('version and help load nothing beyond commander', async () => {
  const version = await slipway(['version']);
  expect(version.stdout).toMatch(/^slipway v\d+\.\d+\.\d+/);
  expect(heavy(version, [TAR, YAML])).toEqual([]);
  const help = await slipway(['--help']);
  expect(help.stdout).toContain('start-build');
  expect(heavy(help, [TAR, YAML])).toEqual([]);
});
