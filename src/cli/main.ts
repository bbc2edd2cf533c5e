/**
 * `slipway`: verbs follow `oc`. `up`, `server` and `worker` run Slipway; the rest talk to
 * its API with the token `up` stored (or --token / SLIPWAY_TOKEN).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import tar from 'tar-fs';
import { Command, Option } from 'commander';
import { loadConfig, type SlipwayConfig } from '../core/config.js';
import { lookupKind, resourcePath, type Resource } from '../core/resource.js';
import { createRuntime, startDeployments, startHttpServer, startRouter, startWorker } from '../runtime.js';
import { generateToken } from '../api/auth.js';
import { registerBuilderImages } from '../registry/builder-streams.js';
import { ApiError, parseTarget, SlipwayClient } from './client.js';
import { readCredentials, writeCredentials } from './credentials.js';
import { ensureRedis, ensureRegistry, redactRedisUrl, registryNotifyToken } from './local-stack.js';
import { describe, formatResources } from './output.js';
import { registerRolloutCommands } from './rollout.js';
import { DEPLOY_TARGET_WORDS, printDeployTarget, registerDeployTargetCommands } from './deploy-target.js';
import { parseManifests } from './manifests.js';
import { ensureSampleRepo, sampleBuildConfig } from './sample.js';

const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const BUILD = lookupKind('build.openshift.io/v1', 'Build')!;
const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('slipway')
  .description('Build and deploy, driven by events: OpenShift 3 builds on one machine or a fleet.')
  .option('--server <url>', 'Slipway API URL (default: from `slipway up`, or SLIPWAY_SERVER)')
  .option('--token <token>', 'API bearer token (default: from `slipway up`, or SLIPWAY_TOKEN)')
  .option('--config <file>', 'config file (JSON or YAML) for up/server/worker')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .showHelpAfterError();

function client(): SlipwayClient {
  const opts = program.opts<{ server?: string; token?: string }>();
  const saved = readCredentials();
  return new SlipwayClient({
    server: opts.server ?? process.env.SLIPWAY_SERVER ?? saved?.server ?? 'http://127.0.0.1:8080',
    token: opts.token ?? process.env.SLIPWAY_TOKEN ?? process.env.SLIPWAY_ADMIN_TOKEN ?? saved?.token,
  });
}

function ns(): string {
  return program.opts<{ namespace: string }>().namespace;
}

function config(flags: Record<string, unknown> = {}): SlipwayConfig {
  return loadConfig({ file: program.opts<{ config?: string }>().config, flags });
}

function readInput(file: string): string {
  return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
}

async function followBuildLog(c: SlipwayClient, namespace: string, name: string): Promise<Resource> {
  const res = await c.request('GET', `${resourcePath(BUILD, namespace, name)}/log?follow=true`);
  if (res.body) {
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
      process.stdout.write(decoder.decode(chunk, { stream: true }));
  }
  // The log closes when the build ends; its phase decides the exit code.
  for (let i = 0; i < 50; i++) {
    const build = await c.json('GET', resourcePath(BUILD, namespace, name));
    const phase = (build.status as { phase?: string } | undefined)?.phase;
    if (phase && ['Complete', 'Failed', 'Error', 'Cancelled'].includes(phase)) return build;
    await new Promise((r) => setTimeout(r, 200));
  }
  return c.json('GET', resourcePath(BUILD, namespace, name));
}

function exitForBuild(build: Resource): void {
  const s = (build.status ?? {}) as { phase?: string; reason?: string; message?: string };
  if (s.phase !== 'Complete') {
    process.stderr.write(
      `error: build ${build.metadata.name} ended ${s.phase}${s.reason ? ` (${s.reason})` : ''}${s.message ? `: ${s.message}` : ''}\n`,
    );
    process.exitCode = 1;
  }
}

/** How long a graceful stop may take, beyond the builds' grace period, before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 15_000;

/**
 * On SIGINT/SIGTERM, runs the steps in order (let running builds finish for up to
 * `graceSeconds`, handing back those that do not; close servers; disconnect). If they
 * have not finished by the deadline (Redis gone, a job stuck), the process exits with 1
 * anyway: a stop signal must stop. The grace period counts toward the deadline only when
 * builds are running. A second signal exits at once.
 */
