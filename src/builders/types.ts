/**
 * What a strategy builder (src/builders/docker, src/builders/sti) is given and returns.
 * A builder runs one build on a prepared source directory with a Docker client; it
 * knows nothing of Redis, queues or HTTP.
 */
import type Docker from 'dockerode';
import type { BuildSpec, EnvVar } from '../core/build-types.js';

/** What the source checkout found, for image labels and Build.spec.revision. */
export interface SourceInfo {
  uri?: string;
  ref?: string;
  commit?: string;
  author?: { name?: string; email?: string };
  committer?: { name?: string; email?: string };
  message?: string;
  date?: string;
}

/**
 * One of `spec.source.secrets` or `configMaps`, read for this build: its keys as files in
 * `destinationDir` (relative to the context directory for the Docker strategy, to the
 * builder image's working directory for Source; '' is that directory itself).
 */
export interface BuildInputFiles {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  destinationDir: string;
  files: { name: string; content: Buffer }[];
}

export interface BuilderInput {
  docker: Docker;
  /** `{namespace}/{build name}`, for messages and labels. */
  buildRef: { namespace: string; name: string };
  spec: BuildSpec;
  /** Root of the checked-out source (empty directory for a Dockerfile-only source). */
  sourceDir: string;
  /** `sourceDir` joined with `spec.source.contextDir`; checked to exist. */
  contextDir: string;
  source: SourceInfo;
  /** The strategy image (`from`) resolved to a reference the local engine has or can pull. */
  fromImage?: string | undefined;
  /** The previous output image of this BuildConfig, for incremental S2I builds. */
  previousImage?: string | undefined;
  /** The local tag the result gets: `slipway-build/{ns}/{name}:latest`-style. */
  tag: string;
  /**
   * The image's name where it goes (the output's push reference), for labels that name
   * it (`io.k8s.display-name`); `tag` when the build has no output.
   */
  outputReference?: string | undefined;
  /** Environment every build gets (proxy settings) on top of the strategy's env. */
  extraEnv: EnvVar[];
  /** A CA bundle to trust inside build containers (OpenShift's mountTrustedCA), or undefined. */
  trustedCA?: string | undefined;
  /** The build's input Secrets and ConfigMaps (none when not given). */
  inputs?: BuildInputFiles[];
  /** Writes one line to the build's log. */
  log: (line: string) => void;
  /** Fires when the build is cancelled: stop containers, abort requests, throw BuildCancelled. */
  signal: AbortSignal;
}

export interface BuilderResult {
  /** The engine's image ID (`sha256:…`) of the built image, tagged as `input.tag`. */
  imageId: string;
}

export type Builder = (input: BuilderInput) => Promise<BuilderResult>;
