/**
 * The S2I contract as image labels: what a builder image declares (scripts URL,
 * destination, assemble user, runtime input files) and what the output image is
 * labelled with. Pure functions over image config, tested in test/unit/sti-labels.test.ts.
 *
 * Label names and fallbacks follow openshift/source-to-image pkg/docker/docker.go and
 * pkg/util/labels.go; the `io.openshift.build.*` set is what OpenShift's builder adds
 * (openshift/builder pkg/build/builder/sti.go `s2iBuildLabels`).
 */
import { redactUri } from '../../core/redact.js';
import type { SourceInfo } from '../types.js';

export const ScriptsUrlLabel = 'io.openshift.s2i.scripts-url';
export const DestinationLabel = 'io.openshift.s2i.destination';
export const AssembleUserLabel = 'io.openshift.s2i.assemble-user';
export const AssembleInputFilesLabel = 'io.openshift.s2i.assemble-input-files';
/** s2i's default destination when the builder declares none. */
export const DefaultDestination = '/tmp';
/** s2i reads extra output labels from this file after assemble (docs/new_labels.md). */
export const ImageMetadataPath = '/tmp/.s2i/image_metadata.json';

/** The parts of an image's config (`docker inspect .Config`) the contract reads. */
export interface ImageConfigLike {
  Labels?: Record<string, string> | null | undefined;
  Env?: string[] | null | undefined;
  User?: string | undefined;
  WorkingDir?: string | undefined;
  Entrypoint?: string[] | string | null | undefined;
  Cmd?: string[] | string | null | undefined;
}

export interface BuilderLabels {
  /** Where the image keeps its scripts (`image:///usr/libexec/s2i`), or undefined. */
  scriptsUrl: string | undefined;
  /** Where sources, scripts and artifacts are placed: `DEST/src`, `DEST/scripts`, `DEST/artifacts`. */
  destination: string;
  /** The user `assemble` runs as; undefined means the image's USER. */
  assembleUser: string | undefined;
  /** Raw `assemble-input-files` mapping (`/src[:dest];…`), for runtime-image builds. */
  assembleInputFiles: string | undefined;
  /** Deprecated labels or variables the image used, to warn about as s2i does. */
  warnings: string[];
}

function envValue(env: readonly string[] | null | undefined, name: string): string | undefined {
  for (const entry of env ?? []) {
    if (entry.startsWith(`${name}=`)) {
      const value = entry.slice(name.length + 1).trim();
      if (value) return value;
    }
  }
  return undefined;
}

function label(config: ImageConfigLike, name: string): string | undefined {
  const value = config.Labels?.[name]?.trim();
  return value ? value : undefined;
}

/** Reads the S2I labels of a builder image, with s2i's deprecated fallbacks. */
export function readBuilderLabels(config: ImageConfigLike, imageName = 'the builder image'): BuilderLabels {
  const warnings: string[] = [];

  let scriptsUrl = label(config, ScriptsUrlLabel);
  if (!scriptsUrl) {
    scriptsUrl = label(config, 'io.s2i.scripts-url');
    if (scriptsUrl)
      warnings.push(`${imageName} uses the deprecated label io.s2i.scripts-url; use ${ScriptsUrlLabel}`);
  }
  if (!scriptsUrl) {
    scriptsUrl = envValue(config.Env, 'STI_SCRIPTS_URL');
    if (scriptsUrl)
      warnings.push(`${imageName} uses the deprecated variable STI_SCRIPTS_URL; use ${ScriptsUrlLabel}`);
  }

  let destination = label(config, DestinationLabel);
  if (!destination) {
    destination = label(config, 'io.s2i.destination');
    if (destination)
      warnings.push(`${imageName} uses the deprecated label io.s2i.destination; use ${DestinationLabel}`);
  }
  if (!destination) {
    destination = envValue(config.Env, 'STI_LOCATION');
    if (destination)
      warnings.push(`${imageName} uses the deprecated variable STI_LOCATION; use ${DestinationLabel}`);
  }

  return {
    scriptsUrl,
    destination: normalizeDestination(destination ?? DefaultDestination),
    assembleUser: label(config, AssembleUserLabel),
    assembleInputFiles: label(config, AssembleInputFilesLabel),
    warnings,
  };
}

