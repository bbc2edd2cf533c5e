/**
 * The dependency layer: a builder image that declares its dependency files
 * (`io.slipway.s2i.dependency-files=package.json,package-lock.json`) and ships an
 * `assemble-dependencies` script gets its dependencies installed from those files alone,
 * in a container of their own, committed as an image kept on the engine. The build's
 * assemble then runs on top of that image with the whole source, and its commit holds
 * only what assemble changed. A later incremental build whose dependency files,
 * environment and builder image are the same finds the image by its key and runs no
 * install at all; the push moves only the application's layer, the registry having the
 * dependency layer since the first push. This is what Cloud Native Buildpacks do with a
 * layer per dependency manifest, and what a Dockerfile that copies the lockfile first
 * gets from the layer cache. docs/s2i.md has the rules.
 *
 * Builder images without the label keep s2i's save-artifacts → assemble contract
 * (incremental.ts).
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type Docker from 'dockerode';
import { BuildFailure, errorMessage } from '../../core/errors.js';
import { checkoutPath } from '../source/checkout-paths.js';
import { commitContainer } from './commit.js';
import { asCommandList } from './labels.js';
import { TailBuffer, runToCompletion, throwIfCancelled, withContainer } from './run-container.js';
import { archivePath, entriesArchive, type GeneratedEntry } from './upload.js';
import type { NumericUser } from './user-spec.js';

export const DependencyFilesLabel = 'io.slipway.s2i.dependency-files';
/** The script that installs the dependencies; looked up next to the image's assemble. */
export const AssembleDependencies = 'assemble-dependencies';
/** On a dependency image (and inherited by the outputs built on it): the key it answers. */
export const DependencyKeyLabel = 'io.slipway.s2i.dependency-key';
/** On a dependency image: the namespace whose builds may reuse it. */
export const DependencyNamespaceLabel = 'io.slipway.s2i.dependency-namespace';
/** Where dependency images are tagged, by key. */
export const DependencyRepository = 'slipway-s2i-dependencies';
/** Dependency images kept per namespace; older ones lose their tag. */
export const DependencyImagesKept = 8;

/** A dependency file larger than this is not a manifest: the build fails rather than hash it. */
const MaxDependencyFileBytes = 32 * 1024 * 1024;
const MaxDependencyFiles = 16;

/**
 * The file names a builder declares, or why the label cannot be used. Names are
 * relative to the context directory, `/`-separated, without `..`; a builder image is
 * not trusted to name files outside the source.
 */
export function parseDependencyFiles(value: string): { files: string[] } | { problem: string } {
  const files = value
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  if (!files.length) return { problem: 'names no file' };
  if (files.length > MaxDependencyFiles) return { problem: `names more than ${MaxDependencyFiles} files` };
  for (const f of files) {
    const parts = f.split('/');
    if (
      f.startsWith('/') ||
      parts.some((p) => p === '..' || p === '.' || p === '') ||
      !/^[\w.@+/-]+$/.test(f)
    ) {
      return { problem: `"${f}" is not a plain relative file name` };
    }
  }
  return { files: [...new Set(files)] };
}

/** One declared dependency file as the source has it; `content` undefined when it does not. */
export interface DependencyFile {
  name: string;
  content: Buffer | undefined;
}

export interface KeyInput {
  /** The builder image's ID: its scripts, node and npm are part of what gets installed. */
  builderId: string;
  /** The assemble user spec and destination the install ran with. */
  user: string;
  destination: string;
  files: readonly DependencyFile[];
  /** The build environment (`NAME=value`), as assemble gets it. */
  env: readonly string[];
  /**
   * The input Secrets and ConfigMaps the install gets (`Secret/name:dir`): which ones,
   * not their content, as a build's fingerprint counts them.
   */
  inputs?: readonly string[];
}

/**
 * What a dependency image depends on, as a sha256. The environment counts whole, as
 * any variable may steer the install (NODE_ENV, NPM_MIRROR, proxies), except
 * OPENSHIFT_BUILD_NAME/COMMIT/SOURCE/REFERENCE, which change with every build;
 * OPENSHIFT_BUILD_NAMESPACE stays in, so one namespace never reuses another's layer.
 */
