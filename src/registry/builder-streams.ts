/**
 * Registers Slipway's S2I builder images as ImageStreams in namespace `openshift`
 * (`nodejs`, `python`, `static`), as OpenShift ships its builders, so a BuildConfig's
 * `sourceStrategy.from: {kind: ImageStreamTag, namespace: openshift, name: nodejs:latest}`
 * works unchanged. The images are pushed to the internal registry so workers on other
 * machines can pull them.
 */
import type Docker from 'dockerode';
import { AlreadyExistsError, errorMessage } from '../core/errors.js';
import type { Resource } from '../core/resource.js';
import type { ResourceStore } from '../store/resource-store.js';
import { IMAGE_STREAM, recordImageStreamTag } from './image-streams.js';
import { pushImage } from './push.js';

export const BUILDER_IMAGES = [
  { stream: 'nodejs', local: 'slipway/s2i-nodejs:latest', display: 'Node.js (Debian nodejs + npm)' },
  { stream: 'python', local: 'slipway/s2i-python:latest', display: 'Python 3 (Debian python3 + venv)' },
  { stream: 'static', local: 'slipway/s2i-static:latest', display: 'Static files over HTTP on 8080' },
] as const;

export const BUILDER_NAMESPACE = 'openshift';

export interface RegisterBuilderOptions {
  docker: Docker;
  store: ResourceStore;
  registry: string;
  log: (line: string) => void;
}

/** Pushes each builder image the engine has and records it on `openshift/{stream}:latest`; returns what it registered. */
export async function registerBuilderImages(options: RegisterBuilderOptions): Promise<string[]> {
  const { docker, store, registry, log } = options;
  const done: string[] = [];
  for (const b of BUILDER_IMAGES) {
    let imageId: string;
    try {
      imageId = (await docker.getImage(b.local).inspect()).Id;
    } catch {
      log(`builder image ${b.local} is not on this engine; run scripts/build-builder-images.sh to make it`);
      continue;
    }
    const repository = `${registry}/${BUILDER_NAMESPACE}/${b.stream}`;
    try {
      const digest = await pushImage({
        docker,
        image: imageId,
        reference: `${repository}:latest`,
        attempts: 2,
        retryDelayMs: 500,
        log: () => undefined,
        signal: new AbortController().signal,
      });
      await ensureBuilderStream(store, b);
      await recordImageStreamTag({
        store,
        namespace: BUILDER_NAMESPACE,
        name: b.stream,
        tag: 'latest',
        digest,
        repository,
      });
      done.push(`${BUILDER_NAMESPACE}/${b.stream}:latest`);
    } catch (err) {
      log(`could not register builder image ${b.local}: ${errorMessage(err)}`);
    }
  }
  return done;
}

/**
 * Creates the builder's ImageStream, or adds the builder annotations to one that exists:
 * the push above can make the registry's notification create the stream first, and a
 * second `up` finds it from the first. Either way the stream ends up marked as a builder.
 */
export async function ensureBuilderStream(
  store: ResourceStore,
  b: (typeof BUILDER_IMAGES)[number],
): Promise<void> {
  const annotations = {
    'openshift.io/display-name': b.display,
    'openshift.io/provider-display-name': 'Slipway',
  };
  const latest = { name: 'latest', annotations: { tags: `builder,${b.stream}` } };
  try {
    await store.create(IMAGE_STREAM, {
      apiVersion: 'image.openshift.io/v1',
      kind: 'ImageStream',
      metadata: { name: b.stream, namespace: BUILDER_NAMESPACE, annotations },
      spec: { tags: [latest] },
    });
    return;
  } catch (err) {
    if (!(err instanceof AlreadyExistsError)) throw err;
  }
  await store.update(IMAGE_STREAM, BUILDER_NAMESPACE, b.stream, (current: Resource) => {
    const spec = (current.spec ?? {}) as { tags?: { name: string; annotations?: Record<string, string> }[] };
    const tags = [...(spec.tags ?? [])];
    const i = tags.findIndex((t) => t.name === 'latest');
    const marked = i >= 0 && tags[i]!.annotations?.tags === latest.annotations.tags;
    const named = Object.entries(annotations).every(([k, v]) => current.metadata.annotations?.[k] === v);
    if (marked && named) return undefined;
    if (i >= 0) tags[i] = { ...tags[i]!, annotations: { ...tags[i]!.annotations, ...latest.annotations } };
    else tags.push(latest);
    return {
      ...current,
      metadata: { ...current.metadata, annotations: { ...current.metadata.annotations, ...annotations } },
      spec: { ...spec, tags },
    };
  });
}