function onShutdown(
  steps: (() => Promise<unknown> | undefined)[],
  builds?: { graceSeconds: number; running: () => number },
): void {
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) process.exit(1);
    stopping = true;
    const busy = builds !== undefined && builds.running() > 0;
    const deadlineMs = SHUTDOWN_DEADLINE_MS + (busy ? builds.graceSeconds * 1000 : 0);
    console.error(
      busy
        ? `${signal}: stopping (running builds get ${builds.graceSeconds}s to finish, then go back to the queue; a second ${signal} stops at once)`
        : `${signal}: stopping (finishing requests in flight; a second ${signal} stops at once)`,
    );
    setTimeout(() => {
      console.error(`error: could not stop cleanly within ${deadlineMs / 1000}s; exiting`);
      process.exit(1);
    }, deadlineMs).unref();
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        console.error(`error while stopping: ${(err as Error).message}`);
      }
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

program
  .command('version')
  .description('print the version')
  .action(() => console.log(`slipway v${pkg.version}`));

program
  .command('up')
  .description(
    'run everything on this machine: Redis and the registry if not running, the server and a worker',
  )
  .option('--sample', 'apply a sample BuildConfig and follow its first build')
  .option(
    '--allow-host-paths <prefixes>',
    'path prefixes hostPath volumes may use, comma-separated (SLIPWAY_ALLOW_HOST_PATHS; default: none)',
  )
  .action(async (opts: { sample?: boolean; allowHostPaths?: string }) => {
    // One machine: the worker shares the disk, so local repositories are fine to build.
    const cfg = config({
      allowHostPaths: opts.allowHostPaths,
      ...(process.env.SLIPWAY_ALLOW_FILE_SOURCES === undefined ? { allowFileSources: true } : {}),
      // One machine: builds trust what the host trusts, unless told otherwise.
      ...(process.env.SLIPWAY_TRUSTED_CA === undefined && existsSync(HOST_CA_BUNDLE)
        ? { trustedCA: HOST_CA_BUNDLE }
        : {}),
    });
    // Redis gets a password up keeps in the data directory; the URL carries it from here on.
    const redis = await ensureRedis({
      redisUrl: cfg.redisUrl,
      dataDir: cfg.dataDir,
      generate: generateToken,
    });
    console.log(redis.message);
    cfg.redisUrl = redis.url;
    const notifyToken = registryNotifyToken(cfg.dataDir, cfg.registryNotifyToken, generateToken);
    console.log(
      await ensureRegistry(cfg.registry, cfg.dataDir, {
        url: `http://${cfg.listen}/webhooks/registry`,
        token: notifyToken,
      }),
    );
    const rt = await createRuntime({ ...cfg, registryNotifyToken: notifyToken });
    let token = cfg.adminToken;
    const saved = readCredentials();
    if (!token && saved && (await rt.tokens.verify(saved.token))) token = saved.token;
    const http = await startHttpServer(rt);
    if (!token) {
      token = generateToken();
      await rt.tokens.add(token, 'admin');
      console.log(`\nAdmin token (shown once; saved for the CLI): ${token}`);
    }
    writeCredentials({ server: http.url, token });
    const worker = startWorker(rt);
    const deployments = await startDeployments(rt, { apiUrl: http.url });
    // The router proxies to replicas on this machine's loopback: only the local target has them.
    const router = rt.deployTarget.name === 'docker' ? await startRouter(rt) : undefined;
    const builders = await registerBuilderImages({
      docker: rt.docker,
      store: rt.store,
      registry: cfg.registry,
      log: (l) => console.log(l),
    });
    console.log(`\nSlipway v${pkg.version} is up.`);
    console.log(`  API:                  ${http.url}/apis`);
    console.log(`  Web UI:               ${http.url}/ui`);
    console.log(`  GitHub webhooks:      ${http.url}/webhooks/github`);
    console.log(`  Registry webhooks:    ${http.url}/webhooks/registry`);
    console.log(`  Metrics:              ${http.url}/metrics`);
    console.log(`  Health:               ${http.url}/healthz  ${http.url}/readyz`);
    console.log(`  Image registry:       http://${cfg.registry}/v2/`);
    console.log(`  Redis:                ${redactRedisUrl(cfg.redisUrl)}`);
    if (router)
      console.log(
        `  Router (Routes):      ${router.url}  (a Route without spec.host answers to NAME-NAMESPACE.${cfg.routerDomain})`,
      );
    else console.log(`  Deploy target:        Kubernetes (${cfg.kubeconfig ?? 'in-cluster'})`);
    if (builders.length > 0) console.log(`  S2I builder streams:  ${builders.join(', ')}`);
    onShutdown(
      [
        () => worker.close(),
        () => deployments.close(),
        () => router?.close(),
        () => http.close(),
        () => rt.close(),
      ],
      { graceSeconds: cfg.shutdownGraceSeconds, running: () => worker.running() },
    );
    if (opts.sample) {
      const repo = ensureSampleRepo(cfg.dataDir, cfg.baseImage);
      const c = new SlipwayClient({ server: http.url, token });
      const bc = sampleBuildConfig(repo);
      const existing = await c.get(BUILD_CONFIG, 'default', 'hello');
      if (existing)
        await c.json('PUT', resourcePath(BUILD_CONFIG, 'default', 'hello'), {
          ...bc,
          metadata: { ...bc.metadata, resourceVersion: existing.metadata.resourceVersion },
        });
      else await c.json('POST', resourcePath(BUILD_CONFIG, 'default'), bc);
      const build = await c.json('POST', `${resourcePath(BUILD_CONFIG, 'default', 'hello')}/instantiate`, {
        kind: 'BuildRequest',
        apiVersion: 'build.openshift.io/v1',
        metadata: { name: 'hello' },
      });
      console.log(`\nSample: build.build.openshift.io/${build.metadata.name} started; following its log\n`);
      const done = await followBuildLog(c, 'default', build.metadata.name);
      const s = (done.status ?? {}) as {
        phase?: string;
        outputDockerImageReference?: string;
        output?: { to?: { imageDigest?: string } };
      };
      console.log(
        `\nSample build ${done.metadata.name}: ${s.phase}${s.outputDockerImageReference ? `, pushed ${s.outputDockerImageReference} (${s.output?.to?.imageDigest})` : ''}`,
      );
      console.log('Slipway keeps running; Ctrl-C stops it.');
    }
  });

