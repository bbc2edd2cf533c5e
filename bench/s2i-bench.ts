/**
 * S2I build times on the real engine, same app and same builder image each way:
 *
 *   clean       sourceBuilder, not incremental (npm ci from npm's registry)
 *   incremental sourceBuilder after a one-line change to server.js, previous image given
 *               (node_modules restored from save-artifacts, npm skipped)
 *   docker      the engine's build (the API the Docker strategy uses) of the equivalent
 *               Dockerfile on the same builder image, without cache
 *   docker+cache the same Dockerfile after the same one-line change, with the layer cache
 *
 * Each is a median of BENCH_RUNS runs (default 5). The app depends on express (about 60
 * packages), its lockfile made with the host's npm. Not part of `npm test`; needs the
 * builder images (scripts/build-builder-images.sh) and npm's registry.
 *
 *   npx tsc -p bench/s2i-bench.tsconfig.json && node dist/bench-s2i/bench/s2i-bench.js
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import tarFs from 'tar-fs';
import type { BuildSpec } from '../src/core/build-types.js';
import { sourceBuilder } from '../src/builders/sti/index.js';
import { DependencyNamespaceLabel, DependencyRepository } from '../src/builders/sti/dependency-layer.js';
import type { BuilderInput } from '../src/builders/types.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BUILDER = process.env.BENCH_BUILDER ?? 'slipway/s2i-nodejs:latest';
const CA = process.env.BENCH_TRUSTED_CA ?? '/etc/ssl/certs/ca-certificates.crt';
const docker = new Docker();
const tags: string[] = [];
let PACKAGES = 0;

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function server(line: number): string {
  return [
    "const express = require('express');",
    'const app = express();',
    `app.get('/', (req, res) => res.json({ change: ${line} }));`,
    'app.listen(process.env.PORT || 8080);',
    '',
  ].join('\n');
}

/**
 * A typical Express API's dependencies (177 packages with their own): enough that
 * installing them is most of a clean build, as it is for real apps.
 */
const DEPENDENCIES = {
  express: '4.21.2',
  morgan: '1.10.0',
  helmet: '7.1.0',
  compression: '1.7.5',
  'cookie-parser': '1.4.7',
  cors: '2.8.5',
  'express-validator': '7.2.0',
  'express-rate-limit': '7.4.1',
  winston: '3.17.0',
  pg: '8.13.1',
  jsonwebtoken: '9.0.2',
  multer: '1.4.5-lts.1',
  axios: '1.7.9',
  joi: '17.13.3',
  uuid: '11.0.3',
  dotenv: '16.4.7',
};

/** The app, with a lockfile resolved by the host's npm (which trusts the host's CA). */
function makeApp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-s2i-bench-'));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'bench-app',
        version: '1.0.0',
        private: true,
        scripts: { start: 'node server.js' },
        dependencies: DEPENDENCIES,
      },
      null,
      2,
    ),
  );
  writeFileSync(join(dir, 'server.js'), server(0));
  execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dir,
    stdio: 'pipe',
  });
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: object };
  PACKAGES = Object.keys(lock.packages).length - 1;
  return dir;
}

function tag(what: string): string {
  const t = `slipway-bench/s2i-${what}:${randomUUID().slice(0, 8)}`;
  tags.push(t);
  return t;
}

function input(
  dir: string,
  extra: { incremental?: boolean; previousImage?: string | undefined },
): BuilderInput {
  return {
    docker,
    buildRef: { namespace: 'bench', name: 'app' },
    spec: {
      source: { type: 'Git', git: { uri: 'https://example.com/app.git' } },
      strategy: {
        type: 'Source',
        sourceStrategy: {
          from: { kind: 'DockerImage', name: BUILDER },
          incremental: extra.incremental ?? false,
          env: NPM_PATIENCE,
        },
      },
    } as BuildSpec,
    sourceDir: dir,
    contextDir: dir,
    source: {},
    fromImage: BUILDER,
    previousImage: extra.previousImage,
    tag: tag('out'),
    extraEnv: [],
    trustedCA: CA,
    log: () => undefined,
    signal: new AbortController().signal,
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/**
 * npm's registry is far away and the machine shared: patience, the same for both routes,
 * so that a slow fetch is a slow build rather than a failed run.
 */
const NPM_PATIENCE = [
  { name: 'npm_config_fetch_retries', value: '5' },
  { name: 'npm_config_fetch_timeout', value: '600000' },
];

/** The Dockerfile a developer would write for the same result on the same image. */
const DOCKERFILE = [
  `FROM ${BUILDER}`,
  'COPY --chown=1001:0 package.json package-lock.json ./',
  // The registry's chain needs the trusted CA, as the S2I build mounts it.
  'COPY bench-ca.crt /tmp/bench-ca.crt',
  `ENV ${NPM_PATIENCE.map((e) => `${e.name}=${e.value}`).join(' ')}`,
  'RUN NODE_EXTRA_CA_CERTS=/tmp/bench-ca.crt npm_config_cafile=/tmp/bench-ca.crt npm ci --no-progress && rm -rf .npm',
  'COPY --chown=1001:0 server.js ./',
  'CMD ["npm", "start"]',
  '',
].join('\n');

async function dockerBuild(dir: string, nocache: boolean): Promise<string> {
  const t = tag('dockerfile');
  const stream = await docker.buildImage(tarFs.pack(dir) as unknown as NodeJS.ReadableStream, {
    t,
    dockerfile: 'Dockerfile.bench',
    nocache,
    rm: true,
    forcerm: true,
  });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const failed = out.find((m) => m.error);
      if (err || failed) reject(err ?? new Error(failed?.error));
      else resolve();
    });
  });
  return t;
}

