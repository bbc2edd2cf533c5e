/**
 * `slipway new-app <git-url>|<dir>`, as `oc new-app`: detects what the source is (a
 * Dockerfile, or the language of a Node.js, Python or static site), creates the
 * ImageStream, BuildConfig, DeploymentConfig and Service, prints the webhook URLs with
 * their freshly made secrets, and starts the first build. docs/getting-started.md tells
 * how a directory is read (its git remote, or an upload).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { Option } from 'commander';
import { lookupKind, resourcePath, type KindInfo, type Resource } from '../core/resource.js';
import {
  BUILDER_PORT,
  DetectionError,
  MAX_DOCKERFILE_BYTES,
  detectApp,
  isDirectory,
  localGitInfo,
  scanDirectory,
  type BuildStrategyType,
  type Detection,
  type RepoFiles,
} from './app-detect.js';
import { ApiError, type SlipwayClient } from './client.js';
import { processOnServer, type ProcessRequest } from './process.js';
import {
  appNameFrom,
  appNameProblem,
  chooseBuilder,
  newAppResources,
  parseGitUrl,
  parseImageStreamArg,
  remoteSource,
  webhookUrl,
  type AppSource,
  type BuilderRef,
} from './new-app-resources.js';
import { serverInfo } from './server-info.js';

const run = promisify(execFile);
const IMAGE_STREAM = lookupKind('image.openshift.io/v1', 'ImageStream')!;
const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;
/** Where new-app looks for builder image streams, as OpenShift keeps its own. */
export const BUILDER_NAMESPACE = 'openshift';
/** How long the detection clone of a git URL may take. */
const CLONE_TIMEOUT_MS = 120_000;
/** A repository whose top level git lists more than this is not read further. */
const MAX_TREE_OUTPUT = 4 * 1024 * 1024;

function fail(message: string): never {
  throw new ApiError(0, `error: ${message}`);
}

/** A webhook secret: 20 random bytes, URL-safe (it is part of the webhook's path). */
export function generateWebhookSecret(): string {
  return randomBytes(20).toString('base64url');
}

/**
 * The top-level files of a remote repository: a shallow bare clone (no checkout, so none
 * of the repository's files or symlinks land on disk) read with `git ls-tree`. Only
 * regular files (blob modes 100644 and 100755) count; symlinks (120000) do not.
 */