program
  .command('server')
  .description('run the HTTP server (API and webhooks) only')
  .option(
    '--allow-host-paths <prefixes>',
    'path prefixes hostPath volumes may use, comma-separated (SLIPWAY_ALLOW_HOST_PATHS; default: none)',
  )
  .action(async (opts: { allowHostPaths?: string }) => {
    const rt = await createRuntime(config({ allowHostPaths: opts.allowHostPaths }));
    const http = await startHttpServer(rt);
    console.log(`Slipway server listening on ${http.url}`);
    onShutdown([() => http.close(), () => rt.close()]);
  });

program
  .command('worker')
  .description(
    'run a worker: builds, rollouts and, for the local Docker target, its router (any number may share one Redis)',
  )
  .option('--concurrency <n>', 'builds run at once by this worker')
  .action(async (opts: { concurrency?: string }) => {
    const rt = await createRuntime(config(opts.concurrency ? { workerConcurrency: opts.concurrency } : {}));
    const worker = startWorker(rt);
    // Replicas publish on this machine's loopback: the router runs where they do.
    const deployments = await startDeployments(rt);
    const router = rt.deployTarget.name === 'docker' ? await startRouter(rt) : undefined;
    console.log(
      `Slipway worker ${worker.id} taking builds and rollouts from ${redactRedisUrl(rt.config.redisUrl)}`,
    );
    if (router) console.log(`Router (Routes) listening on ${router.url}`);
    onShutdown([() => worker.close(), () => deployments.close(), () => router?.close(), () => rt.close()], {
      graceSeconds: rt.config.shutdownGraceSeconds,
      running: () => worker.running(),
    });
  });

