/**
 * Build avoidance (docs/build-lifecycle.md, "Builds with the same inputs"): how long a
 * build whose inputs are those of an earlier Complete build takes to end Complete by
 * reusing its image, against real builds of the same BuildConfig measured side by side
 * in the same rounds. Everything real, wired by src/runtime.ts in this process: Redis,
 * the registry, the API server and one build worker; a git daemon.
 *
 * The BuildConfig is a Docker build on the offline base image whose Dockerfile writes a
 * 16 MiB layer and a random id (so a real build without cache always pushes new layers).
 * One build first makes the image that the no-op builds reuse. Then BENCH_RUNS rounds
 * (default 5), each of:
 *
 *   no-op     the same inputs again: reused, tagged to the output, Complete
 *   cached    a real build whose every layer comes from Docker's cache (a build arg the
 *             Dockerfile does not use makes the inputs differ): the cheapest real build
 *   no-cache  `start-build --no-cache` (BuildRequest dockerStrategyOptions.noCache): a
 *             real build from scratch, as a build without avoidance or cache is
 *
 * Each is timed from the instantiate request to the Build read back Complete (polled
 * every 20 ms), as a user waiting on `start-build --wait` sees it. Prints medians and the
 * ratios of the real builds to the no-op.
 *
 * Not part of `npm test`. Needs the Docker engine and the offline base image.
 *
 *   npm run bench:avoidance              # BENCH_RUNS=7 npm run bench:avoidance
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Resource } from '../src/core/resource.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../test/support/slipway.js';
import { BASE_IMAGE, startGitDaemon, type GitServer } from '../test/support/stack.js';

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
const ns = `bench-${randomUUID().slice(0, 8)}`;
const POLL_MS = 20;

const DOCKERFILE = [
  `FROM ${BASE_IMAGE}`,
  'RUN head -c 16777216 /dev/urandom > /payload && cat /proc/sys/kernel/random/uuid > /stamp',
  'CMD ["cat", "/stamp"]',
  '',
].join('\n');

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

interface Timed {
  ms: number;
  build: Resource;
}

async function timedBuild(s: TestSlipway, request: Record<string, unknown>): Promise<Timed> {
  const start = performance.now();
  const created = await s.apiJson('POST', `${BC_PATH(ns, 'app')}/instantiate`, {
    kind: 'BuildRequest',
    metadata: { name: 'app' },
    ...request,
  });
  for (;;) {
    const build = await s.apiJson('GET', BUILD_PATH(ns, created.metadata.name));
    const phase = (build.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Complete') return { ms: performance.now() - start, build };
    if (phase === 'Failed' || phase === 'Error' || phase === 'Cancelled') {
      const log = await (await s.api('GET', `${BUILD_PATH(ns, created.metadata.name)}/log`)).text();
      throw new Error(`${created.metadata.name} ended ${phase}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function message(t: Timed): string | undefined {
  return (t.build.status as { message?: string } | undefined)?.message;
}

async function main(): Promise<void> {
  let s: TestSlipway | undefined;
  let git: GitServer | undefined;
  try {
    s = await startSlipway({ workers: 1 });
    git = await startGitDaemon();
    git.commit('app', { Dockerfile: DOCKERFILE });
    await s.apiJson('POST', BC_PATH(ns), {
      apiVersion: 'build.openshift.io/v1',
      kind: 'BuildConfig',
      metadata: { name: 'app', namespace: ns },
      spec: {
        runPolicy: 'Serial',
        source: { git: { uri: git.url('app'), ref: 'main' } },
        strategy: { type: 'Docker', dockerStrategy: {} },
        output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } },
      },
    });
    const first = await timedBuild(s, {});
    console.log(`first build (not measured): ${(first.ms / 1000).toFixed(2)} s`);

    const noop: number[] = [];
    const cached: number[] = [];
    const fresh: number[] = [];
    for (let round = 1; round <= RUNS; round++) {
      const a = await timedBuild(s, {});
      if (!message(a)?.startsWith('Reused the image of build'))
        throw new Error(`round ${round}: the no-op build was not reused (${message(a) ?? 'no message'})`);
      const b = await timedBuild(s, {
        dockerStrategyOptions: { buildArgs: [{ name: 'BENCH_ROUND', value: `${round}-${randomUUID()}` }] },
      });
      if (message(b)) throw new Error(`round ${round}: the cached build was reused: ${message(b)}`);
      const c = await timedBuild(s, { dockerStrategyOptions: { noCache: true } });
      if (message(c)) throw new Error(`round ${round}: the --no-cache build was reused: ${message(c)}`);
      noop.push(a.ms);
      cached.push(b.ms);
      fresh.push(c.ms);
      console.log(
        `round ${round}: no-op ${a.ms.toFixed(0)} ms, cached ${b.ms.toFixed(0)} ms, no-cache ${c.ms.toFixed(0)} ms`,
      );
    }
    const [n, k, f] = [median(noop), median(cached), median(fresh)];
    console.log('');
    console.log(
      `machine: ${cpus().length} cores, load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(`medians of ${RUNS} rounds, instantiate → Complete:`);
    console.log(`  no-op (reused)            ${(n / 1000).toFixed(2)} s`);
    console.log(`  real, all layers cached   ${(k / 1000).toFixed(2)} s   ${(k / n).toFixed(1)}× the no-op`);
    console.log(`  real, --no-cache          ${(f / 1000).toFixed(2)} s   ${(f / n).toFixed(1)}× the no-op`);
    console.log(`no-op ≤ 1 s: ${n <= 1000 ? 'yes' : 'NO'} (max ${(Math.max(...noop) / 1000).toFixed(2)} s)`);
  } finally {
    await s?.stop();
    await git?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