async function main(): Promise<void> {
  const dir = makeApp();
  try {
    writeFileSync(join(dir, 'Dockerfile.bench'), DOCKERFILE);
    copyFileSync(CA, join(dir, 'bench-ca.crt'));
    // .s2iignore keeps the Dockerfile and CA copy out of the S2I source, as they would not be in the repo.
    writeFileSync(join(dir, '.s2iignore'), 'Dockerfile.bench\nbench-ca.crt\n');

    const clean: number[] = [];
    const incremental: number[] = [];
    const noop: number[] = [];
    const dockerClean: number[] = [];
    const dockerCached: number[] = [];
    let previous: string | undefined;
    let change = 0;

    // One untimed build of each kind first: the engine's caches and npm's registry warm up.
    previous = (await sourceBuilder(input(dir, {}))).imageId;
    await dockerBuild(dir, true);

    for (let i = 0; i < RUNS; i++) {
      writeFileSync(join(dir, 'server.js'), server(++change));
      const c = await timed(() => sourceBuilder(input(dir, {})));
      clean.push(c.ms);
      previous = c.value.imageId;

      writeFileSync(join(dir, 'server.js'), server(++change));
      const inc = await timed(() =>
        sourceBuilder(input(dir, { incremental: true, previousImage: previous })),
      );
      incremental.push(inc.ms);

      // Nothing changed at all: what a rebuild costs when only the build itself is redone.
      noop.push(
        (
          await timed(() =>
            sourceBuilder(input(dir, { incremental: true, previousImage: inc.value.imageId })),
          )
        ).ms,
      );

      writeFileSync(join(dir, 'server.js'), server(++change));
      dockerClean.push((await timed(() => dockerBuild(dir, true))).ms);

      writeFileSync(join(dir, 'server.js'), server(++change));
      dockerCached.push((await timed(() => dockerBuild(dir, false))).ms);
      const last = (xs: number[]): string => `${((xs.at(-1) ?? 0) / 1000).toFixed(1)} s`;
      process.stderr.write(
        `run ${i + 1}/${RUNS}: clean ${last(clean)}, incremental ${last(incremental)}, no-op ${last(noop)}, ` +
          `docker ${last(dockerClean)}, docker+cache ${last(dockerCached)}\n`,
      );
    }

    const m = {
      clean: median(clean),
      incremental: median(incremental),
      noop: median(noop),
      docker: median(dockerClean),
      dockerCached: median(dockerCached),
    };
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    const all = (xs: number[]): string => xs.map((x) => (x / 1000).toFixed(1)).join(' ');
    process.stderr.write(
      `samples (s): clean ${all(clean)} | incremental ${all(incremental)} | no-op ${all(noop)} | docker ${all(dockerClean)} | cached ${all(dockerCached)}\n`,
    );
    console.log(`S2I benchmark: ${BUILDER}, express app (${PACKAGES} packages), median of ${RUNS} runs`);
    console.log(`  clean S2I build                  ${s(m.clean)}`);
    console.log(`  incremental S2I (one-line change) ${s(m.incremental)}`);
    console.log(`  incremental S2I, nothing changed  ${s(m.noop)}`);
    console.log(`  docker build, no cache           ${s(m.docker)}`);
    console.log(`  docker build, layer cache        ${s(m.dockerCached)}`);
    // Ratios within each run as well: the runs of one iteration share the machine's load.
    const paired = (a: number[], b: number[]): string =>
      median(a.map((x, i) => x / (b[i] as number))).toFixed(2);
    console.log(`  ratios of medians, then median of per-run ratios:`);
    console.log(
      `  incremental / clean              ${(m.incremental / m.clean).toFixed(2)}   ${paired(incremental, clean)}`,
    );
    console.log(
      `  no-op incremental / clean        ${(m.noop / m.clean).toFixed(2)}   ${paired(noop, clean)}`,
    );
    console.log(
      `  clean S2I / docker build         ${(m.clean / m.docker).toFixed(2)}   ${paired(clean, dockerClean)}`,
    );
    console.log(
      `  incremental S2I / cached docker  ${(m.incremental / m.dockerCached).toFixed(2)}   ${paired(incremental, dockerCached)}`,
    );
    console.log(
      `  load average at the end          ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    // The dependency layers the bench's builds made (namespace "bench").
    const layers = await docker.listImages({
      filters: JSON.stringify({ label: [`${DependencyNamespaceLabel}=bench`] }),
    });
    tags.push(
      ...layers.flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(`${DependencyRepository}:`)),
    );
    for (const t of tags)
      await docker
        .getImage(t)
        .remove({ force: true })
        .catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
