/**
 * Matching latency with 10,000 BuildConfigs: a signed GitHub push through the org/App
 * core (signature check + parse), then the BuildConfigs it starts, found by the Redis
 * repository index, beside the scan the index replaces (list every BuildConfig, match
 * each). Real Redis on a free port; not part of `npm test`.
 *
 *   npx tsc -p bench/webhook-bench.tsconfig.json && node dist/bench-webhook/bench/webhook-matching.js
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Webhooks } from '@octokit/webhooks';
import { Redis } from 'ioredis';
import { lookupKind, type Resource } from '../src/core/resource.js';
import { RedisResourceStore } from '../src/store/resource-store.js';
import { startBuildConfigIndexing } from '../src/triggers/buildconfig-index.js';
import { routePush } from '../src/triggers/push-decision.js';
import { findBuildsForPush } from '../src/triggers/push-router.js';
import { RedisBuildConfigIndex } from '../src/store/redis-buildconfig-index.js';
import { createGitHubOrgReceiver } from '../src/webhooks/github-org-webhook.js';
import { startRedis } from '../test/support/stack.js';

const N = Number(process.env.BENCH_BUILDCONFIGS ?? 10_000);
const REPOS = Math.max(1, Math.floor(N / 5));
const DELIVERIES = 500;
const SCANS = 20;
const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;

function stats(samples: number[]): { median: number; p99: number } {
  const s = [...samples].sort((a, b) => a - b);
  return {
    median: s[Math.floor(s.length / 2)]!,
    p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!,
  };
}
const fmt = (ms: number): string => `${ms.toFixed(3)} ms`;

async function main(): Promise<void> {
  const redisHandle = await startRedis();
  const redis = new Redis(redisHandle.url);
  const prefix = `bench-${randomUUID()}`;
  try {
    const store = new RedisResourceStore(redis, prefix);
    const t0 = performance.now();
    for (let i = 0; i < N; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, N - i) }, (_, j) => {
          const n = i + j;
          const r = n % REPOS;
          const bc: Resource = {
            apiVersion: 'build.openshift.io/v1',
            kind: 'BuildConfig',
            metadata: { name: `bc-${n}`, namespace: `ns${n % 50}` },
            spec: {
              source: {
                type: 'Git',
                git: {
                  uri: n % 2 ? `https://github.com/org${r}/repo${r}.git` : `git@github.com:org${r}/repo${r}`,
                  ref: 'main',
                },
              },
              strategy: { type: 'Docker' },
              triggers: [{ type: 'GitHub', github: { secret: 's' } }],
            },
          };
          return store.create(BUILD_CONFIG, bc);
        }),
      );
    }
    const created = performance.now() - t0;
    const index = new RedisBuildConfigIndex(redis, prefix);
    const t1 = performance.now();
    const stop = await startBuildConfigIndexing({ store, index, buildConfigKind: BUILD_CONFIG });
    const indexed = performance.now() - t1;

    const secret = randomUUID();
    const signer = new Webhooks({ secret });
    const receiver = createGitHubOrgReceiver({ secret });
    const require = createRequire(import.meta.url);
    const examples = require('@octokit/webhooks-examples') as {
      name: string;
      examples: Record<string, unknown>[];
    }[];
    const template = examples
      .find((g) => g.name === 'push')!
      .examples.find((e) => e.ref === 'refs/heads/master')!;

    const receive: number[] = [];
    const match: number[] = [];
    let builds = 0;
    for (let i = 0; i < DELIVERIES; i++) {
      const r = (i * 7919) % REPOS;
      const payload = {
        ...template,
        ref: 'refs/heads/main',
        repository: {
          ...(template.repository as object),
          full_name: `org${r}/repo${r}`,
          clone_url: `https://github.com/org${r}/repo${r}.git`,
          ssh_url: `git@github.com:org${r}/repo${r}.git`,
          git_url: `git://github.com/org${r}/repo${r}.git`,
          html_url: `https://github.com/org${r}/repo${r}`,
          default_branch: 'main',
        },
      };
      const body = Buffer.from(JSON.stringify(payload));
      const signature = await signer.sign(body.toString('utf8'));
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': signature,
      };
      const a = performance.now();
      const result = await receiver.receive({
        method: 'POST',
        getHeader: (n) => headers[n.toLowerCase()],
        rawBody: body,
      });
      const b = performance.now();
      if (result.action !== 'push')
        throw new Error(`delivery ${i} was not a push: ${JSON.stringify(result)}`);
      const routing = await findBuildsForPush({
        push: result.push,
        index,
        getBuildConfig: (ns, name) => store.get(BUILD_CONFIG, ns, name),
      });
      const c = performance.now();
      receive.push(b - a);
      match.push(c - b);
      builds += routing.builds.length;
    }
    if (builds !== DELIVERIES * 5) throw new Error(`expected ${DELIVERIES * 5} builds, routed ${builds}`);

    const scan: number[] = [];
    for (let i = 0; i < SCANS; i++) {
      const r = (i * 7919) % REPOS;
      const push = {
        source: 'github' as const,
        repoUrls: [`https://github.com/org${r}/repo${r}.git`],
        refs: [{ ref: 'refs/heads/main', revision: { type: 'Git', git: { commit: 'a'.repeat(40) } } }],
      };
      const a = performance.now();
      const routed = routePush({ push, buildConfigs: await store.list(BUILD_CONFIG) });
      scan.push(performance.now() - a);
      if (routed.builds.length !== 5) throw new Error(`scan routed ${routed.builds.length} builds`);
    }
    await stop();

    const rs = stats(receive);
    const ms = stats(match);
    const ss = stats(scan);
    console.log(
      `BuildConfigs: ${N} in ${REPOS} repositories (created in ${(created / 1000).toFixed(1)} s, indexed in ${fmt(indexed)})`,
    );
    console.log(
      `org core, verify + parse:         median ${fmt(rs.median)}, p99 ${fmt(rs.p99)}  (${DELIVERIES} deliveries)`,
    );
    console.log(
      `index lookup + load + route:      median ${fmt(ms.median)}, p99 ${fmt(ms.p99)}  (5 builds each)`,
    );
    console.log(
      `scan (list all + route):          median ${fmt(ss.median)}, p99 ${fmt(ss.p99)}  (${SCANS} scans)`,
    );
    console.log(`scan / index ratio:               ${(ss.median / ms.median).toFixed(0)}x`);
  } finally {
    redis.disconnect();
    await redisHandle.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