/** `/tmp/` → `/tmp`; a relative destination is taken from `/`, as the engine would. */
export function normalizeDestination(destination: string): string {
  const parts = destination.split('/').filter((p) => p && p !== '.');
  if (parts.includes('..')) throw new Error(`destination "${destination}" must not contain ".."`);
  return '/' + parts.join('/');
}

export interface OutputLabelInput {
  /** The builder image reference as given to the build (`sourceStrategy.from`, resolved). */
  builderImage: string;
  /** The tag the result gets; s2i uses it as `io.k8s.display-name`. */
  tag: string;
  source: SourceInfo;
  /** `spec.source.git.ref`: OpenShift labels what it was asked to build, not git's view. */
  requestedRef?: string | undefined;
  contextDir?: string | undefined;
  buildName?: string | undefined;
  buildNamespace?: string | undefined;
  /** `spec.output.imageLabels`: the user's labels win over generated ones. */
  imageLabels?: { name: string; value?: string | undefined }[] | undefined;
  /** Labels `assemble` asked for in /tmp/.s2i/image_metadata.json. */
  metadataLabels?: Record<string, string> | undefined;
}

/**
 * The labels the output image gets on top of those inherited from the builder: s2i's
 * `io.openshift.s2i.build.*` set (what the `s2i` CLI writes) and OpenShift's
 * `io.openshift.build.*` set (what an OpenShift build writes), then image metadata
 * from assemble, then the BuildConfig's `output.imageLabels`.
 */
export function outputImageLabels(input: OutputLabelInput): Record<string, string> {
  const labels: Record<string, string> = {};
  const { source } = input;
  const author = source.author?.name ? `${source.author.name} <${source.author.email ?? ''}>` : undefined;
  const contextDir = cleanContextDir(input.contextDir);

  labels['io.k8s.display-name'] = input.tag;
  for (const ns of ['io.openshift.s2i.', 'io.openshift.']) {
    const set = (key: string, value: string | undefined): void => {
      if (value) labels[`${ns}build.${key}`] = value;
    };
    set('image', input.builderImage);
    set('commit.author', author);
    set('commit.date', source.date);
    set('commit.id', source.commit);
    set('commit.ref', source.ref);
    set('commit.message', source.message);
    set('source-location', source.uri === undefined ? undefined : redactUri(source.uri));
    set('source-context-dir', contextDir);
  }
  if (input.requestedRef) labels['io.openshift.build.commit.ref'] = input.requestedRef;
  if (input.buildName) labels['io.openshift.build.name'] = input.buildName;
  if (input.buildNamespace) labels['io.openshift.build.namespace'] = input.buildNamespace;
  Object.assign(labels, input.metadataLabels ?? {});
  for (const l of input.imageLabels ?? []) labels[l.name] = l.value ?? '';
  return labels;
}

function cleanContextDir(contextDir: string | undefined): string | undefined {
  if (!contextDir) return undefined;
  const clean = contextDir
    .split('/')
    .filter((p) => p && p !== '.')
    .join('/');
  return clean || undefined;
}

/**
 * Parses /tmp/.s2i/image_metadata.json: `{"labels": [{"k": "v"}, …]}`. s2i fails the
 * build on any other shape, so this throws with the reason.
 */
export function parseImageMetadata(text: string): Record<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${ImageMetadataPath} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const list = (data as { labels?: unknown } | null)?.labels;
  if (list === undefined) return {};
  if (!Array.isArray(list))
    throw new Error(`${ImageMetadataPath}: "labels" must be a list of {"name": "value"} objects`);
  const labels: Record<string, string> = {};
  for (const item of list) {
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      throw new Error(
        `${ImageMetadataPath}: every entry of "labels" must be an object such as {"name": "value"}`,
      );
    }
    for (const [k, v] of Object.entries(item as Record<string, unknown>)) {
      if (typeof v !== 'string')
        throw new Error(`${ImageMetadataPath}: label "${k}" must have a string value`);
      labels[k] = v;
    }
  }
  return labels;
}

/** Docker reports Entrypoint/Cmd as a list, a string (shell form) or null. */
export function asCommandList(value: string[] | string | null | undefined): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? ['/bin/sh', '-c', value] : value;
}
