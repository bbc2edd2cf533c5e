/**
 * `s2i usage IMAGE`: runs a builder image's `usage` script and returns what it prints,
 * for a UI or CLI to show how to use a builder. The script is searched like the
 * others (a scripts URL, then the image's scripts-url label); there is no source.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type Docker from 'dockerode';
import { BuildFailure, errorMessage } from '../../core/errors.js';
import { readBuilderLabels } from './labels.js';
import { probeImage } from './probe.js';
import { isExecutableFile, runToCompletion, withContainer } from './run-container.js';
import { Usage, describeSearch, findScripts } from './script-lookup.js';
import { archivePath, entriesArchive } from './upload.js';

export interface UsageOptions {
  docker: Docker;
  /** The builder image, present on the engine. */
  image: string;
  /** A scripts URL that overrides the image's label (sourceStrategy.scripts). */
  scripts?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Resolves to the usage text (stdout and stderr, in order); throws BuildFailure when there is none. */
export async function runUsage(options: UsageOptions): Promise<string> {
  const { docker } = options;
  const signal = options.signal ?? new AbortController().signal;
  let image: Docker.ImageInspectInfo;
  try {
    image = await docker.getImage(options.image).inspect();
  } catch (err) {
    throw new BuildFailure(
      'PullBuilderImageFailed',
      `builder image "${options.image}" is not on this engine: ${errorMessage(err)}`,
    );
  }
  const labels = readBuilderLabels(image.Config, options.image);
  const searches = await findScripts([Usage], {
    userUrl: options.scripts,
    imageUrl: labels.scriptsUrl,
    baseDir: process.cwd(),
    signal,
  });
  const usage = searches.get(Usage)?.found;
  if (!usage)
    throw new BuildFailure(
      'InstallScriptsFailed',
      `no usage script: ${describeSearch(Usage, searches.get(Usage))}`,
    );

  const user = labels.assembleUser ?? image.Config.User ?? '';
  const probe = await probeImage(docker, {
    image: image.Id,
    user,
    paths: usage.kind === 'image' ? [usage.path] : [],
    name: `slipway-s2i-usage-probe-${randomBytes(4).toString('hex')}`,
    log: () => undefined,
  });
  if (probe.owner instanceof Error) throw new BuildFailure('GenericBuildFailed', probe.owner.message);
  const owner = probe.owner;
  if (usage.kind === 'image') {
    const stat = probe.stats.get(usage.path);
    if (!stat || !isExecutableFile(stat)) {
      throw new BuildFailure(
        'InstallScriptsFailed',
        `usage script ${usage.path} does not exist in ${options.image}`,
      );
    }
  }
  const path = usage.kind === 'image' ? usage.path : posix.join(labels.destination, 'scripts', 'usage');
  const lines: string[] = [];
  const code = await withContainer(
    docker,
    {
      Image: image.Id,
      Entrypoint: [],
      Cmd: [path],
      User: user,
      AttachStdout: true,
      AttachStderr: true,
      NetworkDisabled: true,
    },
    async (container) => {
      if (usage.kind === 'upload') {
        await container.putArchive(
          entriesArchive(
            [
              {
                name: archivePath(labels.destination, 'scripts', 'usage'),
                content: usage.content,
                mode: 0o755,
              },
            ],
            owner,
          ),
          { path: '/' },
        );
      }
      return runToCompletion(container, {
        docker,
        signal,
        what: 'while running usage',
        onStdoutLine: (l) => lines.push(l),
        onStderrLine: (l) => lines.push(l),
      });
    },
  );
  if (code !== 0) {
    throw new BuildFailure(
      'GenericBuildFailed',
      `usage (${path}) exited with code ${code}: ${lines.slice(-5).join(' / ')}`,
    );
  }
  return lines.join('\n');
}
