/**
 * Helpers for the S2I integration tests: source trees in temp directories, builder
 * images written by the tests, a BuilderInput with test defaults, and running the
 * result on a published loopback port. Every image and container a test makes is
 * recorded and removed by `cleanup()`.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import type { BuildSpec } from '../../src/core/build-types.js';
import type { BuilderInput } from '../../src/builders/types.js';
import { DependencyNamespaceLabel, DependencyRepository } from '../../src/builders/sti/dependency-layer.js';

const run = promisify(execFile);
export const docker = new Docker();
export const BASE_IMAGE = process.env.SLIPWAY_BASE_IMAGE ?? 'slipway/debian:bookworm';
/** The host's CA bundle: the only one npm's registry certificate chains to from here. */
export const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';

/**
 * The namespace of this run's builds: its own, so that the dependency layers it makes
 * and removes are never another run's.
 */
export const TEST_NAMESPACE = `sti-test-${randomUUID().slice(0, 8)}`;

export type FileSpec = string | { content: string; mode: number };

const tempDirs: string[] = [];
const images = new Set<string>();

/** Writes `files` into a fresh temp directory (executable when given a mode). */
export function sourceTree(files: Record<string, FileSpec>): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-sti-src-'));
  tempDirs.push(dir);
  writeFiles(dir, files);
  return dir;
}

export function writeFiles(dir: string, files: Record<string, FileSpec>): void {
  for (const [path, spec] of Object.entries(files)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof spec === 'string' ? spec : spec.content);
    if (typeof spec !== 'string') chmodSync(file, spec.mode);
  }
}

export const script = (content: string): FileSpec => ({ content, mode: 0o755 });

/** A unique local tag this test owns; removed by cleanup(). */
export function testTag(what: string): string {
  const tag = `slipway-test/sti-${what}:${randomUUID().slice(0, 12)}`;
  images.add(tag);
  return tag;
}

export function ownImage(ref: string): void {
  images.add(ref);
}

