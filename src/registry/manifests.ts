/**
 * Manifests read and written through the registry's HTTP API (Distribution's v2 API),
 * without the Docker engine: whether an image is still in the registry, and tagging an
 * image the registry already holds under another tag (a manifest PUT of the same bytes,
 * so the digest stays the same). Build avoidance uses both (src/queue/build-runner.ts).
 *
 * Authentication as the Docker engine does it: Basic credentials when the registry asks
 * for them, or a Bearer token fetched from the realm its challenge names. Plain HTTP
 * for loopback registries and the internal registry (Slipway's own, DESIGN.md); HTTPS
 * for every other.
 */
import { createHash } from 'node:crypto';
import type { RegistryAuth } from './credentials.js';

/** Every manifest type a registry may hold, so it returns the stored one unchanged. */
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** No registry request waits longer than this. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface RegistryTarget {
  /** `host[:port]` */
  registry: string;
  /** `namespace/name` */
  repository: string;
  auth?: RegistryAuth | undefined;
  /** The internal registry, spoken to over plain HTTP wherever it is. */
  internalRegistry?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface StoredManifest {
  body: Buffer;
  contentType: string;
  digest: string;
}

export class RegistryRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function baseUrl(target: RegistryTarget): string {
  const plain = isLoopback(target.registry) || target.registry === target.internalRegistry;
  return `${plain ? 'http' : 'https'}://${target.registry}`;
}

/** `/v2/ns/name/manifests/ref`, each part escaped. */
function manifestPath(repository: string, reference: string): string {
  const repo = repository.split('/').map(encodeURIComponent).join('/');
  return `/v2/${repo}/manifests/${encodeURIComponent(reference)}`;
}

/** `key="value"` pairs of a WWW-Authenticate challenge. */
function challengeParams(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const m of header.matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!.toLowerCase()] = m[2]!;
  return params;
}

function basic(auth: RegistryAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

/** The Authorization header a 401's challenge asks for, or undefined when none can be made. */
async function answerChallenge(
  challenge: string,
  auth: RegistryAuth | undefined,
  registryHost: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  if (/^basic/i.test(challenge)) return auth ? basic(auth) : undefined;
  if (!/^bearer/i.test(challenge)) return undefined;
  const { realm, service, scope } = challengeParams(challenge);
  if (!realm) return undefined;
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    return undefined;
  }
  // The realm gets the credentials: over HTTPS, or plain HTTP only on the registry's own host.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && url.hostname === registryHost))
    return undefined;
  if (service) url.searchParams.set('service', service);
  if (scope) url.searchParams.set('scope', scope);
  const res = await fetch(url, { headers: auth ? { Authorization: basic(auth) } : {}, signal });
  if (!res.ok)
    throw new RegistryRequestError(`the registry's token service answered ${res.status}`, res.status);
  const body = (await res.json()) as { token?: unknown; access_token?: unknown };
  const token = typeof body.token === 'string' ? body.token : body.access_token;
  return typeof token === 'string' ? `Bearer ${token}` : undefined;
}

async function registryFetch(
  target: RegistryTarget,
  path: string,
  init: { method: string; headers: Record<string, string>; body?: Buffer },
): Promise<Response> {
  const signal = target.signal
    ? AbortSignal.any([target.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
    : AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const url = `${baseUrl(target)}${path}`;
  const send = (authorization?: string): Promise<Response> =>
    fetch(url, {
      method: init.method,
      headers: authorization ? { ...init.headers, Authorization: authorization } : init.headers,
      ...(init.body ? { body: init.body } : {}),
      signal,
    });
  const first = await send();
  if (first.status !== 401) return first;
  await first.arrayBuffer();
  const authorization = await answerChallenge(
    first.headers.get('www-authenticate') ?? '',
    target.auth,
    new URL(url).hostname,
    signal,
  );
  return authorization ? send(authorization) : first;
}

/**
 * The manifest stored under `reference` (a digest or a tag), byte for byte, or undefined
 * when the registry does not have it. A digest reference is checked against the bytes.
 */
export async function getManifest(
  target: RegistryTarget,
  reference: string,
): Promise<StoredManifest | undefined> {
  const res = await registryFetch(target, manifestPath(target.repository, reference), {
    method: 'GET',
    headers: { Accept: MANIFEST_TYPES },
  });
  if (res.status === 404) {
    await res.arrayBuffer();
    return undefined;
  }
  if (!res.ok) {
    await res.arrayBuffer();
    throw new RegistryRequestError(`GET manifest ${reference} answered ${res.status}`, res.status);
  }
  const body = Buffer.from(await res.arrayBuffer());
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  if (reference.startsWith('sha256:') && digest !== reference)
    throw new RegistryRequestError(
      `the registry returned a manifest for ${reference} whose digest is ${digest}`,
    );
  return {
    body,
    contentType: res.headers.get('content-type') ?? 'application/vnd.docker.distribution.manifest.v2+json',
    digest,
  };
}

/** Stores `manifest` under `tag` (the same bytes, so the same digest); returns the digest. */
export async function putManifest(
  target: RegistryTarget,
  tag: string,
  manifest: StoredManifest,
): Promise<string> {
  const res = await registryFetch(target, manifestPath(target.repository, tag), {
    method: 'PUT',
    headers: { 'Content-Type': manifest.contentType },
    body: manifest.body,
  });
  const text = await res.text();
  if (!res.ok)
    throw new RegistryRequestError(
      `PUT manifest ${tag} answered ${res.status}: ${text.slice(0, 200)}`,
      res.status,
    );
  return res.headers.get('docker-content-digest') ?? manifest.digest;
}

/** The tags of a repository; an empty list when the registry has no such repository. */
export async function listTags(target: RegistryTarget): Promise<string[]> {
  const repo = target.repository.split('/').map(encodeURIComponent).join('/');
  const tags: string[] = [];
  // Distribution pages with `n` and a Link header; 1000 a page keeps the requests few.
  let path: string | undefined = `/v2/${repo}/tags/list?n=1000`;
  while (path) {
    const res = await registryFetch(target, path, { method: 'GET', headers: {} });
    if (res.status === 404) {
      await res.arrayBuffer();
      return tags;
    }
    if (!res.ok) {
      await res.arrayBuffer();
      throw new RegistryRequestError(`GET tags of ${target.repository} answered ${res.status}`, res.status);
    }
    const body = (await res.json()) as { tags?: unknown };
    if (Array.isArray(body.tags)) tags.push(...body.tags.filter((t): t is string => typeof t === 'string'));
    const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    path = next?.startsWith('/v2/') ? next : undefined;
  }
  return tags;
}

/**
 * Deletes a manifest by digest (with every tag naming it). False when the registry does
 * not allow deletes (Distribution answers 405 unless `storage.delete.enabled`); a
 * manifest already gone counts as deleted.
 */
export async function deleteManifest(target: RegistryTarget, digest: string): Promise<boolean> {
  const res = await registryFetch(target, manifestPath(target.repository, digest), {
    method: 'DELETE',
    headers: {},
  });
  await res.arrayBuffer();
  if (res.status === 405) return false;
  if (!res.ok && res.status !== 404)
    throw new RegistryRequestError(`DELETE manifest ${digest} answered ${res.status}`, res.status);
  return true;
}