async function scanGitUrl(uri: string, ref: string | undefined): Promise<RepoFiles> {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-new-app-'));
  // No prompts, no ext:: or fd:: transports, no system or user config (credential helpers aside).
  const env = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: 'http:https:ssh:git:file',
    GIT_CONFIG_NOSYSTEM: '1',
  };
  const opts = { env, timeout: CLONE_TIMEOUT_MS, maxBuffer: MAX_TREE_OUTPUT };
  try {
    const args = ['clone', '-q', '--bare', '--depth', '1', '--single-branch'];
    if (ref) args.push('--branch', ref);
    try {
      await run('git', [...args, '--', uri, join(dir, 'repo.git')], opts);
    } catch (err) {
      const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
      fail(
        `cannot read ${uri}${ref ? ` at ${ref}` : ''}: ${stderr.split('\n').pop() || (err as Error).message}`,
      );
    }
    const git = (...a: string[]): Promise<{ stdout: string }> =>
      run('git', ['--git-dir', join(dir, 'repo.git'), ...a], opts);
    const { stdout } = await git('ls-tree', '-z', '-l', 'HEAD');
    const names = new Set<string>();
    let dockerfile: string | undefined;
    for (const entry of stdout.split('\0')) {
      // "<mode> <type> <object> <size>\t<name>"
      const m = /^(\d+) blob ([0-9a-f]+)\s+(\d+)\t(.+)$/.exec(entry);
      if (!m || (m[1] !== '100644' && m[1] !== '100755')) continue;
      names.add(m[4]!);
      if (m[4] === 'Dockerfile' && Number(m[3]) <= MAX_DOCKERFILE_BYTES)
        dockerfile = (await git('cat-file', 'blob', m[2]!)).stdout;
    }
    // A Dockerfile too large to read still names the strategy; its EXPOSE is not looked for.
    if (names.has('Dockerfile') && dockerfile === undefined) dockerfile = '';
    return { names, dockerfile };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A directory as a tar archive, without .git (as `start-build --from-dir`); symlinks stay symlinks. */
async function packDirectory(dir: string): Promise<Buffer> {
  // tar-fs loads only for an upload: the CLI's light verbs load nothing they do not use.
  const { default: tar } = await import('tar-fs');
  const chunks: Buffer[] = [];
  for await (const chunk of tar.pack(dir, { ignore: (p) => basename(p) === '.git' }))
    chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Plan {
  source: AppSource;
  files: RepoFiles;
  /** What the source is, for the first line of output. */
  where: string;
  /** Directory to upload (Binary source). */
  uploadDir?: string;
  notes: string[];
  defaultName: string | undefined;
}

async function planSource(arg: string, binary: boolean): Promise<Plan> {
  if (isDirectory(arg)) {
    const dir = resolve(arg);
    const files = scanDirectory(dir);
    const git = localGitInfo(dir);
    const remote = git?.remote ? remoteSource(git.remote) : undefined;
    const notes: string[] = [];
    if (remote && !binary) {
      if (remote.droppedCredentials)
        notes.push(
          'the remote URL carried credentials; they are left out (name a source Secret for a private repository)',
        );
      notes.push(
        `building from ${arg}'s git remote "origin" (${remote.uri}${git?.branch ? `, branch ${git.branch}` : ''}): commits not pushed there are not built`,
      );
      return {
        source: { type: 'Git', uri: remote.uri, ref: git?.branch },
        files,
        where: remote.uri,
        notes,
        defaultName: appNameFrom(remote.uri) ?? appNameFrom(dir),
      };
    }
    notes.push(
      binary
        ? `--binary: ${arg} is uploaded as the build's source`
        : `${arg} has no git remote a worker can fetch${git?.remote ? ` ("origin" is ${git.remote.startsWith('/') || git.remote.startsWith('file:') ? 'a local path' : 'not a network URL'})` : ''}: its files are uploaded as the build's source (a Binary build); run 'slipway start-build NAME --from-dir ${arg}' to build it again`,
    );
    return {
      source: { type: 'Binary' },
      files,
      where: dir,
      uploadDir: dir,
      notes,
      defaultName: appNameFrom(dir),
    };
  }
  const url = parseGitUrl(arg);
  if (!url)
    fail(`"${arg}" is neither a directory nor a git URL (https://…, git@host:path, git://…, ssh://…)`);
  if (binary) fail('--binary uploads a directory; give a directory, not a git URL');
  const files = await scanGitUrl(url.uri, url.ref);
  return {
    source: { type: 'Git', ...url },
    files,
    where: url.uri,
    notes: [],
    defaultName: appNameFrom(url.uri),
  };
}

async function pickBuilder(
  c: SlipwayClient,
  detection: Detection,
  imageStream: BuilderRef | undefined,
): Promise<BuilderRef | undefined> {
  if (detection.strategy === 'Docker') return undefined;
  if (imageStream) {
    const stream = await c.get(IMAGE_STREAM, imageStream.namespace, imageStream.name.split(':')[0]!);
    if (!stream)
      fail(
        `--image-stream: image stream "${imageStream.namespace}/${imageStream.name.split(':')[0]}" does not exist`,
      );
    return imageStream;
  }
  const streams = await c.list(IMAGE_STREAM, BUILDER_NAMESPACE);
  const builder = chooseBuilder(detection.language!, streams as never);
  if (!builder)
    fail(
      `no builder image stream for ${detection.language} in namespace "${BUILDER_NAMESPACE}": 'slipway up' registers openshift/nodejs, openshift/python and openshift/static once their images are built (scripts/build-builder-images.sh); or name one with --image-stream NS/NAME`,
    );
  return builder;
}

function label(obj: Resource): string {
  const info = lookupKind(obj.apiVersion, obj.kind)!;
  return `${info.kind.toLowerCase()}${info.group ? `.${info.group}` : ''} "${obj.metadata.name}"`;
}

function kindOf(obj: Resource): KindInfo {
  return lookupKind(obj.apiVersion, obj.kind)!;
}

function collectValues(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `new-app --template T -p K=V` (or `-f FILE`): the template processed by the server, each
 * object created, the template's message printed. Nothing is created when a name is taken.
 */
async function newAppFromTemplate(c: SlipwayClient, ns: string, req: ProcessRequest): Promise<void> {
  const processed = await processOnServer(c, ns, req);
  const objects = (processed.objects ?? []) as Resource[];
  const unknown = objects.filter((o) => !lookupKind(String(o.apiVersion ?? ''), String(o.kind ?? '')));
  if (unknown.length > 0)
    fail(
      `the template makes kinds this server does not keep: ${unknown.map((o) => `${o.apiVersion}/${o.kind}`).join(', ')}`,
    );
  const taken: string[] = [];
  for (const obj of objects) if (await c.get(kindOf(obj), ns, obj.metadata.name)) taken.push(label(obj));
  if (taken.length > 0)
    fail(`${taken.join(', ')} already exist${taken.length === 1 ? 's' : ''} in namespace "${ns}"`);
  console.log(`--> Deploying template "${processed.metadata.name}" to project ${ns}`);
  for (const p of processed.parameters ?? [])
    if (p.generate === 'expression') console.log(`    * With parameter ${p.name}=${p.value} (generated)`);
  console.log('\n--> Creating resources ...');
  for (const obj of objects) {
    await c.json('POST', resourcePath(kindOf(obj), ns), obj);
    console.log(`    ${label(obj)} created`);
  }
  console.log('\n--> Success');
  if (processed.message) console.log(`    ${processed.message.trim().replace(/\n/g, '\n    ')}`);
  console.log("    Run 'slipway status' to view your app.");
}

export function registerNewAppCommands(
  program: Command,
  client: () => SlipwayClient,
  namespace: () => string,
): void {
  program
    .command('new-app')
    .description(
      'create an app from a git repository or a directory: detects Node.js, Python, a static site or a Dockerfile; creates the image stream, build config, deployment config and service; starts the first build',
    )
    .argument('[source]', 'a git URL (optionally URL#ref) or a local directory')
    .option('--template <name>', 'instantiate a Template stored in the project or in "openshift" instead')
    .option('-f, --file <file>', 'instantiate the Template in this file instead')
    .option('-p, --param <NAME=VALUE>', 'a template parameter (repeatable)', collectValues)
    .option('--param-file <file>', 'a file of NAME=VALUE template parameters (repeatable)', collectValues)
    .option(
      '--name <name>',
      'name of the app and of everything created for it (default: from the repository)',
    )
    .addOption(
      new Option(
        '--strategy <strategy>',
        'build strategy (default: docker when there is a Dockerfile)',
      ).choices(['docker', 'source']),
    )
    .option(
      '--image-stream <ns/name[:tag]>',
      'the builder image stream of a source build (default: detected, e.g. openshift/nodejs)',
    )
    .option('--binary', 'upload the directory as the source even when it has a git remote')
    .action(
      async (
        arg: string | undefined,
        opts: {
          name?: string;
          strategy?: 'docker' | 'source';
          imageStream?: string;
          binary?: boolean;
          template?: string;
          file?: string;
          param?: string[];
          paramFile?: string[];
        },
      ) => {
        const c = client();
        const ns = namespace();
        if (opts.template !== undefined || opts.file !== undefined) {
          if (arg !== undefined || (opts.template !== undefined && opts.file !== undefined))
            fail('give one of: a source, --template NAME, or -f FILE');
          await newAppFromTemplate(c, ns, {
            ...(opts.template === undefined ? {} : { name: opts.template }),
            ...(opts.file === undefined ? {} : { file: opts.file }),
            ...(opts.param === undefined ? {} : { params: opts.param }),
            ...(opts.paramFile === undefined ? {} : { paramFile: opts.paramFile }),
          });
          return;
        }
        if (opts.param !== undefined || opts.paramFile !== undefined)
          fail('-p and --param-file go with --template or -f');
        if (arg === undefined) fail('give a git URL or a directory (or --template NAME, or -f FILE)');
        const imageStream =
          opts.imageStream === undefined ? undefined : parseImageStreamArg(opts.imageStream);
        if (opts.imageStream !== undefined && !imageStream)
          fail(`--image-stream "${opts.imageStream}" is not NAMESPACE/NAME or NAMESPACE/NAME:TAG`);
        if (imageStream && opts.strategy === 'docker')
          fail('--image-stream names the builder of a source build; it cannot go with --strategy docker');
        if (opts.name !== undefined) {
          const problem = appNameProblem(opts.name);
          if (problem) fail(problem);
        }
        const plan = await planSource(arg, opts.binary === true);
        const strategy: BuildStrategyType | undefined = imageStream
          ? 'Source'
          : opts.strategy === 'docker'
            ? 'Docker'
            : opts.strategy === 'source'
              ? 'Source'
              : undefined;
        let detection: Detection;
        try {
          detection = detectApp(plan.files, strategy ? { strategy } : {});
        } catch (err) {
          if (!(err instanceof DetectionError)) throw err;
          // A named builder needs no language marker: it runs on the builders' port.
          if (!imageStream) fail(`${plan.where}: ${err.message}`);
          detection = { strategy: 'Source', ports: [BUILDER_PORT], why: `builder from --image-stream` };
        }
        const name = opts.name ?? plan.defaultName;
        if (!name) fail(`cannot make an app name from "${arg}"; give one with --name`);
        const builder = await pickBuilder(c, detection, imageStream);

        const secrets = { github: generateWebhookSecret(), generic: generateWebhookSecret() };
        const objects = newAppResources({
          name,
          namespace: ns,
          source: plan.source,
          detection,
          builder,
          secrets,
        });
        // As oc: nothing is created when any of the names is taken.
        const taken: string[] = [];
        for (const obj of objects)
          if (await c.get(kindOf(obj), ns, obj.metadata.name)) taken.push(label(obj));
        if (taken.length > 0)
          fail(
            `${taken.join(', ')} already exist${taken.length === 1 ? 's' : ''} in namespace "${ns}"; pick another --name, or delete them first`,
          );

        const what =
          detection.strategy === 'Docker' ? 'a Dockerfile' : `a ${detection.language ?? 'source'} app`;
        console.log(`--> Found ${what} in ${plan.where} (${detection.why})`);
        if (builder) console.log(`    Builder image stream: ${builder.namespace}/${builder.name}`);
        console.log(`    The app listens on port ${detection.ports.join(', ')}`);
        for (const note of plan.notes) console.log(`    Note: ${note}`);
        console.log('\n--> Creating resources ...');
        for (const obj of objects) {
          try {
            await c.json('POST', resourcePath(kindOf(obj), ns), obj);
          } catch (err) {
            console.log(`    error: ${label(obj)}: ${(err as Error).message}`);
            fail(
              `stopped after a failed create; what was created above stays (remove it with 'slipway delete')`,
            );
          }
          console.log(`    ${label(obj)} created`);
        }
        const info = await serverInfo(c);
        const base = info.publicUrl ?? c.server;
        console.log(
          '\n--> Webhook URLs (the secrets are shown only now; they are kept in the Secrets above):',
        );
        console.log(`    GitHub:  ${webhookUrl(base, ns, name, secrets.github, 'github')}`);
        console.log(`    Generic: ${webhookUrl(base, ns, name, secrets.generic, 'generic')}`);

        if (plan.uploadDir) {
          const data = await packDirectory(plan.uploadDir);
          const res = await c.request(
            'POST',
            `${resourcePath(BUILD_CONFIG, ns, name)}/instantiatebinary`,
            data,
            'application/octet-stream',
          );
          const build = (await res.json()) as Resource;
          console.log(
            `\n--> Uploaded ${plan.uploadDir} (${data.length} bytes): build.build.openshift.io/${build.metadata.name} started`,
          );
        }
        console.log('\n--> Success');
        console.log(`    Build scheduled, use 'slipway logs -f bc/${name}' to track its progress.`);
        console.log(
          '    Application is not exposed. You can expose services to the outside world by executing:',
        );
        console.log(`     'slipway expose svc/${name}'`);
        console.log("    Run 'slipway status' to view your app.");
      },
    );
}
