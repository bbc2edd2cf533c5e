/**
 * Build avoidance's I/O, for the build runner (docs/build-lifecycle.md, "Builds with
 * the same inputs"): the engine's IDs of the images a build is made from, the lookup of
 * an earlier build's image by input fingerprint (src/store/build-fingerprints.ts), the
 * check that the registry still holds it, and tagging it to the build's output. What
 * goes into a fingerprint is decided in src/queue/build-fingerprint.ts, whether a build
 * may be avoided at all in src/queue/build-decisions.ts.
 */
import type Docker from 'dockerode';
import type { BuildSpec } from '../core/build-types.js';
import type { SlipwayConfig } from '../core/config.js';
import { BuildCancelled, BuildFailure, errorMessage } from '../core/errors.js';
import type { RegistryAuth } from '../registry/credentials.js';
import { getManifest, putManifest, type StoredManifest } from '../registry/manifests.js';
import type { OutputTarget } from '../registry/references.js';
import type { BuildFingerprints, ReusableImage } from '../store/build-fingerprints.js';
import { buildFingerprint } from './build-fingerprint.js';

export interface AvoidanceContext {
  fingerprints: BuildFingerprints;
  /** False for a build forced to run (noCache): its image is only recorded, nothing is looked up. */
  lookUp: boolean;
  namespace: string;
  output: OutputTarget;
  config: Pick<SlipwayConfig, 'registry' | 'httpProxy' | 'httpsProxy' | 'noProxy' | 'trustedCA'>;
  /** The output's push credentials (the build's pushSecret), resolved when first needed. */
  pushAuth: () => Promise<RegistryAuth | undefined>;
  log: (line: string) => void;
  signal: AbortSignal;
}

/** What a fingerprint is computed from, once each part is resolved. */
export interface ResolvedInputs {
  spec: BuildSpec;
  /** The full commit id checked out, or '' for a source with no git part (an inline Dockerfile). */
  commit: string;
  /** Engine image IDs (content digests, the same on every engine that pulled the image). */
  fromId?: string | undefined;
  runtimeImageId?: string | undefined;
  /** An incremental build's previous output, as a manifest digest ('' when there is none). */
  previousDigest?: string | undefined;
  /** `spec.source.images`' images as engine image IDs, in order. */
  imageSourceIds?: string[] | undefined;
}

/** The input fingerprint of a build's resolved inputs, with the worker's own additions. */
export function fingerprintOf(ctx: AvoidanceContext, inputs: ResolvedInputs): string {
  return buildFingerprint({
    spec: inputs.spec,
    commit: inputs.commit,
    fromDigest: inputs.fromId,
    runtimeImageDigest: inputs.runtimeImageId,
    previousImageDigest: inputs.previousDigest,
    imageSourceDigests: inputs.imageSourceIds,
    outputReference: ctx.output.pushReference,
    server: {
      httpProxy: ctx.config.httpProxy,
      httpsProxy: ctx.config.httpsProxy,
      noProxy: ctx.config.noProxy,
      trustedCA: ctx.config.trustedCA,
    },
  });
}

/** The engine's ID of an image it already has, or undefined (nothing is pulled). */
export async function localImageId(docker: Docker, reference: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(reference).inspect()).Id;
  } catch {
    return undefined;
  }
}

/** An earlier build's image that a build with the same inputs may take. */
export interface Reusable {
  fingerprint: string;
  image: ReusableImage;
  manifest: StoredManifest;
}

/**
 * The image an earlier Complete build made from the same inputs, when the registry
 * still holds it. A mapping whose image is gone is dropped; a registry that cannot be
 * asked means a real build (said in the log), never a failed one.
 */
export async function findReusable(
  ctx: AvoidanceContext,
  fingerprint: string,
): Promise<Reusable | undefined> {
  const image = await ctx.fingerprints.lookUp(ctx.namespace, fingerprint);
  if (!image) {
    ctx.log(`Input fingerprint ${fingerprint}: no earlier build with the same inputs`);
    return undefined;
  }
  // The output is part of the fingerprint, so the image is already in the output's repository.
  if (image.registry !== ctx.output.registry || image.repository !== ctx.output.repository) return undefined;
  try {
    const manifest = await getManifest(
      {
        registry: image.registry,
        repository: image.repository,
        auth: await ctx.pushAuth(),
        internalRegistry: ctx.config.registry,
        signal: ctx.signal,
      },
      image.digest,
    );
    if (manifest) return { fingerprint, image, manifest };
    ctx.log(
      `The image ${image.digest} of build ${image.build} (same inputs) is no longer in the registry: building it again`,
    );
    await ctx.fingerprints.forget(ctx.namespace, fingerprint, image.digest);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.log(
      `warning: could not check that the image ${image.digest} of build ${image.build} is still in the registry (${errorMessage(err)}): building`,
    );
  }
  return undefined;
}

/** Tags the reused image to the output (the same manifest, so the same digest); returns the digest. */
export async function tagReusedImage(ctx: AvoidanceContext, reusable: Reusable): Promise<string> {
  const { output } = ctx;
  ctx.log(
    `Tagging ${output.registry}/${output.repository}@${reusable.image.digest} as ${output.pushReference} ...`,
  );
  let digest: string;
  try {
    digest = await putManifest(
      {
        registry: output.registry,
        repository: output.repository,
        auth: await ctx.pushAuth(),
        internalRegistry: ctx.config.registry,
        signal: ctx.signal,
      },
      output.tag,
      reusable.manifest,
    );
  } catch (err) {
    if (ctx.signal.aborted)
      throw new BuildCancelled('build cancelled while tagging the image', { cause: err });
    if (err instanceof BuildFailure) throw err;
    throw new BuildFailure(
      'PushImageToRegistryFailed',
      `Failed to tag the reused image as ${output.pushReference}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  ctx.log(`Successfully tagged ${output.registry}/${output.repository}@${digest}`);
  return digest;
}

/** The manifest digest in a `repo@sha256:…` reference, or undefined for a tag reference. */
export function digestOf(reference: string | undefined): string | undefined {
  const at = reference?.lastIndexOf('@') ?? -1;
  return at >= 0 ? reference!.slice(at + 1) : undefined;
}

/** The digest the output's tag points at in the registry now ('' when it has none). */
export async function registryTagDigest(ctx: AvoidanceContext): Promise<string> {
  const manifest = await getManifest(
    {
      registry: ctx.output.registry,
      repository: ctx.output.repository,
      auth: await ctx.pushAuth(),
      internalRegistry: ctx.config.registry,
      signal: ctx.signal,
    },
    ctx.output.tag,
  );
  return manifest?.digest ?? '';
}
