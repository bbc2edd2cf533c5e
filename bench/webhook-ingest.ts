/**
 * Webhook ingest: signed GitHub `push` deliveries per second and p99 latency to the
 * response, measured with autocannon against a running `slipway server` (a child
 * process, its own Redis, 10,000 BuildConfigs in 2,800 repositories), beside a bare
 * Node `http` server that reads the body and answers 202, in the same run on the same
 * machine. Every delivery carries a fresh X-GitHub-Delivery, and every accepted one is
 * counted in Redis afterwards (a claimed delivery, recorded in the push inbox when a
 * BuildConfig uses its repository), so throughput is of durably recorded deliveries.
 * Then routing, a worker's part, is timed on its own: the recorded pushes are turned into
 * builds (stored and queued) by one router, and every build they should start is counted.
 * Not part of `npm test`:
 *
 *   npm run bench:webhooks
 *
 * Scenarios, each run ROUNDS times, alternating with the bare server; medians printed:
 * - healthz: `GET /healthz` on the same server, the ceiling express itself sets (no body, no Redis);
 * - no match: a push of a repository no BuildConfig uses (verify, parse, claim, lookup);
 * - 1 build: a push of a repository one BuildConfig builds (… plus the inbox record);
 * - 5 builds at a fixed 100 deliveries/s: latency of the index path with 10,000 BuildConfigs;
 * - routing: the recorded pushes of all the above routed to builds, pushes/s and CPU each.
 *
 * BENCH_CPU_PROF=dir runs the server (only) under `node --cpu-prof` and writes its profile
 * there when it stops; BENCH_SCENARIOS, BENCH_ROUNDS and BENCH_DURATION narrow a run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import { Webhooks } from '@octokit/webhooks';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { lookupKind, type Resource } from '../src/core/resource.js';
import { loadConfig } from '../src/core/config.js';
import { createRuntime, startPushRouting } from '../src/runtime.js';
import { pushInboxKey } from '../src/store/push-inbox.js';
import { RedisResourceStore } from '../src/store/resource-store.js';
import { freePort, startRedis, waitFor } from '../test/support/stack.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
/** Comma-separated subset of noMatch,oneBuild,fiveAt100 (profiling one path). */
const ONLY = new Set((process.env.BENCH_SCENARIOS ?? 'healthz,noMatch,oneBuild,fiveAt100').split(','));
const FIVE_REPOS = 1800; // × 5 BuildConfigs each
const SOLO_REPOS = 1000; // × 1 BuildConfig each
const PREFIX = 'slipway'; // what `slipway server` uses
const SECRET = `bench-${randomUUID()}`;
const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;

interface Delivery {
  body: string;
  signature: string;
}

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples') as { name: string; examples: Record<string, any>[] }[];
const template = examples
  .find((g) => g.name === 'push')!
  .examples.find((e) => e.ref === 'refs/heads/master')!;

function pushFor(owner: string, repo: string): Record<string, unknown> {
  const url = `https://github.com/${owner}/${repo}`;
  return {
    ...template,
    ref: 'refs/heads/main',
    created: false,
    after: 'a'.repeat(40),
    repository: {
      ...template.repository,
      full_name: `${owner}/${repo}`,
      url,
      html_url: url,
      clone_url: `${url}.git`,
      ssh_url: `git@github.com:${owner}/${repo}.git`,
      git_url: `git://github.com/${owner}/${repo}.git`,
      default_branch: 'main',
    },
  };
}

async function signAll(payloads: Record<string, unknown>[]): Promise<Delivery[]> {
  const signer = new Webhooks({ secret: SECRET });
  return Promise.all(
    payloads.map(async (p) => {
      const body = JSON.stringify(p);
      return { body, signature: await signer.sign(body) };
    }),
  );
}

function buildConfig(name: string, namespace: string, uri: string): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace },
    spec: {
      runPolicy: 'Parallel',
      source: { type: 'Git', git: { uri, ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      triggers: [{ type: 'GitHub', github: { secret: 'per-bc' } }],
    },
  };
}

async function seed(store: RedisResourceStore): Promise<number> {
  const configs: Resource[] = [];
  for (let r = 0; r < FIVE_REPOS; r++) {
    for (let k = 0; k < 5; k++) {
      const uri = k % 2 ? `https://github.com/org${r}/repo${r}.git` : `git@github.com:org${r}/repo${r}`;
      configs.push(buildConfig(`five-${r}-${k}`, `ns${(r * 5 + k) % 50}`, uri));
    }
  }
  for (let r = 0; r < SOLO_REPOS; r++)
    configs.push(buildConfig(`solo-${r}`, `ns${r % 50}`, `https://github.com/solo${r}/app.git`));
  for (let i = 0; i < configs.length; i += 200)
    await Promise.all(configs.slice(i, i + 200).map((c) => store.create(BUILD_CONFIG, c)));
  return configs.length;
}