program
  .command('apply')
  .description('create or update resources from YAML or JSON files (many documents, or a List)')
  .requiredOption('-f, --filename <file...>', 'file to apply, or - for standard input')
  .action(async (opts: { filename: string[] }) => {
    const c = client();
    let failed = 0;
    for (const file of opts.filename) {
      for (const obj of parseManifests(readInput(file), file)) {
        try {
          const info = lookupKind(String(obj.apiVersion ?? ''), String(obj.kind ?? ''));
          if (!info)
            throw new ApiError(
              0,
              `error: ${file}: no matches for kind "${obj.kind}" in version "${obj.apiVersion}"`,
            );
          const name = obj.metadata?.name;
          if (!name) throw new ApiError(0, `error: ${file}: a ${info.kind} has no metadata.name`);
          const namespace = obj.metadata.namespace ?? ns();
          const existing = await c.get(info, namespace, name);
          const label = `${info.kind.toLowerCase()}.${info.group || 'core'}/${name}`;
          if (existing) {
            await c.json('PUT', resourcePath(info, namespace, name), {
              ...obj,
              metadata: { ...obj.metadata, namespace, resourceVersion: existing.metadata.resourceVersion },
            });
            console.log(`${label} configured`);
          } else {
            await c.json('POST', resourcePath(info, namespace), {
              ...obj,
              metadata: { ...obj.metadata, namespace },
            });
            console.log(`${label} created`);
          }
        } catch (err) {
          failed++;
          console.error((err as Error).message);
        }
      }
    }
    if (failed > 0) process.exitCode = 1;
  });

program
  .command('get')
  .description('list resources: get bc, get builds, get is/NAME …')
  .argument('<type>', 'resource type, or TYPE/NAME')
  .argument('[name]', 'resource name')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['json', 'yaml', 'name', 'wide']))
  .option('-A, --all-namespaces', 'list across all namespaces')
  .option('-l, --selector <selector>', 'label selector, e.g. app=web')
  .action(
    async (
      type: string,
      name: string | undefined,
      opts: { output?: string; allNamespaces?: boolean; selector?: string },
    ) => {
      const c = client();
      // A namespace's deploy target is no resource kind: `get deploy-target [NAMESPACE]`.
      if (DEPLOY_TARGET_WORDS.includes(type)) return printDeployTarget(c, name ?? ns(), opts.output);
      const target = parseTarget(type, name);
      if (target.name) {
        const obj = await c.json('GET', resourcePath(target.info, ns(), target.name));
        console.log(formatResources(target.info, [obj], opts.output));
      } else {
        const items = await c.list(target.info, opts.allNamespaces ? undefined : ns(), opts.selector);
        console.log(formatResources(target.info, items, opts.output, opts.allNamespaces));
      }
    },
  );

program
  .command('describe')
  .description('show a resource in detail')
  .argument('<type>')
  .argument('[name]')
  .action(async (type: string, name: string | undefined) => {
    const c = client();
    const target = parseTarget(type, name);
    if (!target.name) throw new ApiError(0, 'error: describe needs a name');
    console.log(describe(target.info, await c.json('GET', resourcePath(target.info, ns(), target.name))));
  });

