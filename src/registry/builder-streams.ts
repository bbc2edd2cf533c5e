/**
 * Registers Slipway's S2I builder images as ImageStreams in namespace `openshift`
 * (`nodejs`, `python`, `static`), as OpenShift ships its builders, so a BuildConfig's
 * `sourceStrategy.from: {kind: ImageStreamTag, namespace: openshift, name: python:latest}`
 * works unchanged. The images are pushed to the internal registry so workers on other
 * machines can pull them.
 *
 * Each stream looks like one of OpenShift's sample streams: a tag named after the
 * language version the image really has (the `org.opencontainers.image.version` label
 * that scripts/build-builder-images.sh reads from the installed runtime), and `latest`
 * following it, both annotated for the catalog (`supports`, `tags: builder,…`,
 * `sampleRepo`, `iconClass`).
 */
import type Docker from 'dockerode';
import { AlreadyExistsError, errorMessage } from '../core/errors.js';
import type { Resource } from '../core/resource.js';
import type { ResourceStore } from '../store/resource-store.js';
import { IMAGE_STREAM, recordImageStreamTag } from './image-streams.js';
import { pushImage } from './push.js';

export interface BuilderImage {
  /** The ImageStream's name in `openshift`. */
  stream: string;
  /** The local tag scripts/build-builder-images.sh makes. */
  local: string;
  /** The language's name in the catalog: "Python", "Node.js". */
  language: string;
  description: string;
  /** What else `supports` names besides the versioned stream, e.g. `html` for a static site. */
  supports: readonly string[];
  /** The catalog tags after `builder`. */
  tags: readonly string[];
  iconClass: string;
  /** A repository that builds with this builder (OpenShift's own samples). */
  sampleRepo: string;
}

export const BUILDER_IMAGES: readonly BuilderImage[] = [
  {
    stream: 'nodejs',
    local: 'slipway/s2i-nodejs:latest',
    language: 'Node.js',
    description:
      "Build and run Node.js applications on Debian's nodejs and npm: npm ci (or install), then npm start.",
    supports: [],
    tags: ['nodejs'],
    iconClass: 'icon-nodejs',
    sampleRepo: 'https://github.com/sclorg/nodejs-ex.git',
  },
  {
    stream: 'python',
    local: 'slipway/s2i-python:latest',
    language: 'Python',
    description:
      "Build and run Python applications on Debian's python3: requirements.txt and pyproject.toml installed with pip (PIP_INDEX_URL honoured), then app.sh, app.py (APP_FILE) or gunicorn (APP_MODULE).",
    supports: [],
    tags: ['python'],
    iconClass: 'icon-python',
    sampleRepo: 'https://github.com/sclorg/django-ex.git',
  },
  {
    stream: 'static',
    local: 'slipway/s2i-static:latest',
    language: 'Static site (nginx)',
    description:
      'Serve a static site with nginx on 8080: the repository root, a built folder (dist/, build/, public/, _site/) or DOCUMENT_ROOT.',
    supports: ['html', 'nginx'],
    tags: ['static', 'nginx'],
    iconClass: 'icon-nginx',
    sampleRepo: 'https://github.com/sclorg/nginx-ex.git',
  },
];

export const BUILDER_NAMESPACE = 'openshift';

/** The label scripts/build-builder-images.sh sets to the installed language version. */
export const VERSION_LABEL = 'org.opencontainers.image.version';

/** A version usable as an image and ImageStream tag, as the build script writes it (`3.11`, `1.22`). */
const VERSION_TAG = /^[0-9][0-9A-Za-z._-]{0,40}$/;

export interface RegisterBuilderOptions {
  docker: Docker;
  store: ResourceStore;
  registry: string;
  log: (line: string) => void;
  /** The streams to register (default: all of BUILDER_IMAGES). */
  only?: readonly string[];
}

interface SpecTag {
  name: string;
  annotations?: Record<string, string>;
  from?: { kind?: string; name: string; namespace?: string };
  [key: string]: unknown;
}

/** Pure: the builder's version from its image labels, or undefined when it has none usable as a tag. */
export function builderVersion(labels: Record<string, string> | null | undefined): string | undefined {
  const v = labels?.[VERSION_LABEL]?.trim();
  return v && VERSION_TAG.test(v) ? v : undefined;
}

/**
 * Pushes each builder image the engine has as `openshift/{stream}:{version}` and
 * `:latest`, and records both; returns the `latest` references it registered.
 */
