/**
 * Push to serving (issue 5): the time from a GitHub push webhook to the new version of a
 * small Node.js app answering through the router, on one machine, everything real: Redis,
 * the registry, the API server, a build worker, the rollout worker, the replica monitor
 * and the router, wired by src/runtime.ts in this process; a git daemon; Slipway's
 * `openshift/nodejs` builder.
 *
 * The app (server.js + one npm dependency, is-number) is built by an incremental S2I
 * BuildConfig with a GitHub trigger, whose output `app:latest` drives a DeploymentConfig
 * (Rolling, 2 replicas, httpGet readiness every second) behind a Service and a Route.
 * v1 is deployed first and not measured. Then BENCH_RUNS times (default 5): commit a
 * one-line change to the response, POST a push payload signed with @octokit/webhooks'
 * `sign()` to `/webhooks/github`, and poll the router (Host header, 127.0.0.1) until the
 * new response answers. Build and revision state are sampled from the store every 25 ms,
 * so the phase transitions are known to within that; stage durations are the Build's own
 * `status.stages[].durationMilliseconds`.
 *
 * Not part of `npm test`. Needs the Docker engine, the builder images
 * (scripts/build-builder-images.sh) and npm's registry (for the first build).
 *
 *   npm run bench:deploy                 # BENCH_RUNS=7 npm run bench:deploy
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { lookupKind, type Resource } from '../src/core/resource.js';
import { registerBuilderImages } from '../src/registry/builder-streams.js';
import { startDeployments, startRouter, type DeploymentsHandle } from '../src/runtime.js';
import type { RouterHandle } from '../src/strategies/router.js';
import { getViaRouter, removeNamespaceReplicas } from '../test/support/deploy.js';
import { BC_PATH, startSlipway, type TestSlipway } from '../test/support/slipway.js';
import { startGitDaemon, waitFor, type GitServer } from '../test/support/stack.js';
import { githubHeaders, post, pushPayload } from '../test/support/webhooks.js';

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
const TRUSTED_CA = process.env.BENCH_TRUSTED_CA ?? '/etc/ssl/certs/ca-certificates.crt';
const ORG_SECRET = `bench-${randomUUID()}`;
const ns = `bench-${randomUUID().slice(0, 8)}`;
const HOST = `app.${ns}.test`;
const SAMPLE_MS = 25;

const BUILD_KIND = lookupKind('build.openshift.io/v1', 'Build')!;
const RC_KIND = lookupKind('v1', 'ReplicationController')!;
const DC_PATH = (name = ''): string =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function serverJs(version: string): string {
  return [
    "const isNumber = require('is-number');",
    "const http = require('http');",
    `const VERSION = '${version}';`,
    "http.createServer((req, res) => res.end(VERSION + ' ' + isNumber(5) + '\\n')).listen(process.env.PORT || 8080);",
    '',
  ].join('\n');
}

const PACKAGE_JSON = JSON.stringify(
  {
    name: 'bench-app',
    version: '1.0.0',
    private: true,
    scripts: { start: 'node server.js' },
    dependencies: { 'is-number': '7.0.0' },
  },
  null,
  2,
);

const viaRouter = (router: RouterHandle): Promise<{ status: number; body: string }> =>
  getViaRouter(router.url, HOST);

interface StageInfo {
  name: string;
  durationMilliseconds: number;
}

/** One measured push, every time in ms from the webhook POST. */
interface Sample {
  build: string;
  webhookAnswered: number;
  claimed: number;
  stages: Record<string, number>;
  buildComplete: number;
  rolloutStarted: number;
  answering: number;
  rolloutComplete: number;
}

