/**
 * The Source strategy: source-to-image builds by the contract of OpenShift's `s2i`
 * (openshift/source-to-image), over dockerode. Given a prepared source directory and a
 * builder image the engine has, it
 *
 *   1. reads the builder's S2I labels and finds assemble/run/save-artifacts in
 *      sourceStrategy.scripts, the source's .s2i/bin, then the image's scripts-url;
 *   2. for an incremental build, runs save-artifacts in the previous image;
 *   3. creates a container of the builder, puts the source (after .s2iignore), the
 *      fetched scripts and the artifacts into DEST/src, DEST/scripts, DEST/artifacts,
 *      runs assemble as the assemble user with the build environment;
 *   4. commits it with `run` as CMD and the output labels (or, for a runtime image,
 *      copies the artifacts into that image and commits it instead);
 *   5. runs the postCommit hook on the result.
 *
 * docs/s2i.md describes the contract as Slipway implements it and
 * docs/s2i-injection.md why files go in through the archive API.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { z } from 'zod';
import { objectReference, type SourceBuildStrategy } from '../../core/build-types.js';
import { BuildCancelled, BuildFailure, errorMessage } from '../../core/errors.js';
import { ENGINE_GONE, explainEngineLoss, watchEngine } from '../engine-watch.js';
import { ensureImage } from '../images.js';
import { runPostCommitHook } from '../post-commit.js';
import { checkoutPath } from '../source/checkout-paths.js';
import { inputDirectory, inputFileEntries } from '../source/input-files.js';
import type { Builder, BuilderInput, BuilderResult } from '../types.js';
import { fromImageSourcePaths, parseAssembleInputFiles, type ArtifactMapping } from './artifacts-mapping.js';
import { buildEnvironment } from './build-env.js';
import { commitContainer } from './commit.js';
import {
  DependencyFilesLabel,
  assembleDependenciesPath,
  dependencyKey,
  findDependencyImage,
  makeDependencyImage,
  parseDependencyFiles,
  readDependencyFiles,
  pruneDependencyImages,
} from './dependency-layer.js';
import { parseEnvironmentFile } from './environment-file.js';
import { saveArtifacts, type SavedArtifacts } from './incremental.js';
import {
  ImageMetadataPath,
  asCommandList,
  outputImageLabels,
  parseImageMetadata,
  readBuilderLabels,
  type BuilderLabels,
} from './labels.js';
import { probeImage } from './probe.js';
import {
  TailBuffer,
  isExecutableFile,
  readContainerFile,
  runToCompletion,
  throwIfCancelled,
  withContainer,
  type RunOptions,
} from './run-container.js';
import { copyArtifact, placeRuntimeScripts, runtimeWorkDir } from './runtime-image.js';
import { createIgnoreMatcher, parseS2iIgnore } from './s2i-ignore.js';
import {
  Assemble,
  AssembleRuntime,
  Run,
  SaveArtifacts,
  describeSearch,
  findScripts,
  type ScriptLocation,
  type ScriptSearch,
} from './script-lookup.js';
import { archivePath, entriesArchive, sourceArchive, type GeneratedEntry } from './upload.js';
import type { NumericUser } from './user-spec.js';

export { runUsage, type UsageOptions } from './usage.js';
export { runPostCommitHook } from '../post-commit.js';

/**
 * System CA bundle paths a build's trusted CA is mounted over, when the builder image
 * has them: Debian/Ubuntu/Alpine, then RHEL/Fedora (OpenShift's mountTrustedCA path).
 */
export const TrustedCATargets = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
] as const;

/**
 * Slipway's extensions to sourceStrategy (OpenShift 3.x's extended-build fields):
 * `runtimeImage` (a DockerImage reference; the build runner resolves other kinds to
 * one, as it does for `from`) and `runtimeArtifacts` (`[{sourcePath, destinationDir}]`).
 */
const sourceStrategyExtensions = z.looseObject({
  runtimeImage: objectReference.optional(),
  runtimeArtifacts: z
    .array(z.looseObject({ sourcePath: z.string().min(1), destinationDir: z.string().optional() }))
    .optional(),
});

export interface RuntimeImageRequest {
  reference: string;
  artifacts?: ArtifactMapping[] | undefined;
}