program
  .command('delete')
  .description('delete resources by type and name, or those in a file')
  .argument('[type]')
  .argument('[names...]')
  .option('-f, --filename <file>', 'delete the resources a file describes')
  .action(async (type: string | undefined, names: string[], opts: { filename?: string }) => {
    const c = client();
    const targets: { info: ReturnType<typeof parseTarget>['info']; namespace: string; name: string }[] = [];
    if (opts.filename) {
      for (const obj of parseManifests(readInput(opts.filename), opts.filename)) {
        const info = lookupKind(String(obj.apiVersion), String(obj.kind));
        if (info) targets.push({ info, namespace: obj.metadata.namespace ?? ns(), name: obj.metadata.name });
      }
    } else {
      if (!type) throw new ApiError(0, 'error: delete needs TYPE NAME or -f FILE');
      const first = parseTarget(type, names[0]);
      const all = type.includes('/') ? [first.name!, ...names] : names;
      if (all.length === 0) throw new ApiError(0, 'error: delete needs at least one name');
      for (const n of all) targets.push({ info: first.info, namespace: ns(), name: n });
    }
    for (const t of targets) {
      await c.json('DELETE', resourcePath(t.info, t.namespace, t.name));
      console.log(`${t.info.kind.toLowerCase()}.${t.info.group || 'core'} "${t.name}" deleted`);
    }
  });

function keyValues(
  values: string[] | undefined,
  flag: string,
): { name: string; value: string }[] | undefined {
  return values?.map((kv) => {
    const idx = kv.indexOf('=');
    if (idx <= 0) throw new ApiError(0, `error: ${flag} "${kv}" is not NAME=VALUE`);
    return { name: kv.slice(0, idx), value: kv.slice(idx + 1) };
  });
}