export async function registerBuilderImages(options: RegisterBuilderOptions): Promise<string[]> {
  const { docker, store, registry, log, only } = options;
  const done: string[] = [];
  for (const b of BUILDER_IMAGES.filter((x) => !only || only.includes(x.stream))) {
    let image: Docker.ImageInspectInfo;
    try {
      image = await docker.getImage(b.local).inspect();
    } catch {
      log(`builder image ${b.local} is not on this engine; run scripts/build-builder-images.sh to make it`);
      continue;
    }
    const version = builderVersion(image.Config?.Labels);
    const repository = `${registry}/${BUILDER_NAMESPACE}/${b.stream}`;
    try {
      const digests = new Map<string, string>();
      for (const tag of version ? [version, 'latest'] : ['latest']) {
        digests.set(
          tag,
          await pushImage({
            docker,
            image: image.Id,
            reference: `${repository}:${tag}`,
            attempts: 2,
            retryDelayMs: 500,
            log: () => undefined,
            signal: new AbortController().signal,
          }),
        );
      }
      await ensureBuilderStream(store, b, version);
      for (const [tag, digest] of digests) {
        await recordImageStreamTag({
          store,
          namespace: BUILDER_NAMESPACE,
          name: b.stream,
          tag,
          digest,
          repository,
        });
      }
      done.push(`${BUILDER_NAMESPACE}/${b.stream}:latest`);
    } catch (err) {
      log(`could not register builder image ${b.local}: ${errorMessage(err)}`);
    }
  }
  return done;
}

/** Pure: the stream-level annotations of a builder's ImageStream. */
export function builderStreamAnnotations(b: BuilderImage): Record<string, string> {
  return {
    'openshift.io/display-name': b.language,
    'openshift.io/provider-display-name': 'Slipway',
  };
}

/**
 * Pure: the spec tags a builder's ImageStream should have, as OpenShift's sample streams
 * write them: the version tag, and `latest` following it. Without a version, `latest` alone.
 */
export function builderSpecTags(b: BuilderImage, version: string | undefined): SpecTag[] {
  const common = {
    iconClass: b.iconClass,
    'openshift.io/provider-display-name': 'Slipway',
    sampleRepo: b.sampleRepo,
    tags: ['builder', ...b.tags].join(','),
  };
  const supports = (...first: string[]): string => [...first, b.stream, ...b.supports].join(',');
  if (!version) {
    return [
      {
        name: 'latest',
        annotations: {
          ...common,
          'openshift.io/display-name': b.language,
          description: b.description,
          supports: supports(),
        },
      },
    ];
  }
  return [
    {
      name: version,
      annotations: {
        ...common,
        'openshift.io/display-name': `${b.language} ${version}`,
        description: b.description,
        supports: supports(`${b.stream}:${version}`),
        version,
      },
      referencePolicy: { type: 'Local' },
    },
    {
      name: 'latest',
      annotations: {
        ...common,
        'openshift.io/display-name': `${b.language} (Latest)`,
        description: `${b.description} Follows the newest version this server has, now ${version}.`,
        supports: supports(),
      },
      from: { kind: 'ImageStreamTag', name: version },
      referencePolicy: { type: 'Local' },
    },
  ];
}

/**
 * Pure: `current` with the builder's annotations and tags merged in (other tags and
 * annotations kept), or undefined when it already has them all.
 */
export function withBuilderMarks(
  current: Resource,
  b: BuilderImage,
  version: string | undefined,
): Resource | undefined {
  const spec = (current.spec ?? {}) as { tags?: SpecTag[] | null };
  const tags = [...(spec.tags ?? [])];
  let changed = false;
  for (const want of builderSpecTags(b, version)) {
    const i = tags.findIndex((t) => t.name === want.name);
    const have = i >= 0 ? tags[i]! : undefined;
    const merged: SpecTag = { ...have, ...want, annotations: { ...have?.annotations, ...want.annotations } };
    if (have && JSON.stringify(sortKeys(have)) === JSON.stringify(sortKeys(merged))) continue;
    changed = true;
    if (i >= 0) tags[i] = merged;
    else tags.push(merged);
  }
  const annotations = builderStreamAnnotations(b);
  const named = Object.entries(annotations).every(([k, v]) => current.metadata.annotations?.[k] === v);
  if (!changed && named) return undefined;
  return {
    ...current,
    metadata: { ...current.metadata, annotations: { ...current.metadata.annotations, ...annotations } },
    spec: { ...spec, tags },
  };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

/**
 * Creates the builder's ImageStream, or adds the builder annotations and tags to one
 * that exists: the push above can make the registry's notification create the stream
 * first, and a second `up` finds it from the first. Either way the stream ends up marked
 * as a builder, and a run that changes nothing writes nothing.
 */
export async function ensureBuilderStream(
  store: ResourceStore,
  b: BuilderImage,
  version?: string | undefined,
): Promise<void> {
  try {
    await store.create(IMAGE_STREAM, {
      apiVersion: 'image.openshift.io/v1',
      kind: 'ImageStream',
      metadata: { name: b.stream, namespace: BUILDER_NAMESPACE, annotations: builderStreamAnnotations(b) },
      spec: { tags: builderSpecTags(b, version) },
    });
    return;
  } catch (err) {
    if (!(err instanceof AlreadyExistsError)) throw err;
  }
  await store.update(IMAGE_STREAM, BUILDER_NAMESPACE, b.stream, (current: Resource) =>
    withBuilderMarks(current, b, version),
  );
}