/** Reads `runtimeImage`/`runtimeArtifacts` from a sourceStrategy, or throws BuildFailure. */
export function runtimeImageRequest(strategy: SourceBuildStrategy): RuntimeImageRequest | undefined {
  const parsed = sourceStrategyExtensions.safeParse(strategy);
  if (!parsed.success) {
    throw new BuildFailure(
      'InvalidImageReference',
      `spec.strategy.sourceStrategy.runtimeImage/runtimeArtifacts: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const { runtimeImage, runtimeArtifacts } = parsed.data;
  if (!runtimeImage) {
    if (runtimeArtifacts?.length) {
      throw new BuildFailure(
        'InvalidArtifactsMapping',
        'sourceStrategy.runtimeArtifacts needs sourceStrategy.runtimeImage',
      );
    }
    return undefined;
  }
  if (runtimeImage.kind && runtimeImage.kind !== 'DockerImage') {
    throw new BuildFailure(
      'InvalidImageReference',
      `sourceStrategy.runtimeImage of kind ${runtimeImage.kind} must be resolved to a DockerImage reference before the build`,
    );
  }
  let artifacts: ArtifactMapping[] | undefined;
  if (runtimeArtifacts?.length) {
    try {
      artifacts = fromImageSourcePaths(runtimeArtifacts);
    } catch (err) {
      throw new BuildFailure(
        'InvalidArtifactsMapping',
        `sourceStrategy.runtimeArtifacts: ${errorMessage(err)}`,
      );
    }
  }
  return { reference: runtimeImage.name, artifacts };
}

/** Builds `input.spec` with the Source strategy. See the module comment. */
export const sourceBuilder: Builder = async (input) => {
  const watch = await watchEngine(input.docker);
  try {
    return await buildFromSource(input);
  } catch (err) {
    if (err instanceof BuildCancelled) throw err;
    if (input.signal.aborted) throw new BuildCancelled('build cancelled', { cause: err });
    const failure =
      err instanceof BuildFailure
        ? err
        : new BuildFailure('GenericBuildFailed', `S2I build failed: ${errorMessage(err)}`, { cause: err });
    const told = await explainEngineLoss(failure, input.docker, watch);
    if (told !== failure) input.log(`error: ${ENGINE_GONE}`);
    throw told;
  } finally {
    watch.close();
  }
};

interface Names {
  probe: string;
  dependencies: string;
  saveArtifacts: string;
  assemble: string;
  runtimeProbe: string;
  runtime: string;
  postCommit: string;
}

/** Container names say which build and step they belong to, for whoever lists containers. */
function containerNames(buildRef: BuilderInput['buildRef']): Names {
  const base = `slipway-s2i-${buildRef.namespace}-${buildRef.name}`
    .replace(/[^a-zA-Z0-9_.-]/g, '-')
    .slice(0, 100);
  const suffix = randomBytes(4).toString('hex');
  const name = (step: string): string => `${base}-${step}-${suffix}`;
  return {
    probe: name('probe'),
    dependencies: name('dependencies'),
    saveArtifacts: name('save-artifacts'),
    assemble: name('assemble'),
    runtimeProbe: name('runtime-probe'),
    runtime: name('runtime'),
    postCommit: name('post-commit'),
  };
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

async function inspectBuilder(docker: Docker, reference: string): Promise<Docker.ImageInspectInfo> {
  try {
    return await docker.getImage(reference).inspect();
  } catch (err) {
    const missing = (err as { statusCode?: number }).statusCode === 404;
    throw new BuildFailure(
      'PullBuilderImageFailed',
      missing
        ? `builder image "${reference}" is not on this Docker engine: it must be pulled (or built) before the build`
        : `cannot inspect builder image "${reference}": ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

/**
 * Reads a file the repository may contribute (`.s2i/environment`, `.s2iignore`) from
 * the context directory, resolved inside the checkout; undefined when it is not there.
 * One that leads outside through a symbolic link fails the build.
 */
async function readSourceFile(input: BuilderInput, path: string): Promise<string | undefined> {
  const target = checkoutPath({
    root: input.sourceDir,
    from: input.contextDir,
    path,
    what: path,
    reason: 'GenericBuildFailed',
  });
  if (!target.exists) return undefined;
  if (!(await stat(target.path)).isFile()) {
    input.log(`warning: ${path} is not a file; ignored`);
    return undefined;
  }
  return readFile(target.path, 'utf8');
}

async function putArchive(
  container: Docker.Container,
  archive: Readable,
  signal: AbortSignal,
): Promise<void> {
  try {
    await container.putArchive(archive, { path: '/', abortSignal: signal });
  } catch (err) {
    throwIfCancelled(signal, 'while copying files into the build container');
    throw err;
  }
}

/** Where a script lives inside the container that runs it. */
function scriptPath(location: ScriptLocation, name: string, destination: string): string {
  return location.kind === 'image' ? location.path : posix.join(destination, 'scripts', name);
}

function found(searches: Map<string, ScriptSearch>, name: string): ScriptLocation | undefined {
  return searches.get(name)?.found;
}

/**
 * Runs assemble or assemble-runtime. The engine refuses to start a script whose #!
 * interpreter does not exist in the image; that is the script's failure, not Slipway's.
 */
async function runScript(
  container: Docker.Container,
  name: string,
  path: string,
  options: RunOptions,
): Promise<number> {
  try {
    return await runToCompletion(container, options);
  } catch (err) {
    if (err instanceof BuildCancelled) throw err;
    throw new BuildFailure('AssembleFailed', `${name} (${path}) could not be started: ${errorMessage(err)}`, {
      cause: err,
      logSnippet: errorMessage(err),
    });
  }
}

/** A hint for exits whose cause is the script's form rather than its work. */
export function exitHint(code: number, lastLine = ''): string {
  // runc reports a failed exec as the container's only output, with exit code 1.
  if (/^exec .*: no such file or directory$/.test(lastLine)) {
    return ' (the interpreter on its #! line does not exist in the image)';
  }
  if (/^exec .*: exec format error$/.test(lastLine))
    return ' (it has no #! line, or is built for another CPU)';
  if (code === 126) return ' (126: the script is not executable)';
  if (code === 127) return ' (127: a command it runs was not found)';
  if (code === 137) return ' (137: killed, often for lack of memory)';
  return '';
}

async function buildFromSource(input: BuilderInput): Promise<BuilderResult> {
  const { docker, spec, log, signal } = input;
  const strategy = spec.strategy.sourceStrategy;
  if (!strategy) {
    throw new BuildFailure('GenericBuildFailed', 'a Source build needs spec.strategy.sourceStrategy');
  }
  const runtime = runtimeImageRequest(strategy);
  if (runtime && strategy.incremental) {
    // s2i's rule (docs/runtime_image.md): extended incremental builds are not possible.
    throw new BuildFailure(
      'GenericBuildFailed',
      'sourceStrategy.incremental cannot be combined with sourceStrategy.runtimeImage (s2i does not support incremental extended builds)',
    );
  }
  throwIfCancelled(signal, 'before the build started');

  const builderRef = input.fromImage ?? strategy.from.name;
  const builder = await inspectBuilder(docker, builderRef);
  const labels = readBuilderLabels(builder.Config, builderRef);
  for (const w of labels.warnings) log(`warning: ${w}`);
  log(`Using builder image ${builderRef} (${shortId(builder.Id)}), destination ${labels.destination}`);

  const names = containerNames(input.buildRef);
  const work = await mkdtemp(join(tmpdir(), 'slipway-s2i-'));
  try {
    // Inputs the repository contributes.
    const envText = await readSourceFile(input, '.s2i/environment');
    const envFile = parseEnvironmentFile(envText ?? '');
    for (const s of envFile.skipped) log(`warning: .s2i/environment line ${s.line} ${s.problem}; skipped`);
    if (envFile.env.length) log(`Setting ${envFile.env.length} environment variables from .s2i/environment`);
    const ignoreText = await readSourceFile(input, '.s2iignore');
    const ignoreFile = parseS2iIgnore(ignoreText ?? '');
    for (const bad of ignoreFile.invalid)
      log(`warning: .s2iignore line ${bad.line} is not a valid pattern (${bad.reason}); skipped`);

    const environment = buildEnvironment({
      buildName: input.buildRef.name,
      buildNamespace: input.buildRef.namespace,
      source: input.source,
      gitUri: spec.source.git?.uri,
      gitRef: spec.source.git?.ref,
      extraEnv: input.extraEnv,
      environmentFile: envFile.env,
      strategyEnv: strategy.env ?? [],
    });
    for (const w of environment.warnings) log(`warning: ${w}`);

    // The scripts, in s2i's search order.
    const scriptNames = [Assemble, Run, ...(strategy.incremental ? [SaveArtifacts] : [])];
    const searches = await findScripts(scriptNames, {
      userUrl: strategy.scripts,
      sourceBinDir: join(input.contextDir, '.s2i', 'bin'),
      imageUrl: labels.scriptsUrl,
      baseDir: input.contextDir,
      checkoutRoot: input.sourceDir,
      signal,
    });
    checkScripts(searches, scriptNames, strategy.scripts, labels, builderRef, !!runtime);
    for (const name of scriptNames) {
      const loc = found(searches, name);
      if (loc) log(`${name}: ${loc.kind === 'image' ? loc.path : 'fetched'} (from ${loc.origin} ${loc.url})`);
    }
    const assemble = found(searches, Assemble) as ScriptLocation;

    // Look inside the builder: who the assemble user is, what exists.
    const userSpec = labels.assembleUser ?? builder.Config.User ?? '';
    const imageScripts = [Assemble, ...(runtime ? [] : [Run])]
      .map((n) => found(searches, n))
      .filter((l): l is Extract<ScriptLocation, { kind: 'image' }> => l?.kind === 'image');
    // The dependency layer is the image's own arrangement with its own assemble: an
    // assemble from the repository or a scripts URL may expect nothing installed.
    const dependencyFiles = runtime ? undefined : declaredDependencyFiles(builder.Config.Labels, log);
    const dependencyScript =
      dependencyFiles && assemble.kind === 'image' ? assembleDependenciesPath(assemble.path) : undefined;
    const probe = await probeImage(docker, {
      image: builder.Id,
      user: userSpec,
      paths: [
        labels.destination,
        ...imageScripts.map((l) => l.path),
        ...(dependencyScript ? [dependencyScript] : []),
        ...(input.trustedCA ? TrustedCATargets : []),
      ],
      name: names.probe,
      log,
    });
    if (probe.owner instanceof Error) {
      throw new BuildFailure(
        'GenericBuildFailed',
        `the assemble user "${userSpec}" of builder image ${builderRef} cannot be resolved in the image: ${probe.owner.message}`,
      );
    }
    const owner = probe.owner;
    for (const loc of imageScripts) {
      const stat = probe.stats.get(loc.path);
      const name = loc.path.slice(loc.path.lastIndexOf('/') + 1);
      if (!stat || !isExecutableFile(stat)) {
        // s2i finds out when the container cannot exec it: assemble fails, run would
        // fail when the image starts. Both are known now, so the build says which.
        throw new BuildFailure(
          name === Assemble ? 'AssembleFailed' : 'InstallScriptsFailed',
          `${name} script ${loc.path} ${stat ? 'is not executable' : 'does not exist'} in builder image ${builderRef} ` +
            `(from ${loc.origin} ${loc.url})`,
        );
      }
    }
    const binds = trustedCABinds(input.trustedCA, probe.stats, log);

    const ignored = createIgnoreMatcher(ignoreFile.rules);
    // The dependency layer, when the builder declares one: found by its key, or made.
    let baseImage = builder.Id;
    const dependencyStat = dependencyScript ? probe.stats.get(dependencyScript) : undefined;
    if (dependencyScript && !(dependencyStat && isExecutableFile(dependencyStat))) {
      log(
        `warning: builder image ${builderRef} declares ${DependencyFilesLabel} but has no executable ${dependencyScript}; dependencies are installed by assemble`,
      );
    }
    const inputFiles = inputFileEntries(input.inputs ?? [], builder.Config.WorkingDir ?? '');
    for (const i of input.inputs ?? [])
      log(
        `Injecting the build ${i.kind === 'Secret' ? 'secret' : 'config map'} "${i.name}" into ${inputDirectory(builder.Config.WorkingDir ?? '', i.destinationDir)}`,
      );
    const useLayer = !!(
      dependencyFiles &&
      dependencyScript &&
      dependencyStat &&
      isExecutableFile(dependencyStat)
    );
    if (useLayer) {
      const files = await readDependencyFiles({
        sourceDir: input.sourceDir,
        contextDir: input.contextDir,
        names: dependencyFiles,
        ignored,
      });
      const key = dependencyKey({
        builderId: builder.Id,
        user: userSpec,
        destination: labels.destination,
        files,
        env: environment.env,
        inputs: (input.inputs ?? []).map((i) => `${i.kind}/${i.name}:${i.destinationDir}`),
      });
      const namespace = input.buildRef.namespace;
      const reused = strategy.incremental ? await findDependencyImage(docker, key, namespace) : undefined;
      if (reused) {
        log(
          `Incremental build: reusing the dependency layer ${shortId(reused)} (key ${key.slice(0, 12)}); nothing to install`,
        );
        baseImage = reused;
      } else {
        if (strategy.incremental)
          log('Incremental build: no dependency layer for these dependency files and environment yet');
        else log('Clean build will be performed');
        baseImage = await makeDependencyImage({
          docker,
          builder,
          key,
          namespace,
          scriptPath: dependencyScript,
          files,
          destination: labels.destination,
          destinationExists: !!probe.stats.get(labels.destination),
          user: userSpec,
          owner,
          env: environment.env,
          binds,
          containerName: names.dependencies,
          inputFiles,
          log,
          signal,
        });
        await pruneDependencyImages({ docker, namespace, log }).catch((err: unknown) =>
          log(`warning: could not list old dependency images: ${errorMessage(err)}`),
        );
      }
    }

    // Incremental without a dependency layer: the previous image's artifacts, or a clean build.
    // The dependency layer holds what save-artifacts would carry.
    let artifacts: SavedArtifacts | undefined;
    if (useLayer) {
      log(`Running assemble on the dependency layer`);
    } else if (strategy.incremental) {
      const script = found(searches, SaveArtifacts);
      if (!input.previousImage) log('Incremental build without a previous image: clean build');
      else if (!script)
        log(
          `Incremental build, but no save-artifacts script: ${describeSearch(SaveArtifacts, searches.get(SaveArtifacts))}; clean build`,
        );
      else {
        artifacts = await saveArtifacts({
          docker,
          previousImage: input.previousImage,
          script,
          destination: labels.destination,
          user: labels.assembleUser,
          owner,
          workDir: work,
          containerName: names.saveArtifacts,
          log,
          signal,
        });
      }
    } else {
      log('Clean build will be performed');
    }

    throwIfCancelled(signal, 'before assemble');
    const assemblePath = scriptPath(assemble, Assemble, labels.destination);
    const create: Docker.ContainerCreateOptions = {
      name: names.assemble,
      Image: baseImage,
      // The builder's ENTRYPOINT must not wrap assemble (s2i runs it through `env`);
      // the commit puts the original back.
      Entrypoint: [],
      Cmd: [assemblePath],
      User: userSpec,
      Env: environment.env,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: binds.length ? { Binds: binds } : {},
    };

    const imageId = await withContainer(
      docker,
      create,
      async (container) => {
        await injectInputs(container, {
          input,
          inputFiles,
          destination: labels.destination,
          destinationExists: !!probe.stats.get(labels.destination),
          owner,
          searches,
          ignored,
          artifacts,
          signal,
        });

        log(`Running assemble as ${userSpec ? `user ${userSpec}` : 'the image user'} ...`);
        const tail = new TailBuffer(20);
        const line = (l: string): void => {
          tail.add(l);
          log(l);
        };
        const code = await runScript(container, 'assemble', assemblePath, {
          docker,
          signal,
          what: 'while running assemble',
          onStdoutLine: line,
          onStderrLine: line,
        });
        if (code !== 0) {
          throw new BuildFailure(
            'AssembleFailed',
            `assemble (${assemblePath}) exited with code ${code}${exitHint(code, tail.last())}`,
            {
              logSnippet: tail.text(),
            },
          );
        }
        // OpenShift's rule for input secrets: the files stay in the image, empty.
        if (inputFiles.truncate.length > 0)
          await putArchive(container, entriesArchive(inputFiles.truncate, owner), signal);

        const metadataLabels = await readMetadataLabels(container);
        const outputLabels = outputImageLabels({
          builderImage: builderRef,
          // s2i's display name is the image's name as given to the build: the output's.
          tag: displayName(input),
          source: input.source,
          requestedRef: spec.source.git?.ref,
          contextDir: spec.source.contextDir,
          buildName: input.buildRef.name,
          buildNamespace: input.buildRef.namespace,
          imageLabels: spec.output?.imageLabels,
          metadataLabels,
        });

        if (runtime) {
          return buildOnRuntimeImage(container, {
            input,
            runtime,
            builderLabels: labels,
            env: environment.env,
            labels: outputLabels,
            names,
          });
        }
        const run = found(searches, Run) as ScriptLocation;
        const id = await commitContainer(container, {
          tag: input.tag,
          cmd: [scriptPath(run, Run, labels.destination)],
          entrypoint: asCommandList(builder.Config.Entrypoint) ?? [],
          // The engine fills an empty USER from the container, which ran as the
          // assemble user: an image that runs as root says so explicitly.
          user: builder.Config.User || (userSpec ? '0' : ''),
          env: environment.env,
          labels: outputLabels,
        });
        log(`Committed ${input.tag} (${shortId(id)})`);
        return id;
      },
      log,
    );

    try {
      await runPostCommitHook({
        docker,
        image: imageId,
        postCommit: spec.postCommit,
        env: input.extraEnv,
        log,
        signal,
        containerName: names.postCommit,
      });
    } catch (err) {
      // The image must not be pushed; the tag should not point at it either.
      await docker
        .getImage(imageId)
        .remove({ force: true })
        .catch((e: unknown) =>
          log(`warning: could not remove image ${shortId(imageId)}: ${errorMessage(e)}`),
        );
      throw err;
    }
    return { imageId };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * What `io.k8s.display-name` names: the output's push reference when the runner gives
 * it, else the output as the BuildConfig spells it (an ImageStreamTag as
 * `namespace/name:tag`), else the local tag of a build without output.
 */
function displayName(input: BuilderInput): string {
  if (input.outputReference) return input.outputReference;
  const to = input.spec.output?.to;
  if (!to) return input.tag;
  if (to.kind === 'ImageStreamTag') return `${to.namespace ?? input.buildRef.namespace}/${to.name}`;
  return to.name;
}

/** The builder's dependency files label, or undefined (with a warning when it is unusable). */
function declaredDependencyFiles(
  imageLabels: Record<string, string> | null | undefined,
  log: (line: string) => void,
): string[] | undefined {
  const value = imageLabels?.[DependencyFilesLabel];
  if (value === undefined) return undefined;
  const parsed = parseDependencyFiles(value);
  if ('problem' in parsed) {
    log(`warning: label ${DependencyFilesLabel} ${parsed.problem}; dependencies are installed by assemble`);
    return undefined;
  }
  return parsed.files;
}

/** assemble and run are required (run comes from the runtime image in extended builds). */
function checkScripts(
  searches: Map<string, ScriptSearch>,
  names: readonly string[],
  userUrl: string | undefined,
  labels: BuilderLabels,
  builderRef: string,
  runtime: boolean,
): void {
  if (userUrl) {
    // s2i: a scripts URL that yields none of the scripts is a mistake, not a fallback.
    const fromUser = names.filter(
      (n) => !searches.get(n)?.tried.some((t) => t.origin === 'sourceStrategy.scripts'),
    );
    if (!fromUser.length) {
      const reasons = names.map(
        (n) => searches.get(n)?.tried.find((t) => t.origin === 'sourceStrategy.scripts')?.error,
      );
      throw new BuildFailure(
        'ScriptsFetchFailed',
        `could not download any scripts from sourceStrategy.scripts "${userUrl}": ${reasons.filter(Boolean).join('; ')}`,
      );
    }
  }
  const required = runtime ? [Assemble] : [Assemble, Run];
  const missing = required.filter((n) => !found(searches, n));
  if (missing.length) {
    const noLabel = labels.scriptsUrl
      ? ''
      : `; builder image ${builderRef} has no io.openshift.s2i.scripts-url label`;
    throw new BuildFailure(
      'InstallScriptsFailed',
      `required S2I script${missing.length > 1 ? 's' : ''} ${missing.join(' and ')} not found: ` +
        missing.map((n) => describeSearch(n, searches.get(n))).join('; ') +
        noLabel,
    );
  }
}

function trustedCABinds(
  trustedCA: string | undefined,
  stats: Map<string, unknown>,
  log: (line: string) => void,
): string[] {
  if (!trustedCA) return [];
  if (!existsSync(trustedCA)) {
    throw new BuildFailure(
      'GenericBuildFailed',
      `the trusted CA bundle ${trustedCA} does not exist on this worker`,
      {
        phase: 'Error',
      },
    );
  }
  // Mounting over a file the image has leaves the image unchanged when committed; a
  // mount point the image lacks would be committed as an empty file.
  const targets = TrustedCATargets.filter((t) => stats.get(t));
  if (!targets.length) {
    log(`The builder image has no system CA bundle; the trusted CA is mounted at ${TrustedCATargets[1]}`);
    return [`${trustedCA}:${TrustedCATargets[1]}:ro`];
  }
  log(`Trusting the build's CA bundle (mounted over ${targets.join(', ')})`);
  return targets.map((t) => `${trustedCA}:${t}:ro`);
}

interface InjectOptions {
  input: BuilderInput;
  /** The build's input Secrets' and ConfigMaps' files (src/builders/source/input-files.ts). */
  inputFiles: { files: GeneratedEntry[] };
  destination: string;
  destinationExists: boolean;
  owner: NumericUser;
  searches: Map<string, ScriptSearch>;
  ignored: (relPath: string) => boolean;
  artifacts: SavedArtifacts | undefined;
  signal: AbortSignal;
}

/** Puts DEST/scripts, DEST/src and DEST/artifacts into the created assemble container. */
async function injectInputs(container: Docker.Container, o: InjectOptions): Promise<void> {
  const entries: GeneratedEntry[] = [];
  // s2i needs the destination to exist; Slipway makes it, owned by the assemble user.
  if (!o.destinationExists)
    entries.push({ name: archivePath(o.destination), type: 'directory', mode: 0o775 });
  entries.push({ name: archivePath(o.destination, 'scripts'), type: 'directory', mode: 0o755 });
  for (const [name, search] of o.searches) {
    if (search.found?.kind === 'upload') {
      entries.push({
        name: archivePath(o.destination, 'scripts', name),
        content: search.found.content,
        mode: 0o755,
      });
    }
  }
  entries.push(...o.inputFiles.files);
  await putArchive(container, entriesArchive(entries, o.owner), o.signal);
  await putArchive(
    container,
    sourceArchive({
      dir: o.input.contextDir,
      destination: o.destination,
      owner: o.owner,
      ignored: o.ignored,
    }),
    o.signal,
  );
  if (o.artifacts) {
    await putArchive(container, createReadStream(o.artifacts.archive), o.signal);
    o.input.log(
      `Restored ${o.artifacts.entries} artifact entries into ${posix.join(o.destination, 'artifacts')}`,
    );
  }
}

async function readMetadataLabels(container: Docker.Container): Promise<Record<string, string> | undefined> {
  const content = await readContainerFile(container, ImageMetadataPath);
  if (!content) return undefined;
  try {
    return parseImageMetadata(content.toString('utf8'));
  } catch (err) {
    throw new BuildFailure('GenericBuildFailed', errorMessage(err));
  }
}

interface RuntimeBuildOptions {
  input: BuilderInput;
  runtime: RuntimeImageRequest;
  builderLabels: BuilderLabels;
  env: string[];
  labels: Record<string, string>;
  names: Names;
}

/** Extended build: copy the artifacts into the runtime image, run assemble-runtime, commit. */
async function buildOnRuntimeImage(
  builderContainer: Docker.Container,
  o: RuntimeBuildOptions,
): Promise<string> {
  const { docker, log, signal, spec } = o.input;
  const ref = o.runtime.reference;
  try {
    await ensureImage({ docker, reference: ref, log });
  } catch (err) {
    throw new BuildFailure(
      'PullRuntimeImageFailed',
      `runtime image "${ref}" is not available: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  const image = await docker.getImage(ref).inspect();
  const runtimeLabels = readBuilderLabels(image.Config, ref);

  let mappings = o.runtime.artifacts;
  const declared = runtimeLabels.assembleInputFiles ?? o.builderLabels.assembleInputFiles;
  if (!mappings) {
    if (!declared) {
      throw new BuildFailure(
        'InvalidArtifactsMapping',
        `no runtime artifacts to copy: set sourceStrategy.runtimeArtifacts or the io.openshift.s2i.assemble-input-files label on ${ref} or the builder image`,
      );
    }
    try {
      mappings = parseAssembleInputFiles(declared);
    } catch (err) {
      throw new BuildFailure(
        'InvalidArtifactsMapping',
        `io.openshift.s2i.assemble-input-files: ${errorMessage(err)}`,
      );
    }
  }
  const workDir = runtimeWorkDir(image.Config);
  log(
    `Runtime image ${ref} (${shortId(image.Id)}): copying ${mappings.map((m) => m.source).join(', ')} into ${workDir}`,
  );

  const searches = await findScripts([AssembleRuntime, Run], {
    userUrl: spec.strategy.sourceStrategy?.scripts,
    sourceBinDir: join(o.input.contextDir, '.s2i', 'bin'),
    imageUrl: runtimeLabels.scriptsUrl,
    baseDir: o.input.contextDir,
    checkoutRoot: o.input.sourceDir,
    signal,
  });
  const user = image.Config.User ?? '';
  const candidates = [found(searches, AssembleRuntime), found(searches, Run)];
  const probe = await probeImage(docker, {
    image: image.Id,
    user,
    paths: candidates.flatMap((l) => (l?.kind === 'image' ? [l.path] : [])),
    name: o.names.runtimeProbe,
    log,
  });
  if (probe.owner instanceof Error) {
    throw new BuildFailure(
      'GenericBuildFailed',
      `the user "${user}" of runtime image ${ref} cannot be resolved: ${probe.owner.message}`,
    );
  }
  const owner = probe.owner;
  const usable = (l: ScriptLocation | undefined): ScriptLocation | undefined => {
    if (!l || l.kind === 'upload') return l;
    const stat = probe.stats.get(l.path);
    if (stat && isExecutableFile(stat)) return l;
    log(`warning: ${l.path} (from ${l.origin} ${l.url}) does not exist in runtime image ${ref}; not used`);
    return undefined;
  };
  const assembleRuntime = usable(found(searches, AssembleRuntime));
  const run = usable(found(searches, Run));
  const imageCmd = asCommandList(image.Config.Cmd);
  const imageEntrypoint = asCommandList(image.Config.Entrypoint) ?? [];
  if (!run && !imageCmd?.length && !imageEntrypoint.length) {
    throw new BuildFailure(
      'InstallScriptsFailed',
      `run script not found for runtime image ${ref}, which has no CMD either: ${describeSearch(Run, searches.get(Run))}`,
    );
  }

  const assembleRuntimePath = assembleRuntime && scriptPath(assembleRuntime, AssembleRuntime, workDir);
  const finalCmd = run ? [scriptPath(run, Run, workDir)] : (imageCmd ?? []);
  return withContainer(
    docker,
    {
      name: o.names.runtime,
      Image: image.Id,
      // Without assemble-runtime the container never starts: it is created with the
      // final command so that nothing of a build command can leak into the commit.
      Entrypoint: assembleRuntimePath ? [] : imageEntrypoint,
      Cmd: assembleRuntimePath ? [assembleRuntimePath] : finalCmd,
      User: user,
      Env: o.env,
      AttachStdout: true,
      AttachStderr: true,
    },
    async (container) => {
      for (const mapping of mappings) {
        const archive = await copyArtifact(builderContainer, mapping, workDir, owner);
        await putArchive(container, archive, signal);
      }
      const placed = await placeRuntimeScripts(container, { assembleRuntime, run }, workDir, owner);
      if (placed.upload) await putArchive(container, placed.upload, signal);

      if (assembleRuntimePath) {
        log(`Running assemble-runtime as ${user ? `user ${user}` : 'the image user'} ...`);
        const tail = new TailBuffer(20);
        const line = (l: string): void => {
          tail.add(l);
          log(l);
        };
        const code = await runScript(container, 'assemble-runtime', assembleRuntimePath, {
          docker,
          signal,
          what: 'while running assemble-runtime',
          onStdoutLine: line,
          onStderrLine: line,
        });
        if (code !== 0) {
          throw new BuildFailure(
            'AssembleFailed',
            `assemble-runtime (${assembleRuntimePath}) exited with code ${code}${exitHint(code, tail.last())}`,
            {
              logSnippet: tail.text(),
            },
          );
        }
      } else {
        log('No assemble-runtime script: the runtime image gets the artifacts as copied');
      }
      const id = await commitContainer(container, {
        tag: o.input.tag,
        cmd: finalCmd,
        entrypoint: imageEntrypoint,
        user,
        env: o.env,
        labels: o.labels,
      });
      log(`Committed ${o.input.tag} (${shortId(id)}) on runtime image ${ref}`);
      return id;
    },
    log,
  );
}