program
  .command('start-build')
  .description('start a build of a BuildConfig')
  .argument('<buildconfig>')
  .option('-F, --follow', 'print the build log as it happens; exit non-zero if the build fails')
  .option('-w, --wait', 'wait for the build to end; exit non-zero if it fails')
  .option('--commit <sha>', 'build this commit')
  .option('-e, --env <NAME=VALUE...>', 'environment for the build')
  .option('--build-arg <NAME=VALUE...>', 'Docker build arguments')
  .option('--no-cache', 'do not use the Docker build cache')
  .option('--from-dir <dir>', 'upload this directory as the source (binary build)')
  .option('--from-file <file>', 'upload this one file as the source (binary build)')
  .option('--from-archive <file>', 'upload this tar or tar.gz archive as the source (binary build)')
  .action(
    async (
      bc: string,
      opts: {
        follow?: boolean;
        wait?: boolean;
        commit?: string;
        env?: string[];
        buildArg?: string[];
        cache?: boolean;
        fromDir?: string;
        fromFile?: string;
        fromArchive?: string;
      },
    ) => {
      const c = client();
      const name = bc.replace(/^(bc|buildconfig|buildconfigs)\//, '');
      const upload = await binaryUpload(opts);
      if (upload) {
        const q = new URLSearchParams();
        if (upload.asFile) q.set('asFile', upload.asFile);
        if (opts.commit) q.set('revision.commit', opts.commit);
        const res = await c.request(
          'POST',
          `${resourcePath(BUILD_CONFIG, ns(), name)}/instantiatebinary${q.size ? `?${q}` : ''}`,
          upload.data,
          'application/octet-stream',
        );
        const build = (await res.json()) as Resource;
        console.log(
          `Uploading ${upload.what} (${upload.data.length} bytes) ...\nbuild.build.openshift.io/${build.metadata.name} started`,
        );
        if (opts.follow) exitForBuild(await followBuildLog(c, ns(), build.metadata.name));
        else if (opts.wait) exitForBuild(await followBuildLogQuietly(c, ns(), build.metadata.name));
        return;
      }
      const request: Record<string, unknown> = {
        kind: 'BuildRequest',
        apiVersion: 'build.openshift.io/v1',
        metadata: { name },
      };
      if (opts.commit) request.revision = { git: { commit: opts.commit } };
      const env = keyValues(opts.env, '--env');
      if (env) request.env = env;
      const buildArgs = keyValues(opts.buildArg, '--build-arg');
      if (buildArgs || opts.cache === false) {
        request.dockerStrategyOptions = {
          ...(buildArgs ? { buildArgs } : {}),
          ...(opts.cache === false ? { noCache: true } : {}),
        };
      }
      const build = await c.json('POST', `${resourcePath(BUILD_CONFIG, ns(), name)}/instantiate`, request);
      console.log(`build.build.openshift.io/${build.metadata.name} started`);
      if (opts.follow) exitForBuild(await followBuildLog(c, ns(), build.metadata.name));
      else if (opts.wait) {
        const abortless = await followBuildLogQuietly(c, ns(), build.metadata.name);
        exitForBuild(abortless);
      }
    },
  );

/** The body of an instantiatebinary request from --from-dir, --from-file or --from-archive. */
async function binaryUpload(opts: {
  fromDir?: string;
  fromFile?: string;
  fromArchive?: string;
}): Promise<{ data: Uint8Array; asFile?: string; what: string } | undefined> {
  const given = [opts.fromDir, opts.fromFile, opts.fromArchive].filter((v) => v !== undefined);
  if (given.length > 1)
    throw new ApiError(0, 'error: use only one of --from-dir, --from-file and --from-archive');
  if (opts.fromFile)
    return {
      data: readFileSync(opts.fromFile),
      asFile: basename(opts.fromFile),
      what: `file ${opts.fromFile}`,
    };
  if (opts.fromArchive) return { data: readFileSync(opts.fromArchive), what: `archive ${opts.fromArchive}` };
  if (!opts.fromDir) return undefined;
  if (!statSync(opts.fromDir, { throwIfNoEntry: false })?.isDirectory())
    throw new ApiError(0, `error: --from-dir ${opts.fromDir} is not a directory`);
  const chunks: Buffer[] = [];
  // .git is history, not source: oc start-build --from-dir leaves it out too.
  for await (const chunk of tar.pack(opts.fromDir, { ignore: (p) => basename(p) === '.git' }))
    chunks.push(chunk as Buffer);
  return { data: Buffer.concat(chunks), what: `directory ${opts.fromDir}` };
}

async function followBuildLogQuietly(c: SlipwayClient, namespace: string, name: string): Promise<Resource> {
  const res = await c.request('GET', `${resourcePath(BUILD, namespace, name)}/log?follow=true`);
  await res.text();
  return c.json('GET', resourcePath(BUILD, namespace, name));
}

program
  .command('logs')
  .description('print a build log: logs build/NAME, or bc/NAME for its latest build')
  .argument('<target>')
  .option('-f, --follow', 'keep printing until the build ends; exit non-zero if it fails')
  .action(async (target: string, opts: { follow?: boolean }) => {
    const c = client();
    const { info, name } = parseTarget(target.includes('/') ? target : `build/${target}`);
    if (!name) throw new ApiError(0, 'error: logs needs build/NAME or bc/NAME');
    let buildName = name;
    if (info.kind === 'BuildConfig') {
      const bcObj = await c.json('GET', resourcePath(BUILD_CONFIG, ns(), name));
      const last = (bcObj.status as { lastVersion?: number } | undefined)?.lastVersion;
      if (!last) throw new ApiError(0, `error: BuildConfig "${name}" has no builds yet`);
      buildName = `${name}-${last}`;
    } else if (info.kind !== 'Build')
      throw new ApiError(0, `error: logs are kept for builds, not ${info.plural}`);
    if (opts.follow) exitForBuild(await followBuildLog(c, ns(), buildName));
    else
      process.stdout.write(
        await (await c.request('GET', `${resourcePath(BUILD, ns(), buildName)}/log`)).text(),
      );
  });

program
  .command('cancel-build')
  .description('cancel builds, at any phase')
  .argument('<builds...>')
  .action(async (builds: string[]) => {
    const c = client();
    for (const b of builds) {
      const name = b.replace(/^(build|builds)\//, '');
      await c.json('POST', `${resourcePath(BUILD, ns(), name)}/cancel`, {});
      console.log(`build.build.openshift.io/${name} cancelled`);
    }
  });

registerRolloutCommands(program, client, ns);
registerDeployTargetCommands(program, client, ns);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof ApiError ? err.message : `error: ${(err as Error).message}`);
  process.exit(1);
});