export function dependencyKey(input: KeyInput): string {
  const perBuild = /^OPENSHIFT_BUILD_(NAME|COMMIT|SOURCE|REFERENCE)=/;
  const env = input.env.filter((e) => !perBuild.test(e)).sort();
  const files = input.files.map((f) => [
    f.name,
    f.content === undefined ? null : createHash('sha256').update(f.content).digest('hex'),
  ]);
  const text = JSON.stringify({
    v: 1,
    builder: input.builderId,
    user: input.user,
    destination: input.destination,
    files,
    env,
    // Only when there are any: the keys of layers made before inputs existed stay the same.
    ...(input.inputs?.length ? { inputs: input.inputs } : {}),
  });
  return createHash('sha256').update(text).digest('hex');
}

export function dependencyTag(key: string): string {
  return `${DependencyRepository}:${key}`;
}

/**
 * Reads the declared files from the context directory. Each is resolved inside the
 * checkout: one that leads outside through a symbolic link fails the build (as
 * `.s2i/environment` does); one that is missing, not a regular file, or left out by
 * `.s2iignore` counts as absent, since assemble will not see it either.
 */
export async function readDependencyFiles(options: {
  sourceDir: string;
  contextDir: string;
  names: readonly string[];
  ignored: (relPath: string) => boolean;
}): Promise<DependencyFile[]> {
  const files: DependencyFile[] = [];
  for (const name of options.names) {
    const target = checkoutPath({
      root: options.sourceDir,
      from: options.contextDir,
      path: name,
      what: `dependency file ${name}`,
      reason: 'GenericBuildFailed',
    });
    if (!target.exists || options.ignored(name)) {
      files.push({ name, content: undefined });
      continue;
    }
    const st = await stat(target.path);
    if (!st.isFile()) {
      files.push({ name, content: undefined });
      continue;
    }
    if (st.size > MaxDependencyFileBytes) {
      throw new BuildFailure(
        'GenericBuildFailed',
        `dependency file ${name} is ${st.size} bytes; more than ${MaxDependencyFileBytes} is not a dependency manifest`,
      );
    }
    files.push({ name, content: await readFile(target.path) });
  }
  return files;
}

