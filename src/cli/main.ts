/**
 * `slipway`: verbs follow `oc`. `up`, `server` and `worker` run Slipway; the rest talk to
 * its API with the token `up` stored (or --token / SLIPWAY_TOKEN).
 *
 * Start-up time matters here: a verb that talks to the API loads commander, the HTTP
 * client and output formatting, nothing more. The runtime (and with it Redis, BullMQ,
 * Docker and Kubernetes clients) is imported inside the actions of `up`, `server` and
 * `worker`; tar-fs and yaml only where a flag needs them. test/integration/cli-modules.test.ts
 * fails if a light verb loads any of them; see docs/cli.md.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { lookupKind, resourcePath, type Resource } from '../core/resource.js';
import { exitForBuild, followBuildLog, followBuildLogQuietly } from './build-log.js';
import { ApiError, parseTarget, SlipwayClient } from './client.js';
import { readCredentials, readCurrentProject } from './credentials.js';
import { describe, formatResources } from './output.js';
import { registerAccessCommands } from './access.js';
import { registerProcessCommands } from './process.js';
import { registerTagCommands } from './tag.js';
import { registerRolloutCommands } from './rollout.js';
import { registerNewAppCommands } from './new-app.js';
import { registerExposeCommands } from './expose.js';
import { registerStatusCommands } from './status.js';
import { registerScaleCommands } from './scale.js';
import { registerSetCommands } from './set.js';
import { describeQuotas, registerQuotaCommands } from './quota.js';
import type { RunGlobals } from './run-commands.js';
import { DEPLOY_TARGET_WORDS, printDeployTarget, registerDeployTargetCommands } from './deploy-target.js';
import { slipwayVersion } from './version.js';

const BUILD = lookupKind('build.openshift.io/v1', 'Build')!;
const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;

const program = new Command('slipway')
  .description('Build and deploy, driven by events: OpenShift 3 builds on one machine or a fleet.')
  .option('--server <url>', 'Slipway API URL (default: from `slipway up`, or SLIPWAY_SERVER)')
  .option('--token <token>', 'API bearer token (default: from `slipway up`, or SLIPWAY_TOKEN)')
  .option('--config <file>', 'config file (JSON or YAML) for up/server/worker')
  .option('-n, --namespace <ns>', 'namespace (default: the current project, else "default")')
  .showHelpAfterError();

function serverUrl(): string {
  const opts = program.opts<{ server?: string }>();
  return opts.server ?? process.env.SLIPWAY_SERVER ?? readCredentials()?.server ?? 'http://127.0.0.1:8080';
}

function client(): SlipwayClient {
  const opts = program.opts<{ token?: string }>();
  return new SlipwayClient({
    server: serverUrl(),
    token:
      opts.token ?? process.env.SLIPWAY_TOKEN ?? process.env.SLIPWAY_ADMIN_TOKEN ?? readCredentials()?.token,
  });
}

function ns(): string {
  return program.opts<{ namespace?: string }>().namespace ?? readCurrentProject() ?? 'default';
}

/** What `up`, `server` and `worker` take from the global options. */
function runGlobals(): RunGlobals {
  return { configFile: program.opts<{ config?: string }>().config };
}

function readInput(file: string): string {
  return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
}

/** `apply -f` and `delete -f` read manifests; their YAML parser loads only for them. */
async function readManifests(file: string): Promise<Resource[]> {
  const { parseManifests } = await import('./manifests.js');
  return parseManifests(readInput(file), file);
}

program
  .command('version')
  .description('print the version')
  .action(() => console.log(`slipway v${slipwayVersion()}`));

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
    const { runUp } = await import('./run-commands.js');
    await runUp(runGlobals(), opts);
  });

program
  .command('server')
  .description('run the HTTP server (API and webhooks) only')
  .option(
    '--allow-host-paths <prefixes>',
    'path prefixes hostPath volumes may use, comma-separated (SLIPWAY_ALLOW_HOST_PATHS; default: none)',
  )
  .action(async (opts: { allowHostPaths?: string }) => {
    const { runServer } = await import('./run-commands.js');
    await runServer(runGlobals(), opts);
  });

program
  .command('worker')
  .description(
    'run a worker: builds, rollouts and, for the local Docker target, its router (any number may share one Redis)',
  )
  .option('--concurrency <n>', 'builds run at once by this worker')
  .action(async (opts: { concurrency?: string }) => {
    const { runWorker } = await import('./run-commands.js');
    await runWorker(runGlobals(), opts);
  });

program
  .command('apply')
  .description('create or update resources from YAML or JSON files (many documents, or a List)')
  .requiredOption('-f, --filename <file...>', 'file to apply, or - for standard input')
  .action(async (opts: { filename: string[] }) => {
    const c = client();
    let failed = 0;
    for (const file of opts.filename) {
      for (const obj of await readManifests(file)) {
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
        console.log(await formatResources(target.info, [obj], opts.output));
      } else {
        const items = await c.list(target.info, opts.allNamespaces ? undefined : ns(), opts.selector);
        console.log(await formatResources(target.info, items, opts.output, opts.allNamespaces));
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
    // As `oc describe quota`: the Resource / Used / Hard table, of every quota when no name is given.
    if (target.info.kind === 'ResourceQuota') return console.log(await describeQuotas(c, ns(), target.name));
    if (!target.name) throw new ApiError(0, 'error: describe needs a name');
    console.log(
      await describe(target.info, await c.json('GET', resourcePath(target.info, ns(), target.name))),
    );
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
      for (const obj of await readManifests(opts.filename)) {
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
  .option('--no-cache', "build for real: no earlier build's image reused, no Docker layer cache")
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
  const { default: tar } = await import('tar-fs');
  const chunks: Buffer[] = [];
  // .git is history, not source: oc start-build --from-dir leaves it out too.
  for await (const chunk of tar.pack(opts.fromDir, { ignore: (p) => basename(p) === '.git' }))
    chunks.push(chunk as Buffer);
  return { data: Buffer.concat(chunks), what: `directory ${opts.fromDir}` };
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
registerProcessCommands(program, client, ns);
registerAccessCommands(program, client, ns, serverUrl);
registerTagCommands(program, client, ns);
registerDeployTargetCommands(program, client, ns);
registerNewAppCommands(program, client, ns);
registerExposeCommands(program, client, ns);
registerStatusCommands(program, client, ns);
registerScaleCommands(program, client, ns);
// After deploy-target: both add subcommands to `set`.
registerSetCommands(program, client, ns);
registerQuotaCommands(program, client, ns);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof ApiError ? err.message : `error: ${(err as Error).message}`);
  process.exit(1);
});