async function main(): Promise<void> {
  const s: TestSlipway = await startSlipway({
    workers: 1,
    config: { trustedCA: TRUSTED_CA, githubSecret: ORG_SECRET, routerListen: '127.0.0.1:0' },
  });
  let git: GitServer | undefined;
  let deployments: DeploymentsHandle | undefined;
  let router: RouterHandle | undefined;
  try {
    deployments = await startDeployments(s.rt, { apiUrl: s.http.url });
    router = await startRouter(s.rt);
    git = await startGitDaemon();
    const registered = await registerBuilderImages({
      docker: s.rt.docker,
      store: s.rt.store,
      registry: s.registry.host,
      log: (l) => process.stderr.write(`${l}\n`),
    });
    if (!registered.includes('openshift/nodejs:latest'))
      throw new Error('slipway/s2i-nodejs:latest is missing: run scripts/build-builder-images.sh');

    const repo = git.url('app');
    let sha = git.commit('app', { 'package.json': PACKAGE_JSON, 'server.js': serverJs('v0') });
    await s.apiJson('POST', BC_PATH(ns), {
      apiVersion: 'build.openshift.io/v1',
      kind: 'BuildConfig',
      metadata: { name: 'app' },
      spec: {
        runPolicy: 'Serial',
        source: { git: { uri: repo, ref: 'main' } },
        strategy: {
          type: 'Source',
          sourceStrategy: {
            from: { kind: 'ImageStreamTag', namespace: 'openshift', name: 'nodejs:latest' },
            incremental: true,
          },
        },
        output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } },
        triggers: [{ type: 'GitHub', github: { secret: `unused-${randomUUID()}` } }],
      },
    });
    await s.apiJson('POST', DC_PATH(), {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'app' },
      spec: {
        replicas: 2,
        selector: { app: 'app' },
        strategy: { type: 'Rolling', rollingParams: { timeoutSeconds: 120 } },
        triggers: [
          { type: 'ConfigChange' },
          {
            type: 'ImageChange',
            imageChangeParams: {
              automatic: true,
              containerNames: ['web'],
              from: { kind: 'ImageStreamTag', name: 'app:latest' },
            },
          },
        ],
        template: {
          metadata: { labels: { app: 'app' } },
          spec: {
            containers: [
              {
                name: 'web',
                image: ' ',
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: {
                  httpGet: { path: '/', port: 'http' },
                  periodSeconds: 1,
                  failureThreshold: 1,
                },
                resources: { limits: { memory: '128Mi' } },
              },
            ],
          },
        },
      },
    });
    await s.apiJson('POST', `/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'app' },
      spec: { selector: { app: 'app' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
    await s.apiJson('POST', `/apis/route.openshift.io/v1/namespaces/${ns}/routes`, {
      apiVersion: 'route.openshift.io/v1',
      kind: 'Route',
      metadata: { name: 'app' },
      spec: { host: HOST, to: { kind: 'Service', name: 'app' } },
    });
    await router.refresh();

    const r = router;
    const deliver = async (after: string): Promise<{ status: number; body: any }> => {
      const body = JSON.stringify(
        pushPayload({ cloneUrl: repo, ref: 'refs/heads/main', after, changed: ['server.js'] }),
      );
      return post(`${s.http.url}/webhooks/github`, body, await githubHeaders('push', body, ORG_SECRET));
    };

    // v0: the first build (npm install from npm's registry) and the first rollout. Not measured.
    const first = await deliver(sha);
    if (first.status !== 202)
      throw new Error(`the org webhook answered ${first.status}: ${JSON.stringify(first.body)}`);
    await waitFor(
      'v0 to answer through the router',
      async () => (await viaRouter(r)).body.startsWith('v0 '),
      600000,
      250,
    );
    process.stderr.write('v0 serves; measuring\n');

    const samples: Sample[] = [];
    for (let i = 1; i <= RUNS; i++) {
      const version = `v${i}`;
      sha = git.commit('app', { 'server.js': serverJs(version) }, { message: `say ${version}` });
      const dcBefore = (await s.apiJson('GET', DC_PATH('app'))) as Resource & {
        status: { latestVersion: number };
      };
      const revision = `app-${dcBefore.status.latestVersion + 1}`;
      const knownBuilds = new Set((await s.rt.store.list(BUILD_KIND, ns)).map((b) => b.metadata.name));

      const t0 = performance.now();
      const at = (): number => performance.now() - t0;
      const seen: Partial<Omit<Sample, 'stages' | 'build'>> & {
        build?: string;
        stages?: Record<string, number>;
      } = {};
      let done = false;

      // The store, sampled: when the build is claimed and completes, when the revision starts and completes.
      const sampler = (async () => {
        while (!done) {
          if (seen.buildComplete === undefined) {
            const build = (await s.rt.store.list(BUILD_KIND, ns)).find(
              (b) => !knownBuilds.has(b.metadata.name),
            );
            const phase = (build?.status as { phase?: string } | undefined)?.phase;
            if (build) seen.build = build.metadata.name;
            if (phase && phase !== 'New' && seen.claimed === undefined) seen.claimed = at();
            if (phase && ['Failed', 'Error', 'Cancelled'].includes(phase))
              throw new Error(
                `${build!.metadata.name} ended ${phase}: ${(build!.status as { message?: string }).message ?? ''}`,
              );
            if (phase === 'Complete') {
              seen.buildComplete = at();
              const stages = ((build!.status as { stages?: StageInfo[] }).stages ?? []).map(
                (st) => [st.name, st.durationMilliseconds] as const,
              );
              seen.stages = Object.fromEntries(stages);
            }
          }
          if (seen.rolloutComplete === undefined) {
            const rc = await s.rt.store.get(RC_KIND, ns, revision).catch(() => undefined);
            if (rc && seen.rolloutStarted === undefined) seen.rolloutStarted = at();
            const phase = rc?.metadata.annotations?.['openshift.io/deployment.phase'];
            if (phase === 'Failed')
              throw new Error(
                `${revision} failed: ${rc?.metadata.annotations?.['openshift.io/deployment.status-reason'] ?? ''}`,
              );
            if (phase === 'Complete') seen.rolloutComplete = at();
          }
          await new Promise((res) => setTimeout(res, SAMPLE_MS));
        }
      })();
      // The router, polled as a user would: the first answer of the new version.
      const poller = (async () => {
        while (seen.answering === undefined) {
          const res = await viaRouter(r);
          if (res.status === 200 && res.body.startsWith(`${version} `)) seen.answering = at();
          else await new Promise((res2) => setTimeout(res2, SAMPLE_MS));
        }
      })();

      const hook = await deliver(sha);
      seen.webhookAnswered = at();
      if (hook.status !== 202)
        throw new Error(`the org webhook answered ${hook.status}: ${JSON.stringify(hook.body)}`);
      const deadline = Date.now() + 300000;
      while ((seen.answering === undefined || seen.rolloutComplete === undefined) && Date.now() < deadline) {
        await Promise.race([sampler, new Promise((res) => setTimeout(res, 100))]);
      }
      done = true;
      await sampler;
      if (seen.answering === undefined || seen.rolloutComplete === undefined)
        throw new Error(`${version} did not serve within 300 s`);
      await poller;
      const sample = seen as Sample;
      samples.push(sample);
      process.stderr.write(
        `run ${i}/${RUNS}: ${sample.build} → ${revision}, ${version} answering after ${(sample.answering / 1000).toFixed(2)} s ` +
          `(claimed ${fmt(sample.claimed)}, built ${fmt(sample.buildComplete)}, rollout started ${fmt(sample.rolloutStarted)}, complete ${fmt(sample.rolloutComplete)})\n`,
      );
    }
    report(samples);
  } finally {
    await deployments?.close().catch(() => undefined);
    await router?.close().catch(() => undefined);
    await cleanup(s);
    await git?.stop();
  }
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function report(samples: Sample[]): void {
  const stage = (x: Sample, name: string): number => x.stages[name] ?? 0;
  const rows: { label: string; of: (x: Sample) => number }[] = [
    { label: 'webhook → build claimed (queue wait)', of: (x) => x.claimed },
    { label: 'clone (FetchInputs)', of: (x) => stage(x, 'FetchInputs') },
    { label: 'pull builder (PullImages)', of: (x) => stage(x, 'PullImages') },
    { label: 'build (Build, incremental S2I)', of: (x) => stage(x, 'Build') },
    { label: 'push (PushImage)', of: (x) => stage(x, 'PushImage') },
    {
      label: 'build bookkeeping (outside stages)',
      of: (x) =>
        x.buildComplete -
        x.claimed -
        ['FetchInputs', 'PullImages', 'Build', 'PushImage'].reduce((a, n) => a + stage(x, n), 0),
    },
    { label: 'build complete → new version answering', of: (x) => x.answering - x.buildComplete },
  ];
  const total = samples.map((x) => x.answering);
  console.log(`Push to serving: GitHub push webhook → new version answering through the router`);
  console.log(
    `Node.js app (is-number), incremental S2I on openshift/nodejs, Rolling, 2 replicas, readiness every 1 s; ${samples.length} runs, ${cpus().length} cores`,
  );
  console.log('');
  const pad = (t: string, n: number): string => t.padEnd(n);
  const num = (ms: number): string => (ms / 1000).toFixed(2).padStart(7);
  console.log(`${pad('stage', 42)}${'median s'.padStart(9)}${'share'.padStart(8)}   per run (s)`);
  for (const row of rows) {
    const values = samples.map(row.of);
    const shares = samples.map((x, i) => (values[i] as number) / x.answering);
    console.log(
      `${pad(row.label, 42)}${num(median(values)).padStart(9)}${`${(median(shares) * 100).toFixed(0)}%`.padStart(8)}   ${values.map((v) => (v / 1000).toFixed(2)).join(' ')}`,
    );
  }
  console.log(
    `${pad('total: webhook → new version answering', 42)}${num(median(total)).padStart(9)}${'100%'.padStart(8)}   ${total.map((v) => (v / 1000).toFixed(2)).join(' ')}`,
  );
  console.log('');
  console.log('within the last row, from the same samples:');
  const extra: [string, (x: Sample) => number][] = [
    ['webhook answered (202)', (x) => x.webhookAnswered],
    ['webhook → revision created (ImageChange)', (x) => x.rolloutStarted],
    ['revision created → new version answering', (x) => x.answering - x.rolloutStarted],
    ['new version answering → rollout Complete', (x) => x.rolloutComplete - x.answering],
    ['total: webhook → rollout Complete', (x) => x.rolloutComplete],
  ];
  for (const [label, of] of extra) {
    const values = samples.map(of);
    console.log(
      `${pad(label, 42)}${num(median(values)).padStart(9)}${''.padStart(8)}   ${values.map((v) => (v / 1000).toFixed(2)).join(' ')}`,
    );
  }
  const m = median(total);
  console.log('');
  console.log(
    `median ${fmt(m)} against the issue's 30 s: ${(m / 30000).toFixed(2)}× the budget; load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
}

/** Removes the replicas, their network, and every image tagged for this run's registry. */
async function cleanup(s: TestSlipway): Promise<void> {
  const docker = s.rt.docker;
  await removeNamespaceReplicas(docker, ns);
  const prefix = `${s.registry.host}/`;
  for (const image of await docker.listImages({ all: false })) {
    const refs = [...(image.RepoTags ?? []), ...(image.RepoDigests ?? [])].filter((t) =>
      t.startsWith(prefix),
    );
    if (refs.length === 0) continue;
    const others = (image.RepoTags ?? []).filter((t) => !t.startsWith(prefix) && t !== '<none>:<none>');
    // Untag only: the builder images keep their own names.
    for (const ref of refs)
      await docker
        .getImage(ref)
        .remove({ noprune: others.length > 0 })
        .catch(() => undefined);
  }
  await s.stop();
}

await main();
