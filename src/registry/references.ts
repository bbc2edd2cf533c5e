/** Pure parsing and resolving of image references and build outputs. */
import { InputError } from '../core/errors.js';

export interface ImageReference {
  /** `127.0.0.1:5000`, `docker.io`, or '' when the name has no registry part. */
  registry: string;
  /** `ns/app` */
  repository: string;
  tag?: string;
  digest?: string;
}

/** Splits `host:port/ns/app:tag@sha256:…` into its parts (Docker's reference grammar). */
export function parseImageReference(ref: string): ImageReference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const out: ImageReference = {
    registry: hasRegistry ? first : '',
    repository: hasRegistry ? rest.slice(slash + 1) : rest,
  };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

export function formatImageReference(ref: ImageReference): string {
  const name = ref.registry ? `${ref.registry}/${ref.repository}` : ref.repository;
  if (ref.digest) return `${name}@${ref.digest}`;
  return ref.tag ? `${name}:${ref.tag}` : name;
}

/** `app:latest` → { name: 'app', tag: 'latest' }; a missing tag is `latest`. */
export function splitStreamTag(nameTag: string): { name: string; tag: string } {
  const idx = nameTag.lastIndexOf(':');
  return idx > 0
    ? { name: nameTag.slice(0, idx), tag: nameTag.slice(idx + 1) }
    : { name: nameTag, tag: 'latest' };
}

export interface OutputTarget {
  /** What `docker push` gets: `registry/ns/app:tag`. */
  pushReference: string;
  registry: string;
  repository: string;
  tag: string;
  /** Set when the output is an ImageStreamTag: the tag to record the digest on. */
  imageStream?: { namespace: string; name: string; tag: string };
}

/** Resolves `spec.output.to` to where the image is pushed. */
export function resolveOutput(
  to: { kind?: string | undefined; name: string; namespace?: string | undefined },
  buildNamespace: string,
  internalRegistry: string,
): OutputTarget {
  const kind = to.kind ?? 'ImageStreamTag';
  if (kind === 'DockerImage') {
    const ref = parseImageReference(to.name);
    if (!ref.registry) {
      throw new InputError(
        `output image "${to.name}" names no registry; Slipway cannot reach Docker Hub, use HOST:PORT/NAME:TAG`,
      );
    }
    const tag = ref.tag ?? 'latest';
    return {
      pushReference: formatImageReference({ ...ref, tag }),
      registry: ref.registry,
      repository: ref.repository,
      tag,
    };
  }
  if (kind !== 'ImageStreamTag') throw new InputError(`output kind "${kind}" is not supported`);
  const { name, tag } = splitStreamTag(to.name);
  const namespace = to.namespace ?? buildNamespace;
  const repository = `${namespace}/${name}`;
  return {
    pushReference: `${internalRegistry}/${repository}:${tag}`,
    registry: internalRegistry,
    repository,
    tag,
    imageStream: { namespace, name, tag },
  };
}