function child(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const c = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  c.on('exit', (code, signal) => {
    if (code !== 0 && signal === null) console.error(`${args.join(' ')} exited with ${code}`);
  });
  return c;
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await exited;
}

const BARE_SERVER = `
const http = require('node:http');
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end('{"kind":"Status","code":202}');
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** CPU seconds a process has used (user + system), from /proc: less sensitive to a busy machine than throughput. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime (fields 14 and 15 of stat, counted from the pid), in ticks of 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds Redis has used, from its INFO (it runs in its own process). */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_sys') + field('used_cpu_user');
}

interface Run {
  /** Server CPU milliseconds per accepted delivery. */
  cpuMs?: number;
  /** Redis' CPU milliseconds per accepted delivery (INFO cpu). */
  redisMs?: number;
  /** The load generator's (autocannon, in this process) CPU milliseconds per 2xx. */
  genMs: number;
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
}

async function load(url: string, deliveries: Delivery[], options: { rate?: number } = {}): Promise<Run> {
  let n = 0;
  const cpuBefore = process.cpuUsage();
  const result = await autocannon({
    url,
    method: 'POST',
    connections: options.rate ? 4 : CONNECTIONS,
    duration: DURATION_S,
    ...(options.rate ? { overallRate: options.rate } : {}),
    requests: [
      {
        method: 'POST',
        setupRequest: (req: any) => {
          const d = deliveries[n++ % deliveries.length]!;
          req.body = d.body;
          req.headers = {
            'content-type': 'application/json',
            'x-github-event': 'push',
            'x-github-delivery': randomUUID(),
            'x-hub-signature-256': d.signature,
          };
          return req;
        },
      },
    ],
  });
  const ok = result['2xx'];
  const cpu = process.cpuUsage(cpuBefore);
  return {
    genMs: (cpu.user + cpu.system) / 1000 / Math.max(ok, 1),
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function countKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

async function main(): Promise<void> {
  const redisHandle = await startRedis();
  const redis = new Redis(redisHandle.url);
  const queue = new Queue('builds', { connection: { url: redisHandle.url }, prefix: `${PREFIX}:bull` });
  const children: ChildProcess[] = [];
  try {
    const store = new RedisResourceStore(redis, PREFIX);
    const seeded = await seed(store);

    const slipwayPort = await freePort();
    const barePort = await freePort();
    const profile = process.env.BENCH_CPU_PROF;
    const server = child(
      [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []), 'bin/slipway.js', 'server'],
      {
        SLIPWAY_REDIS_URL: redisHandle.url,
        SLIPWAY_LISTEN: `127.0.0.1:${slipwayPort}`,
        SLIPWAY_GITHUB_SECRET: SECRET,
        SLIPWAY_ADMIN_TOKEN: randomUUID(),
        SLIPWAY_LOG_LEVEL: 'warn',
      },
    );
    const bareServer = child(['-e', BARE_SERVER], { PORT: String(barePort) });
    children.push(server, bareServer);
    await waitFor(
      'slipway server',
      async () => (await fetch(`http://127.0.0.1:${slipwayPort}/readyz`)).ok,
      30000,
      200,
    );
    await waitFor(
      'bare server',
      async () =>
        (await fetch(`http://127.0.0.1:${barePort}/`, { method: 'POST', body: '{}' })).status === 202,
    );
    // The index is rebuilt from a full listing at start-up: wait until the last BuildConfig is in.
    await waitFor(
      'the BuildConfig index',
      async () => (await redis.hlen(`${PREFIX}:bcidx:entries`)) >= seeded,
      60000,
      200,
    );

    const noMatch = await signAll(Array.from({ length: 500 }, (_, i) => pushFor(`nobody${i}`, 'unused')));
    const oneBuild = await signAll(Array.from({ length: SOLO_REPOS }, (_, r) => pushFor(`solo${r}`, 'app')));
    const fiveBuilds = await signAll(
      Array.from({ length: FIVE_REPOS }, (_, r) => pushFor(`org${r}`, `repo${r}`)),
    );
    const slipwayUrl = `http://127.0.0.1:${slipwayPort}/webhooks/github`;
    const bareUrl = `http://127.0.0.1:${barePort}/webhooks/github`;

    // Warm both servers (JIT, connection pools) before measuring.
    await load(bareUrl, noMatch, { rate: 200 });
    await load(slipwayUrl, noMatch, { rate: 200 });

    const runs: Record<string, Run[]> = { bare: [], healthz: [], noMatch: [], oneBuild: [], fiveAt100: [] };
    let unrecorded = 0;
    let expectedBuilds = 0;
    const inbox = pushInboxKey(PREFIX);
    for (let round = 1; round <= ROUNDS; round++) {
      const bareCpu = cpuSeconds(bareServer.pid);
      const bare = await load(bareUrl, noMatch);
      bare.cpuMs = ((cpuSeconds(bareServer.pid) - bareCpu) * 1000) / bare.ok;
      runs.bare!.push(bare);

      // Accepted (2xx) deliveries must all be in Redis. Deliveries still in flight when
      // autocannon's clock stops are recorded but not counted as accepted: more
      // recorded than accepted is expected, fewer is a lost delivery.
      if (ONLY.has('healthz')) {
        const h = await autocannon({
          url: `http://127.0.0.1:${slipwayPort}/healthz`,
          connections: CONNECTIONS,
          duration: DURATION_S,
        });
        runs.healthz!.push({
          rps: h['2xx'] / h.duration,
          p50: h.latency.p50,
          p99: h.latency.p99,
          ok: h['2xx'],
          genMs: Number.NaN,
          non2xx: h.non2xx,
          errors: h.errors,
        });
      }
      if (ONLY.has('noMatch')) {
        const claimsBefore = await countKeys(redis, `${PREFIX}:delivery:github:*`);
        const cpu = cpuSeconds(server.pid);
        const redisCpu = await redisCpuSeconds(redis);
        const a = await load(slipwayUrl, noMatch);
        a.cpuMs = ((cpuSeconds(server.pid) - cpu) * 1000) / a.ok;
        a.redisMs = (((await redisCpuSeconds(redis)) - redisCpu) * 1000) / a.ok;
        const claimsAfter = await countKeys(redis, `${PREFIX}:delivery:github:*`);
        unrecorded += Math.max(0, a.ok - (claimsAfter - claimsBefore));
        runs.noMatch!.push(a);
      }
      if (ONLY.has('oneBuild')) {
        const before = await redis.xlen(inbox);
        const cpu = cpuSeconds(server.pid);
        const redisCpu = await redisCpuSeconds(redis);
        const b = await load(slipwayUrl, oneBuild);
        b.cpuMs = ((cpuSeconds(server.pid) - cpu) * 1000) / b.ok;
        b.redisMs = (((await redisCpuSeconds(redis)) - redisCpu) * 1000) / b.ok;
        const recorded = (await redis.xlen(inbox)) - before;
        unrecorded += Math.max(0, b.ok - recorded);
        expectedBuilds += recorded;
        runs.oneBuild!.push(b);
      }
      if (ONLY.has('fiveAt100')) {
        const before = await redis.xlen(inbox);
        const cpu = cpuSeconds(server.pid);
        const redisCpu = await redisCpuSeconds(redis);
        const c = await load(slipwayUrl, fiveBuilds, { rate: 100 });
        c.cpuMs = ((cpuSeconds(server.pid) - cpu) * 1000) / c.ok;
        c.redisMs = (((await redisCpuSeconds(redis)) - redisCpu) * 1000) / c.ok;
        const recorded = (await redis.xlen(inbox)) - before;
        unrecorded += Math.max(0, c.ok - recorded);
        expectedBuilds += recorded * 5;
        runs.fiveAt100!.push(c);
      }

      for (const [name, list] of Object.entries(runs)) {
        const r = list[list.length - 1];
        if (!r) continue;
        console.log(
          `round ${round} ${name.padEnd(9)} ${r.rps.toFixed(0).padStart(6)} deliveries/s  p50 ${r.p50} ms  p99 ${r.p99} ms${r.cpuMs !== undefined ? `  server CPU ${r.cpuMs.toFixed(2)} ms/delivery` : ''}${r.redisMs !== undefined ? `, Redis ${r.redisMs.toFixed(2)}` : ''}${Number.isNaN(r.genMs) ? '' : `, load generator ${r.genMs.toFixed(2)}`}  (2xx ${r.ok}, non-2xx ${r.non2xx}, errors ${r.errors})`,
        );
      }
    }

    const summary = (
      name: string,
    ): { rps: number; p50: number; p99: number; cpuMs: number; redisMs: number; genMs: number } => ({
      cpuMs: median(runs[name]!.map((r) => r.cpuMs ?? 0)),
      genMs: median(runs[name]!.map((r) => r.genMs)),
      redisMs: median(runs[name]!.map((r) => r.redisMs ?? 0)),
      rps: median(runs[name]!.map((r) => r.rps)),
      p50: median(runs[name]!.map((r) => r.p50)),
      p99: median(runs[name]!.map((r) => r.p99)),
    });
    const bare = summary('bare');
    console.log(
      `\nMedians of ${ROUNDS} rounds, ${DURATION_S} s each, ${CONNECTIONS} connections; ${seeded} BuildConfigs in Redis:`,
    );
    for (const [name, label] of [
      ['bare', 'bare node:http, 202'],
      ['healthz', 'slipway GET /healthz (express ceiling)'],
      ['noMatch', 'slipway, push matching nothing'],
      ['oneBuild', 'slipway, push starting 1 build'],
      ['fiveAt100', 'slipway, push starting 5 builds @100/s'],
    ] as const) {
      if (runs[name]!.length === 0) continue;
      const m = summary(name);
      const ratio =
        name === 'bare' || name === 'fiveAt100'
          ? ''
          : `  (${(m.rps / bare.rps).toFixed(2)}× bare's rate${name === 'healthz' ? '' : `, ${(bare.cpuMs / m.cpuMs).toFixed(2)}× its CPU efficiency`})`;
      console.log(
        `  ${label.padEnd(40)} ${m.rps.toFixed(0).padStart(6)} deliveries/s  p50 ${m.p50} ms  p99 ${m.p99} ms${name === 'healthz' ? '' : `  server CPU ${m.cpuMs.toFixed(2)} ms/delivery${name === 'bare' ? '' : `, Redis ${m.redisMs.toFixed(2)}`}, load generator ${m.genMs.toFixed(2)}`}${ratio}`,
      );
    }
    // What all three processes spend per delivery: with the load generator on the same
    // cores, the ratio is bounded by the cores over this total, whatever the server does.
    const totals = (['bare', 'noMatch', 'oneBuild'] as const)
      .filter((name) => runs[name]!.length > 0)
      .map((name) => {
        const m = summary(name);
        return `${name} ${(m.cpuMs + m.redisMs + m.genMs).toFixed(2)} ms`;
      });
    console.log(
      `  CPU per delivery, server + Redis + load generator, on ${availableParallelism()} cores: ${totals.join(', ')}`,
    );
    // Routing, as a worker does it, with the server idle: every recorded push to builds.
    const pushes = await redis.xlen(inbox);
    let unrouted = 0;
    if (pushes > 0) {
      const rt = await createRuntime(
        loadConfig({
          env: {},
          flags: { redisUrl: redisHandle.url, registry: '127.0.0.1:1', logLevel: 'warn' },
        }),
      );
      const jobsBefore = await queue.count();
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const routing = startPushRouting(rt);
      await waitFor(
        'every recorded push routed',
        async () => (await redis.xlen(inbox)) === 0,
        1_800_000,
        200,
      );
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      await routing.close();
      await rt.close();
      const builds = (await queue.count()) - jobsBefore;
      unrouted = Math.max(0, expectedBuilds - builds);
      console.log(
        `  routing (one worker, server idle)        ${(pushes / seconds).toFixed(0).padStart(6)} pushes/s (${(builds / seconds).toFixed(0)} builds/s)  CPU ${((cpu.user + cpu.system) / 1000 / pushes).toFixed(2)} ms/push  (${pushes} recorded pushes → ${builds} builds in ${seconds.toFixed(1)} s)`,
      );
    }
    const failed = Object.entries(runs)
      .filter(([k]) => k !== 'bare')
      .flatMap(([, l]) => l)
      .reduce((n, r) => n + r.non2xx + r.errors, 0);
    console.log(
      `  accepted deliveries not found recorded in Redis: ${unrecorded}; builds recorded pushes should have started but did not: ${unrouted}; non-2xx or errors: ${failed}`,
    );
    if (unrecorded !== 0 || unrouted !== 0 || failed !== 0) process.exitCode = 1;
  } finally {
    for (const c of children) await stopChild(c);
    await queue.close();
    redis.disconnect();
    await redisHandle.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
