/**
 * ImageStreams: recording a pushed digest on a tag (newest first, with history), and
 * resolving `ImageStreamTag`/`DockerImage` references to something the engine can pull.
 */
import { NotFoundError } from '../core/errors.js';
import type { ImageStreamStatus, NamedTagEventList } from '../core/image-types.js';
import { lookupKind, nowTimestamp, type Resource } from '../core/resource.js';
import type { ResourceStore } from '../store/resource-store.js';
import { splitStreamTag } from './references.js';

export const IMAGE_STREAM = lookupKind('image.openshift.io/v1', 'ImageStream')!;

/** How many history entries a tag keeps. */
export const TAG_HISTORY_LIMIT = 10;

/** Pure: the status after `digest` lands on `tag`. Re-recording the newest digest changes nothing. */
export function withTagEvent(
  status: ImageStreamStatus,
  options: {
    tag: string;
    digest: string;
    repository: string;
    generation: number;
    created?: string;
    /** Where the image lives when not in this stream's repository (an image tagged in from another stream). */
    reference?: string;
  },
): { status: ImageStreamStatus; changed: boolean } {
  const tags: NamedTagEventList[] = structuredClone(status.tags ?? []);
  let list = tags.find((t) => t.tag === options.tag);
  if (!list) {
    list = { tag: options.tag, items: [] };
    tags.push(list);
  }
  if (list.items[0]?.image === options.digest) return { status, changed: false };
  list.items.unshift({
    created: options.created ?? nowTimestamp(),
    dockerImageReference: options.reference ?? `${options.repository}@${options.digest}`,
    image: options.digest,
    generation: options.generation,
  });
  list.items = list.items.slice(0, TAG_HISTORY_LIMIT);
  tags.sort((a, b) => a.tag.localeCompare(b.tag));
  return { status: { ...status, dockerImageRepository: options.repository, tags }, changed: true };
}

export interface RecordTagOptions {
  store: ResourceStore;
  namespace: string;
  name: string;
  tag: string;
  digest: string;
  /** `registry/ns/name` */
  repository: string;
  /** The image's pullable reference when it lives in another repository (`slipway tag` across streams). */
  reference?: string;
}

/** Records a digest on an ImageStream tag, creating the stream if it does not exist. */
export async function recordImageStreamTag(options: RecordTagOptions): Promise<Resource> {
  const { store, namespace, name } = options;
  if (!(await store.get(IMAGE_STREAM, namespace, name))) {
    try {
      await store.create(IMAGE_STREAM, {
        apiVersion: 'image.openshift.io/v1',
        kind: 'ImageStream',
        metadata: { name, namespace },
        spec: { lookupPolicy: { local: false } },
        status: { dockerImageRepository: options.repository },
      });
    } catch (err) {
      if (!(err instanceof Error && err.name === 'AlreadyExistsError')) throw err;
    }
  }
  return store.update(IMAGE_STREAM, namespace, name, (cur) => {
    const { status, changed } = withTagEvent((cur.status ?? {}) as ImageStreamStatus, {
      tag: options.tag,
      digest: options.digest,
      repository: options.repository,
      generation: cur.metadata.generation ?? 1,
      ...(options.reference ? { reference: options.reference } : {}),
    });
    if (!changed) return undefined;
    cur.status = status as Record<string, unknown>;
    return cur;
  });
}

/** The newest `dockerImageReference` of `name:tag`, or undefined. */
export function latestTagReference(stream: Resource, tag: string): string | undefined {
  const status = (stream.status ?? {}) as ImageStreamStatus;
  return status.tags?.find((t) => t.tag === tag)?.items[0]?.dockerImageReference;
}

/**
 * Resolves a strategy's `from` to a pullable reference: DockerImage as written,
 * ImageStreamTag to the digest its tag points at, ImageStreamImage to `stream@digest`.
 */
export async function resolveImageReference(
  store: ResourceStore,
  from: { kind?: string | undefined; name: string; namespace?: string | undefined },
  defaultNamespace: string,
): Promise<string> {
  const kind = from.kind ?? 'DockerImage';
  if (kind === 'DockerImage') return from.name;
  const namespace = from.namespace ?? defaultNamespace;
  if (kind === 'ImageStreamTag') {
    const { name, tag } = splitStreamTag(from.name);
    const stream = await store.get(IMAGE_STREAM, namespace, name);
    if (!stream) throw new NotFoundError(`ImageStream "${namespace}/${name}" does not exist`);
    const spec = (stream.spec ?? {}) as {
      tags?: { name: string; from?: { kind?: string; name: string } }[] | null;
    };
    const ref =
      latestTagReference(stream, tag) ??
      spec.tags?.find((t) => t.name === tag && t.from?.kind === 'DockerImage')?.from?.name;
    if (!ref) throw new NotFoundError(`ImageStreamTag "${namespace}/${name}:${tag}" has no image yet`);
    return ref;
  }
  if (kind === 'ImageStreamImage') {
    const [name, digest] = from.name.split('@');
    const stream = await store.get(IMAGE_STREAM, namespace, name ?? '');
    const status = (stream?.status ?? {}) as ImageStreamStatus;
    const item = status.tags?.flatMap((t) => t.items).find((i) => i.image === digest);
    if (!item) throw new NotFoundError(`ImageStreamImage "${namespace}/${from.name}" not found`);
    return item.dockerImageReference;
  }
  throw new NotFoundError(`image reference kind "${kind}" is not supported`);
}
