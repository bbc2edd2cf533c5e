/**
 * What the dashboard knows of one namespace, and how its pieces link into applications:
 * plain data and functions, no DOM.
 *
 * An application is a DeploymentConfig, with the BuildConfig whose output ImageStreamTag
 * its ImageChange trigger follows, that BuildConfig's newest Build, the revision serving,
 * and the Routes to a Service selecting its pods. A BuildConfig no DeploymentConfig
 * follows is an application of its own (built, not deployed).
 */

export const KINDS = {
  BuildConfig: 'buildconfigs',
  Build: 'builds',
  ImageStream: 'imagestreams',
  DeploymentConfig: 'deploymentconfigs',
  ReplicationController: 'replicationcontrollers',
  Service: 'services',
  Route: 'routes',
};

const rvNumber = (obj) => Number(obj?.metadata?.resourceVersion ?? 0) || 0;

/** Objects by kind and name; changes apply only when newer than what is held. */
export class NamespaceCache {
  constructor(ns) {
    this.ns = ns;
    this.byKind = new Map(Object.keys(KINDS).map((k) => [k, new Map()]));
    /** Deleted objects' last resourceVersions, so a slower list cannot bring them back. */
    this.tombstones = new Map();
  }

  all(kind) {
    return [...(this.byKind.get(kind)?.values() ?? [])];
  }

  get(kind, name) {
    return this.byKind.get(kind)?.get(name);
  }

  /** A change from the event stream; returns whether anything changed. */
  apply({ type, object }) {
    const map = this.byKind.get(object?.kind);
    if (!map || object.metadata?.namespace !== this.ns) return false;
    const name = object.metadata.name;
    const held = map.get(name);
    if (held && rvNumber(held) > rvNumber(object)) return false;
    if (type === 'DELETED') {
      map.delete(name);
      this.tombstones.set(`${object.kind}/${name}`, rvNumber(object));
      return true;
    }
    map.set(name, object);
    return true;
  }

  /** Objects read by a list or get: kept unless the cache already has something newer. */
  put(kind, items, { replaceAll = false } = {}) {
    const map = this.byKind.get(kind);
    if (replaceAll) {
      const listed = new Set(items.map((o) => o.metadata.name));
      for (const name of map.keys()) if (!listed.has(name)) map.delete(name);
    }
    for (const obj of items) {
      const o = { ...obj, kind };
      const name = o.metadata.name;
      const dead = this.tombstones.get(`${kind}/${name}`);
      if (dead !== undefined && dead >= rvNumber(o)) continue;
      const held = map.get(name);
      if (held && rvNumber(held) > rvNumber(o)) continue;
      map.set(name, o);
    }
  }
}

/** `name:tag` with the default tag filled in. */
export function tagRef(name) {
  if (!name) return undefined;
  return name.includes(':') ? name : `${name}:latest`;
}

/** The ImageStreamTag a BuildConfig pushes to (same namespace), or undefined. */
export function outputTag(bc, ns) {
  const to = bc?.spec?.output?.to;
  if (to?.kind !== 'ImageStreamTag' || (to.namespace && to.namespace !== ns)) return undefined;
  return tagRef(to.name);
}

/** The ImageStreamTags a DeploymentConfig's ImageChange triggers follow. */
export function followedTags(dc, ns) {
  return (dc?.spec?.triggers ?? [])
    .filter((t) => t.type === 'ImageChange')
    .map((t) => t.imageChangeParams?.from)
    .filter((f) => f?.kind === 'ImageStreamTag' && (!f.namespace || f.namespace === ns))
    .map((f) => tagRef(f.name));
}

export const buildNumber = (b) => Number(b?.metadata?.annotations?.['openshift.io/build.number'] ?? 0);
export const buildConfigOf = (b) =>
  b?.metadata?.annotations?.['openshift.io/build-config.name'] ??
  b?.metadata?.labels?.['openshift.io/build-config.name'] ??
  b?.status?.config?.name;

/** A BuildConfig's builds, newest first. */
export function buildsOf(cache, bcName) {
  return cache
    .all('Build')
    .filter((b) => buildConfigOf(b) === bcName)
    .sort((a, b) => buildNumber(b) - buildNumber(a));
}