/** The dependency image for `key` in `namespace`, if the engine has it. */
export async function findDependencyImage(
  docker: Docker,
  key: string,
  namespace: string,
): Promise<string | undefined> {
  try {
    const image = await docker.getImage(dependencyTag(key)).inspect();
    const labels = image.Config.Labels ?? {};
    if (labels[DependencyKeyLabel] !== key || labels[DependencyNamespaceLabel] !== namespace)
      return undefined;
    return image.Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

export interface MakeDependencyImageOptions {
  docker: Docker;
  builder: Docker.ImageInspectInfo;
  key: string;
  namespace: string;
  /** assemble-dependencies inside the builder image. */
  scriptPath: string;
  files: readonly DependencyFile[];
  destination: string;
  destinationExists: boolean;
  user: string;
  owner: NumericUser;
  env: string[];
  binds: string[];
  containerName: string;
  /** The build's input Secrets' and ConfigMaps' files; the Secrets' are emptied before the commit. */
  inputFiles?: { files: readonly GeneratedEntry[]; truncate: readonly GeneratedEntry[] };
  log: (line: string) => void;
  signal: AbortSignal;
}

/**
 * Runs assemble-dependencies on the builder with the dependency files in DEST/src and
 * commits the container as the dependency image, tagged by key. The image keeps the
 * builder's command, user, environment and labels; the build's environment is not
 * committed (assemble's container gets it again).
 */
export async function makeDependencyImage(o: MakeDependencyImageOptions): Promise<string> {
  throwIfCancelled(o.signal, 'before installing dependencies');
  const present = o.files.flatMap((f) =>
    f.content === undefined ? [] : [{ name: f.name, content: f.content }],
  );
  o.log(
    `Installing dependencies from ${present.map((f) => f.name).join(', ') || 'no dependency file'} into a layer of their own ...`,
  );
  const entries: GeneratedEntry[] = [];
  if (!o.destinationExists)
    entries.push({ name: archivePath(o.destination), type: 'directory', mode: 0o775 });
  entries.push({ name: archivePath(o.destination, 'src'), type: 'directory', mode: 0o755 });
  const dirs = new Set<string>();
  for (const f of present) {
    const parts = f.name.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort())
    entries.push({ name: archivePath(o.destination, 'src', d), type: 'directory', mode: 0o755 });
  for (const f of present)
    entries.push({ name: archivePath(o.destination, 'src', f.name), content: f.content, mode: 0o644 });
  entries.push(...(o.inputFiles?.files ?? []));

  const builderConfig = o.builder.Config;
  return withContainer(
    o.docker,
    {
      name: o.containerName,
      Image: o.builder.Id,
      Entrypoint: [],
      Cmd: [o.scriptPath],
      User: o.user,
      Env: o.env,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: o.binds.length ? { Binds: o.binds } : {},
    },
    async (container) => {
      try {
        await container.putArchive(entriesArchive(entries, o.owner), { path: '/', abortSignal: o.signal });
      } catch (err) {
        throwIfCancelled(o.signal, 'while copying the dependency files');
        throw err;
      }
      const tail = new TailBuffer(20);
      const line = (l: string): void => {
        tail.add(l);
        o.log(l);
      };
      let code: number;
      try {
        code = await runToCompletion(container, {
          docker: o.docker,
          signal: o.signal,
          what: `while running ${AssembleDependencies}`,
          onStdoutLine: line,
          onStderrLine: line,
        });
      } catch (err) {
        throwIfCancelled(o.signal, `while running ${AssembleDependencies}`);
        throw new BuildFailure(
          'AssembleFailed',
          `${AssembleDependencies} (${o.scriptPath}) could not be started: ${errorMessage(err)}`,
          { cause: err },
        );
      }
      if (code !== 0) {
        throw new BuildFailure(
          'AssembleFailed',
          `${AssembleDependencies} (${o.scriptPath}) exited with code ${code}`,
          { logSnippet: tail.text() },
        );
      }
      if (o.inputFiles?.truncate.length)
        await container.putArchive(entriesArchive(o.inputFiles.truncate, o.owner), {
          path: '/',
          abortSignal: o.signal,
        });
      const replaced = await o.docker
        .getImage(dependencyTag(o.key))
        .inspect()
        .then((i) => i.Id)
        .catch(() => undefined);
      const id = await commitContainer(container, {
        tag: dependencyTag(o.key),
        cmd: asCommandList(builderConfig.Cmd) ?? [],
        entrypoint: asCommandList(builderConfig.Entrypoint) ?? [],
        user: builderConfig.User ?? '',
        env: builderConfig.Env ?? [],
        labels: {
          ...(builderConfig.Labels ?? {}),
          [DependencyKeyLabel]: o.key,
          [DependencyNamespaceLabel]: o.namespace,
        },
      });
      if (replaced && replaced !== id) await removeUnused(o.docker, replaced, o.log);
      o.log(
        `Dependency layer committed (${id.replace(/^sha256:/, '').slice(0, 12)}), key ${o.key.slice(0, 12)}`,
      );
      return id;
    },
    o.log,
  );
}

/**
 * Untags the namespace's dependency images beyond the newest `keep`. An image that
 * output images are built on stays as their parent layer; only the tag goes, so the
 * next build with that key installs again.
 */
export async function pruneDependencyImages(options: {
  docker: Docker;
  namespace: string;
  keep?: number;
  log: (line: string) => void;
}): Promise<void> {
  const { docker, namespace, log } = options;
  const images = await docker.listImages({
    filters: JSON.stringify({ label: [`${DependencyNamespaceLabel}=${namespace}`] }),
  });
  const tagged = images
    .filter((i) => (i.RepoTags ?? []).some((t) => t.startsWith(`${DependencyRepository}:`)))
    .sort((a, b) => b.Created - a.Created);
  for (const image of tagged.slice(options.keep ?? DependencyImagesKept)) {
    for (const t of image.RepoTags ?? []) {
      if (!t.startsWith(`${DependencyRepository}:`)) continue;
      try {
        await docker.getImage(t).remove({ noprune: false });
      } catch (err) {
        log(`warning: could not remove the old dependency image ${t}: ${errorMessage(err)}`);
      }
    }
  }
}

/**
 * Removes the dependency image a clean build has just replaced under its tag. One that
 * images or containers still use stays: the engine refuses, and that is the answer.
 */
async function removeUnused(docker: Docker, id: string, log: (line: string) => void): Promise<void> {
  try {
    await docker.getImage(id).remove();
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 409 && status !== 404)
      log(`warning: could not remove the replaced dependency image ${id.slice(7, 19)}: ${errorMessage(err)}`);
  }
}

/** assemble-dependencies next to the image's assemble, when assemble is the image's own. */
export function assembleDependenciesPath(assemblePath: string): string {
  return posix.join(posix.dirname(assemblePath), AssembleDependencies);
}
