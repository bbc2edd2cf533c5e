/**
 * A build's input fingerprint, for build avoidance (docs/build-lifecycle.md, "Builds
 * with the same inputs"): a sha256 over a canonical JSON of everything that decides
 * what image a build makes. Two builds with the same fingerprint make the same image,
 * so the second one may reuse the first one's instead of building.
 *
 * Pure: the caller resolves what needs I/O first (the commit the ref points at, the
 * builder images' digests) and hands the results in.
 */
import { createHash } from 'node:crypto';
import type { BuildSpec } from '../core/build-types.js';

/**
 * Bumped whenever what goes into the fingerprint changes, so that mappings recorded by
 * an older formula are never matched by a newer one.
 */
export const FINGERPRINT_VERSION = 1;

/** Strategy fields that change how a build runs, never what it makes. */
const RUN_ONLY_STRATEGY_FIELDS = ['noCache', 'forcePull', 'pullSecret'] as const;

export interface BuildInputs {
  spec: BuildSpec;
  /** The full commit id the build checks out (resolved from the ref when none was given). */
  commit: string;
  /** The strategy's `from` image as the engine or registry digest it resolved to. */
  fromDigest?: string | undefined;
  /** An extended S2I build's runtime image, as a digest. */
  runtimeImageDigest?: string | undefined;
  /** An incremental build's previous image (its artifacts are an input), as a digest. */
  previousImageDigest?: string | undefined;
  /** The images `spec.source.images` copies paths out of, as digests, in order. */
  imageSourceDigests?: string[] | undefined;
  /** Where the image goes: `registry/repository:tag`, as pushed. */
  outputReference: string;
  /** What the worker adds to every build: proxy settings and the trusted-CA bundle. */
  server?: {
    httpProxy?: string | undefined;
    httpsProxy?: string | undefined;
    noProxy?: string | undefined;
    trustedCA?: string | undefined;
  };
}

/**
 * JSON with object keys sorted at every depth and `undefined` left out, so the same
 * value always gives the same text. Array order is kept: env and build-arg order is
 * meaningful (a later entry can refer to an earlier one).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The strategy as it decides the image: images as digests, run-only switches left out. */
function strategyInputs(inputs: BuildInputs): Record<string, unknown> {
  const { strategy } = inputs.spec;
  const key =
    strategy.type === 'Source' ? 'sourceStrategy' : strategy.type === 'Docker' ? 'dockerStrategy' : undefined;
  const options = { ...((key ? strategy[key] : undefined) ?? {}) } as Record<string, unknown>;
  for (const field of RUN_ONLY_STRATEGY_FIELDS) delete options[field];
  // The tag or stream a builder image was named by does not matter, only what it is.
  delete options.from;
  if ('runtimeImage' in options) delete options.runtimeImage;
  return {
    type: strategy.type,
    options,
    from: inputs.fromDigest,
    runtimeImage: inputs.runtimeImageDigest,
    previousImage: inputs.previousImageDigest,
  };
}

/** The source as it decides the image: the commit stands for the ref, transport settings left out. */
function sourceInputs(inputs: BuildInputs): Record<string, unknown> {
  const { git, sourceSecret: _credentials, binary: _binary, type: _type, ...rest } = inputs.spec.source;
  return {
    ...rest,
    git: git ? { uri: git.uri } : undefined,
    commit: inputs.commit,
    // Undefined without image sources: the fingerprints of other builds stay as they were.
    imageDigests: inputs.imageSourceDigests,
  };
}

/** The canonical object the fingerprint hashes (exported for tests and for debugging a miss). */
export function fingerprintDocument(inputs: BuildInputs): Record<string, unknown> {
  const { spec } = inputs;
  return {
    version: FINGERPRINT_VERSION,
    source: sourceInputs(inputs),
    strategy: strategyInputs(inputs),
    output: { to: inputs.outputReference, imageLabels: spec.output?.imageLabels },
    postCommit: spec.postCommit,
    server: inputs.server,
  };
}

/** `sha256:` and the hex sha256 of the inputs' canonical JSON. */
export function buildFingerprint(inputs: BuildInputs): string {
  return `sha256:${createHash('sha256')
    .update(canonicalJson(fingerprintDocument(inputs)))
    .digest('hex')}`;
}
