/**
 * Quotas as read, and the project's usage report:
 *
 *   GET /api/v1/namespaces/NS/resourcequotas[/NAME]     status.used as it is now
 *   GET /apis/slipway.dev/v1/namespaces/NS/usage        build time, image storage, replicas
 *
 * Writes of ResourceQuotas go through the resource routes (validated there); who may
 * read or write is decided before these routes run (src/api/auth.ts).
 */
import { Router } from 'express';
import { NotFoundError } from '../core/errors.js';
import { lookupKind, type Resource } from '../core/resource.js';
import { getManifest, type StoredManifest } from '../registry/manifests.js';
import { RESOURCE_QUOTA, type RedisQuotas } from '../store/quotas.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { DeployTarget } from '../strategies/target.js';

const IMAGE_STREAM = lookupKind('image.openshift.io/v1', 'ImageStream')!;
const DEPLOYMENT_CONFIG = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;

export interface QuotaRoutesDeps {
  store: ResourceStore;
  quotas: RedisQuotas;
  target: Pick<DeployTarget, 'listRevisions' | 'revisionStatus'>;
  /** The internal registry (`127.0.0.1:5000`): image sizes are read from its manifests. */
  registry: string;
}

/** A manifest's blobs (config and layers) by digest, with their sizes; an index's children's too. */
export async function manifestBlobs(
  read: (reference: string) => Promise<StoredManifest | undefined>,
  reference: string,
  depth = 0,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const m = await read(reference);
  if (!m) return out;
  const body = JSON.parse(m.body.toString('utf8')) as {
    config?: { digest?: string; size?: number };
    layers?: { digest?: string; size?: number }[];
    manifests?: { digest?: string }[];
  };
  for (const blob of [body.config, ...(body.layers ?? [])])
    if (blob?.digest && typeof blob.size === 'number') out.set(blob.digest, blob.size);
  if (depth === 0)
    for (const child of body.manifests ?? [])
      if (child.digest) for (const [d, s] of await manifestBlobs(read, child.digest, 1)) out.set(d, s);
  return out;
}

/**
 * The repository of an image reference in the internal registry, when it is one of the
 * project's own (`REGISTRY/NAMESPACE/NAME[:tag|@digest]`); undefined otherwise. A stream's
 * status is written through the API, so a reference naming another project's repository
 * must not make the usage report read that project's manifests.
 */
export function ownRepository(reference: string, registry: string, namespace: string): string | undefined {
  const prefix = `${registry}/${namespace}/`;
  if (!reference.startsWith(prefix)) return undefined;
  const repository = reference.slice(registry.length + 1).replace(/(@[^/]*|:[^/]*)$/, '');
  const name = repository.slice(namespace.length + 1);
  return name !== '' && !name.includes('/') && !name.includes('..') ? repository : undefined;
}

interface StreamUsage {
  name: string;
  /** Distinct images (digests) the stream's tags and their history point at. */
  images: number;
  /** The stream's distinct blobs (layers and configs), each counted once. */
  bytes: number;
}

/**
 * Image storage per ImageStream, from the registry's manifests: each stream counts every
 * blob its images use once; the project total counts a blob once even when several
 * streams share it (a common base image), as the registry stores it once per repository
 * mount. Images outside the internal registry, or in another project's repositories, take
 * no storage here and are skipped.
 */
async function imageStorage(
  deps: QuotaRoutesDeps,
  namespace: string,
): Promise<{ streams: StreamUsage[]; totalBytes: number }> {
  const all = new Map<string, number>();
  const streams: StreamUsage[] = [];
  for (const stream of await deps.store.list(IMAGE_STREAM, namespace)) {
    const tags = ((
      stream.status as { tags?: { items?: { image?: string; dockerImageReference?: string }[] }[] }
    )?.tags ?? []) as { items?: { image?: string; dockerImageReference?: string }[] }[];
    const images = new Map<string, string>();
    for (const t of tags)
      for (const item of t.items ?? []) {
        const repository = ownRepository(item.dockerImageReference ?? '', deps.registry, namespace);
        if (!item.image || repository === undefined) continue;
        images.set(item.image, repository);
      }
    const blobs = new Map<string, number>();
    for (const [digest, repository] of images) {
      const read = (reference: string): Promise<StoredManifest | undefined> =>
        getManifest(
          { registry: deps.registry, repository, internalRegistry: deps.registry },
          reference,
        ).catch(() => undefined);
      for (const [d, size] of await manifestBlobs(read, digest)) blobs.set(d, size);
    }
    let bytes = 0;
    for (const [d, size] of blobs) {
      bytes += size;
      all.set(d, size);
    }
    streams.push({ name: stream.metadata.name, images: images.size, bytes });
  }
  let totalBytes = 0;
  for (const size of all.values()) totalBytes += size;
  return { streams, totalBytes };
}