export const revisionNumber = (rc) =>
  Number(rc?.metadata?.annotations?.['openshift.io/deployment-config.latest-version'] ?? 0) ||
  Number(/-(\d+)$/.exec(rc?.metadata?.name ?? '')?.[1] ?? 0);
export const revisionPhase = (rc) => rc?.metadata?.annotations?.['openshift.io/deployment.phase'] ?? 'New';

/** A DeploymentConfig's revisions, newest first. */
export function revisionsOf(cache, dcName) {
  return cache
    .all('ReplicationController')
    .filter((rc) => rc.metadata?.labels?.['openshift.io/deployment-config.name'] === dcName)
    .sort((a, b) => revisionNumber(b) - revisionNumber(a));
}

/**
 * The revision serving: the newest Complete one that has replicas (during a rollout the
 * previous one serves until the new one completes; after a failed one, the older stays).
 */
export function servingRevision(revisions) {
  return (
    revisions.find((rc) => revisionPhase(rc) === 'Complete' && (rc.spec?.replicas ?? 0) > 0) ??
    revisions.find((rc) => revisionPhase(rc) === 'Complete')
  );
}

/** The image a revision runs (its first container's). */
export const revisionImage = (rc) => rc?.spec?.template?.spec?.containers?.[0]?.image ?? '';
export const digestOf = (image) => /@(sha256:[0-9a-f]{64})$/.exec(image ?? '')?.[1];

function selects(selector, labels) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** Routes reaching a DeploymentConfig's pods: Route → Service → selector over the pod template labels. */
export function routesOf(cache, dc) {
  const labels = dc?.spec?.template?.metadata?.labels ?? {};
  const services = cache.all('Service').filter((s) => selects(s.spec?.selector, labels));
  const names = new Set(services.map((s) => s.metadata.name));
  return cache
    .all('Route')
    .filter((r) => (r.spec?.to?.kind ?? 'Service') === 'Service' && names.has(r.spec?.to?.name));
}

/**
 * A Route's address on the local router: its host, or `{name}-{namespace}.{domain}` as
 * the router answers one without a host, on the router's port.
 */
export function routeUrl(route, info) {
  const host =
    route.spec?.host ||
    `${route.metadata.name}-${route.metadata.namespace}.${info?.router?.domain ?? 'localhost'}`;
  const port = info?.router?.port;
  const path = route.spec?.path || '/';
  return `http://${host}${port && port !== 80 ? `:${port}` : ''}${path.startsWith('/') ? path : `/${path}`}`;
}

/** Every application of the namespace, sorted by name. */
export function applications(cache) {
  const ns = cache.ns;
  const bcs = cache.all('BuildConfig');
  const apps = [];
  const followed = new Set();
  for (const dc of cache.all('DeploymentConfig')) {
    const tags = followedTags(dc, ns);
    const bc = bcs.find((b) => tags.includes(outputTag(b, ns)));
    if (bc) followed.add(bc.metadata.name);
    const revisions = revisionsOf(cache, dc.metadata.name);
    apps.push({
      name: dc.metadata.name,
      dc,
      bc,
      build: bc ? buildsOf(cache, bc.metadata.name)[0] : undefined,
      revisions,
      serving: servingRevision(revisions),
      routes: routesOf(cache, dc),
    });
  }
  for (const bc of bcs) {
    if (followed.has(bc.metadata.name)) continue;
    apps.push({
      name: bc.metadata.name,
      bc,
      build: buildsOf(cache, bc.metadata.name)[0],
      revisions: [],
      routes: [],
    });
  }
  return apps.sort((a, b) => a.name.localeCompare(b.name));
}

/** Build and stage durations as people read them: 850ms, 12s, 3m04s. */
export function formatMillis(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** How long a build took, or has been running. */
export function buildMillis(build, now = Date.now()) {
  const s = build?.status ?? {};
  if (s.duration) return s.duration / 1e6;
  if (s.startTimestamp && !s.completionTimestamp) return now - Date.parse(s.startTimestamp);
  return undefined;
}

export function age(timestamp, now = Date.now()) {
  if (!timestamp) return '';
  const s = Math.max(0, Math.round((now - Date.parse(timestamp)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.floor(s / 60)}m ago`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
