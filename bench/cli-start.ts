/**
 * How long `slipway` takes to start, per verb: `get builds`, `describe bc X`,
 * `logs build/X` and `start-build X`, each spawned N times against a small local HTTP
 * server that answers the API paths they call with canned objects (the server's own work
 * is not what is measured). Beside them, in the same run and interleaved with them, the
 * reference: a bare `node -e ''`, and a node that sends one fetch and exits (the floor
 * for any Node CLI that talks HTTP).
 *
 * Two figures per verb: spawn → the verb's first request reaching the server ("until the
 * request is sent"), and spawn → exit. The ratio is against the bare node start.
 *
 *   npm run build && npx tsc -p bench/cli-bench.tsconfig.json
 *   node dist/bench-cli/bench/cli-start.js              # this checkout's bin/slipway.js
 *   node dist/bench-cli/bench/cli-start.js --runs 20 --baseline /tmp/old/bin/slipway.js
 *
 * --baseline runs a second slipway (another checkout, built) interleaved with this one,
 * so before/after figures come from the same minutes of the same machine.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.BENCH_RUNS ?? '10' },
    bin: { type: 'string', default: fileURLToPath(new URL('../../../bin/slipway.js', import.meta.url)) },
    baseline: { type: 'string' },
  },
});
const RUNS = Number(args.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs ${args.runs} is not a positive integer`);

const NS = 'default';
const BC = 'web';
const BUILD = 'web-1';
const created = new Date().toISOString();
const buildConfig = {
  apiVersion: 'build.openshift.io/v1',
  kind: 'BuildConfig',
  metadata: {
    name: BC,
    namespace: NS,
    labels: { app: BC },
    creationTimestamp: created,
    resourceVersion: '3',
  },
  spec: {
    source: { type: 'Git', git: { uri: 'https://git.example/web.git', ref: 'main' } },
    strategy: { type: 'Docker', dockerStrategy: {} },
    output: { to: { kind: 'ImageStreamTag', name: `${BC}:latest` } },
  },
  status: { lastVersion: 1 },
};
const build = {
  apiVersion: 'build.openshift.io/v1',
  kind: 'Build',
  metadata: { name: BUILD, namespace: NS, creationTimestamp: created, resourceVersion: '7' },
  spec: buildConfig.spec,
  status: { phase: 'Complete', startTimestamp: created, duration: 12e9 },
};

/** The API answers the measured verbs need; anything else is a 404 Status. */
function answer(req: IncomingMessage, res: ServerResponse): void {
  const base = `/apis/build.openshift.io/v1/namespaces/${NS}`;
  const send = (code: number, body: unknown, type = 'application/json'): void => {
    res.writeHead(code, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const path = (req.url ?? '').split('?')[0];
  if (req.method === 'GET' && path === `${base}/builds`)
    return send(200, { kind: 'BuildList', apiVersion: 'build.openshift.io/v1', items: [build] });
  if (req.method === 'GET' && path === `${base}/buildconfigs/${BC}`) return send(200, buildConfig);
  if (req.method === 'GET' && path === `${base}/builds/${BUILD}`) return send(200, build);
  if (req.method === 'GET' && path === `${base}/builds/${BUILD}/log`)
    return send(200, 'Step 1/1 : FROM base\nSuccessfully pushed\n', 'text/plain');
  if (req.method === 'POST' && path === `${base}/buildconfigs/${BC}/instantiate`)
    return send(201, { ...build, status: { phase: 'New' } });
  send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound' });
}

interface Sample {
  /** spawn → the first request of this process reaching the server; undefined if it sent none. */
  request: number | undefined;
  /** spawn → exit. */
  exit: number;
}

async function main(): Promise<void> {
  // One process runs at a time, so the first request after a spawn is that process's.
  let firstRequest: number | undefined;
  const server = createServer((req, res) => {
    firstRequest ??= performance.now();
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const home = mkdtempSync(join(tmpdir(), 'slipway-cli-bench-'));
  // No saved credentials: the flags say where the server is, as a user's would.
  const env = { ...process.env, SLIPWAY_CREDENTIALS: join(home, 'none.json') };

  const run = (argv: string[]): Promise<Sample> =>
    new Promise((resolve, reject) => {
      firstRequest = undefined;
      let stderr = '';
      const t0 = performance.now();
      const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        const exit = performance.now() - t0;
        if (code !== 0) reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.trim()}`));
        else resolve({ request: firstRequest === undefined ? undefined : firstRequest - t0, exit });
      });
    });

  const verbs: [string, string[]][] = [
    ['get builds', ['get', 'builds']],
    [`describe bc ${BC}`, ['describe', 'bc', BC]],
    [`logs build/${BUILD}`, ['logs', `build/${BUILD}`]],
    [`start-build ${BC}`, ['start-build', BC]],
  ];
  const cli = (bin: string, verb: string[]): string[] => [bin, '--server', url, '--token', 'bench', ...verb];
  const cases: { label: string; argv: string[] }[] = [
    { label: "node -e ''", argv: ['-e', ''] },
    {
      label: 'node -e fetch',
      argv: ['-e', `fetch(${JSON.stringify(`${url}/healthz`)}).then((r) => r.text())`],
    },
    ...verbs.map(([label, verb]) => ({ label: `slipway ${label}`, argv: cli(args.bin, verb) })),
    ...(args.baseline
      ? verbs.map(([label, verb]) => ({ label: `baseline ${label}`, argv: cli(args.baseline!, verb) }))
      : []),
  ];
  const samples = new Map<string, Sample[]>(cases.map((c) => [c.label, []]));
  try {
    // One warm-up round (disk cache), then RUNS rounds, every case once per round.
    for (const c of cases) await run(c.argv);
    for (let i = 0; i < RUNS; i++) for (const c of cases) samples.get(c.label)!.push(await run(c.argv));
  } finally {
    server.close();
    rmSync(home, { recursive: true, force: true });
  }

  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  };
  const bare = median(samples.get("node -e ''")!.map((s) => s.exit));
  const ms = (v: number | undefined): string => (v === undefined ? '—' : `${v.toFixed(0)} ms`);
  console.log(`slipway start-up, median of ${RUNS} runs each (node ${process.version})`);
  console.log(`  bin:      ${args.bin}`);
  if (args.baseline) console.log(`  baseline: ${args.baseline}`);
  console.log('');
  console.log(
    `${'command'.padEnd(32)}${'→ request'.padStart(12)}${'→ exit'.padStart(10)}${'exit / bare node'.padStart(18)}`,
  );
  for (const c of cases) {
    const s = samples.get(c.label)!;
    const reqs = s.map((x) => x.request).filter((x): x is number => x !== undefined);
    const exit = median(s.map((x) => x.exit));
    console.log(
      `${c.label.padEnd(32)}${ms(reqs.length === s.length ? median(reqs) : undefined).padStart(12)}${ms(exit).padStart(10)}${`${(exit / bare).toFixed(2)}x`.padStart(18)}`,
    );
  }
  if (!args.baseline) return;
  console.log('\nbaseline / this, by median (how many times faster this one is):');
  for (const [label] of verbs) {
    const med = (who: string, key: keyof Sample): number =>
      median(samples.get(`${who} ${label}`)!.map((x) => x[key] ?? Number.NaN));
    const ratio = (key: keyof Sample): string =>
      `${(med('baseline', key) / med('slipway', key)).toFixed(1)}x`;
    console.log(
      `  ${label.padEnd(30)}→ request ${ratio('request').padStart(6)}   → exit ${ratio('exit').padStart(6)}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