/** Replicas of every DeploymentConfig's revisions, as the target sees them now. */
async function replicas(
  deps: QuotaRoutesDeps,
  namespace: string,
): Promise<{
  running: number;
  ready: number;
  revisions: { name: string; running: number; ready: number }[];
}> {
  const revisions: { name: string; running: number; ready: number }[] = [];
  for (const dc of await deps.store.list(DEPLOYMENT_CONFIG, namespace)) {
    for (const rc of await deps.target.listRevisions(namespace, dc.metadata.name).catch(() => [])) {
      const s = await deps.target.revisionStatus(namespace, rc.metadata.name).catch(() => undefined);
      if (s && s.current > 0) revisions.push({ name: rc.metadata.name, running: s.current, ready: s.ready });
    }
  }
  return {
    running: revisions.reduce((n, r) => n + r.running, 0),
    ready: revisions.reduce((n, r) => n + r.ready, 0),
    revisions,
  };
}

export function quotaRouter(deps: QuotaRoutesDeps): Router {
  const router = Router();

  router.get('/api/v1/resourcequotas', async (req, res) => {
    const selector = typeof req.query.labelSelector === 'string' ? req.query.labelSelector : undefined;
    const byNamespace = new Map<string, Resource[]>();
    for (const q of await deps.store.list(RESOURCE_QUOTA, undefined, selector))
      byNamespace.set(q.metadata.namespace!, [...(byNamespace.get(q.metadata.namespace!) ?? []), q]);
    const items: Resource[] = [];
    for (const [ns, quotas] of byNamespace) items.push(...(await deps.quotas.withStatus(ns, quotas)));
    res.json({ kind: 'ResourceQuotaList', apiVersion: 'v1', metadata: {}, items });
  });

  router.get('/api/v1/namespaces/:ns/resourcequotas', async (req, res) => {
    const ns = req.params.ns;
    const selector = typeof req.query.labelSelector === 'string' ? req.query.labelSelector : undefined;
    const items = await deps.quotas.withStatus(ns, await deps.store.list(RESOURCE_QUOTA, ns, selector));
    res.json({ kind: 'ResourceQuotaList', apiVersion: 'v1', metadata: {}, items });
  });

  router.get('/api/v1/namespaces/:ns/resourcequotas/:name', async (req, res) => {
    const ns = req.params.ns;
    const quota = await deps.store.get(RESOURCE_QUOTA, ns, req.params.name);
    if (!quota) throw new NotFoundError(`resourcequotas "${req.params.name}" not found`);
    const [withStatus] = await deps.quotas.withStatus(ns, [quota]);
    res.json(withStatus);
  });

  router.get('/apis/slipway.dev/v1/namespaces/:ns/usage', async (req, res) => {
    const ns = req.params.ns;
    const time = await deps.quotas.buildTime(ns);
    const compute = await deps.quotas.usage(ns);
    const quotas: Resource[] = await deps.quotas.withStatus(ns, await deps.store.list(RESOURCE_QUOTA, ns));
    res.json({
      kind: 'ProjectUsage',
      apiVersion: 'slipway.dev/v1',
      metadata: { name: ns, namespace: ns },
      builds: {
        finished: time.builds,
        seconds: Math.round(time.seconds * 1000) / 1000,
        minutes: Math.round((time.seconds / 60) * 100) / 100,
      },
      images: await imageStorage(deps, ns),
      replicas: await replicas(deps, ns),
      compute: {
        pods: compute.pods,
        'limits.cpu': compute['limits.cpu'],
        'limits.memory': compute['limits.memory'],
      },
      quotas: quotas.map((q) => ({ name: q.metadata.name, ...(q.status ?? {}) })),
    });
  });

  return router;
}