/** Builds a builder image from a Dockerfile and files, with the legacy builder (no pulls). */
export async function buildImage(
  what: string,
  dockerfile: string,
  files: Record<string, FileSpec> = {},
): Promise<string> {
  const dir = sourceTree({ Dockerfile: dockerfile, ...files });
  const tag = testTag(what);
  try {
    await run('docker', ['build', '-q', '--build-arg', `BASE_IMAGE=${BASE_IMAGE}`, '-t', tag, dir], {
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new Error(`docker build of test image ${what} failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }
  return tag;
}

export interface TestInput extends BuilderInput {
  lines: string[];
  controller: AbortController;
}

export interface InputOverrides {
  fromImage?: string;
  sourceDir: string;
  contextDir?: string;
  sourceStrategy?: Record<string, unknown>;
  spec?: Partial<BuildSpec>;
  previousImage?: string;
  trustedCA?: string;
  tag?: string;
  buildName?: string;
  source?: BuilderInput['source'];
}

/** A BuilderInput as the build runner would make it, logging into `lines`. */
export function input(o: InputOverrides): TestInput {
  const controller = new AbortController();
  const lines: string[] = [];
  const fromImage = o.fromImage ?? 'slipway/s2i-nodejs:latest';
  const spec = {
    source: { type: 'Git', git: { uri: 'https://git.example.com/team/app.git', ref: 'main' } },
    strategy: {
      type: 'Source',
      sourceStrategy: { from: { kind: 'DockerImage', name: fromImage }, ...o.sourceStrategy },
    },
    ...o.spec,
  } as BuildSpec;
  return {
    docker,
    buildRef: { namespace: TEST_NAMESPACE, name: o.buildName ?? `app-${randomUUID().slice(0, 8)}` },
    spec,
    sourceDir: o.sourceDir,
    contextDir: o.contextDir ?? o.sourceDir,
    source: o.source ?? {
      uri: 'https://git.example.com/team/app.git',
      ref: 'refs/heads/main',
      commit: '0123456789abcdef0123456789abcdef01234567',
      author: { name: 'Ada Lovelace', email: 'ada@example.com' },
      message: 'Add the app',
      date: '2024-05-01T10:00:00Z',
    },
    fromImage,
    previousImage: o.previousImage,
    tag: o.tag ?? testTag('out'),
    extraEnv: [],
    trustedCA: o.trustedCA,
    log: (line) => lines.push(line),
    signal: controller.signal,
    lines,
    controller,
  };
}

/** Runs `cmd` (or the image's command) to completion and returns its combined output. */
export async function runOnce(
  image: string,
  cmd?: string[],
  options: { entrypoint?: string[]; user?: string } = {},
): Promise<{ code: number; output: string }> {
  const create: Docker.ContainerCreateOptions = {
    Image: image,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: true,
  };
  if (cmd) create.Cmd = cmd;
  if (options.entrypoint) create.Entrypoint = options.entrypoint;
  if (options.user !== undefined) create.User = options.user;
  const container = await docker.createContainer(create);
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: true })) as Buffer;
    return { code: StatusCode, output: demux(logs) };
  } finally {
    await container.remove({ force: true });
  }
}

/** Strips the engine's 8-byte stream headers from a non-TTY log buffer. */
function demux(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out;
}

export interface Running {
  port: number;
  get(path?: string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

/** Starts the image with 8080 published on an ephemeral 127.0.0.1 port and waits until it answers. */
export async function serve(image: string, env: string[] = []): Promise<Running> {
  const container = await docker.createContainer({
    Image: image,
    Env: env,
    ExposedPorts: { '8080/tcp': {} },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  const stop = async (): Promise<void> => {
    await container.remove({ force: true }).catch(() => undefined);
  };
  try {
    await container.start();
    const info = await container.inspect();
    const port = Number(info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort);
    if (!port) throw new Error('no host port published for 8080/tcp');
    const get = async (path = '/'): Promise<{ status: number; body: string }> => {
      // A short timeout: while the app starts, the engine's proxy may hold a connection open.
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
      return { status: res.status, body: await res.text() };
    };
    const deadline = Date.now() + 30000;
    for (;;) {
      try {
        await get('/');
        break;
      } catch (err) {
        const state = (await container.inspect()).State;
        if (!state.Running) {
          const logs = demux((await container.logs({ stdout: true, stderr: true })) as Buffer);
          throw new Error(`the app exited with ${state.ExitCode}:\n${logs}`, { cause: err });
        }
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return { port, get, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function imageConfig(ref: string): Promise<Docker.ImageInspectInfo['Config']> {
  return (await docker.getImage(ref).inspect()).Config;
}

export async function imageExists(ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Containers whose name starts with the build's prefix: leftovers of a build. */
export async function buildContainers(buildName: string): Promise<string[]> {
  const list = await docker.listContainers({ all: true });
  return list
    .flatMap((c) => c.Names)
    .filter((n) => n.includes(`slipway-s2i-${TEST_NAMESPACE}-${buildName}-`));
}

/** Dependency-layer images (src/builders/sti/dependency-layer.ts) the builds of `namespace` left on the engine. */
export async function removeDependencyImages(namespace: string): Promise<void> {
  const list = await docker.listImages({
    filters: JSON.stringify({ label: [`${DependencyNamespaceLabel}=${namespace}`] }),
  });
  for (const image of list) {
    for (const ref of image.RepoTags ?? []) {
      if (ref.startsWith(`${DependencyRepository}:`))
        await docker
          .getImage(ref)
          .remove()
          .catch(() => undefined);
    }
  }
}

export async function cleanup(): Promise<void> {
  await removeDependencyImages(TEST_NAMESPACE);
  for (const ref of images) {
    await docker
      .getImage(ref)
      .remove({ force: true })
      .catch(() => undefined);
  }
  images.clear();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Makes sure Slipway's builder images exist (built once per machine by the script). */
export async function ensureBuilderImages(): Promise<void> {
  await run('bash', ['scripts/build-builder-images.sh'], { maxBuffer: 16 * 1024 * 1024 });
}
