/**
 * `slipway status`, as a pure join: each app of a namespace as the path its code takes,
 * repository@commit → build → image → revision → URL, and what on that path is failing.
 * An app is a DeploymentConfig (with the BuildConfig that builds the image it follows),
 * or a BuildConfig no DeploymentConfig follows.
 */
import type { BuildConfigSpec, BuildStatus } from '../core/build-types.js';
import type {
  DeploymentConfigSpec,
  DeploymentConfigStatus,
  RouteSpec,
  ServiceSpec,
} from '../core/deploy-types.js';
import type { ImageStreamStatus } from '../core/image-types.js';
import type { Resource } from '../core/resource.js';

export interface NamespaceObjects {
  buildConfigs: Resource[];
  builds: Resource[];
  imageStreams: Resource[];
  deploymentConfigs: Resource[];
  /** The DeploymentConfigs' revisions. */
  replicationControllers: Resource[];
  services: Resource[];
  routes: Resource[];
}

export interface RouterInfo {
  port: number;
  domain: string;
}

export interface AppStatus {
  name: string;
  /** The path, in order: source, build, image, revision, URL. */
  path: string[];
  /** What is failing, or missing, on the path. */
  problems: string[];
}

const FAILED_BUILD = new Set(['Failed', 'Error', 'Cancelled']);

function shortDigest(image: string | undefined): string | undefined {
  const m = /^sha256:([0-9a-f]{12})/.exec(image ?? '');
  return m ? `sha256:${m[1]}` : undefined;
}

function withTag(name: string): string {
  return name.includes(':') ? name : `${name}:latest`;
}

/** `stream:tag` a BuildConfig pushes to, in its own namespace (ImageStreamTag outputs only). */
function outputTag(bc: Resource, namespace: string): string | undefined {
  const to = (bc.spec as Partial<BuildConfigSpec> | undefined)?.output?.to;
  if (!to || (to.kind ?? 'ImageStreamTag') !== 'ImageStreamTag') return undefined;
  if ((to.namespace ?? namespace) !== namespace) return undefined;
  return withTag(to.name);
}

/** The `stream:tag`s of a DeploymentConfig's ImageChange triggers in its namespace. */
function followedTags(dc: Resource, namespace: string): string[] {
  const spec = dc.spec as Partial<DeploymentConfigSpec> | undefined;
  return (spec?.triggers ?? [])
    .filter((t) => t.type === 'ImageChange' && t.imageChangeParams)
    .map((t) => t.imageChangeParams!.from)
    .filter(
      (f) => (f.kind ?? 'ImageStreamTag') === 'ImageStreamTag' && (f.namespace ?? namespace) === namespace,
    )
    .map((f) => withTag(f.name));
}

function buildNumber(b: Resource): number {
  return Number(
    b.metadata.annotations?.['openshift.io/build.number'] ?? /-(\d+)$/.exec(b.metadata.name)?.[1] ?? 0,
  );
}

function buildsOf(bc: Resource, builds: Resource[]): Resource[] {
  return builds
    .filter(
      (b) =>
        (b.metadata.annotations?.['openshift.io/build-config.name'] ??
          b.metadata.labels?.['openshift.io/build-config.name']) === bc.metadata.name,
    )
    .sort((a, b) => buildNumber(b) - buildNumber(a));
}

function sourceStep(bc: Resource, build: Resource | undefined): string {
  const spec = bc.spec as Partial<BuildConfigSpec>;
  const commit = (build?.spec as { revision?: { git?: { commit?: string } } } | undefined)?.revision?.git
    ?.commit;
  const at = commit ? `@${commit.slice(0, 7)}` : '';
  if (spec.source?.git?.uri) return `${spec.source.git.uri}${at}`;
  if (spec.source?.type === 'Binary') return `uploaded source${at}`;
  if (spec.source?.dockerfile !== undefined) return 'inline Dockerfile';
  return spec.source?.type ?? 'no source';
}

function buildStep(bc: Resource, builds: Resource[], problems: string[]): string {
  const latest = builds[0];
  if (!latest) {
    const binary = (bc.spec as Partial<BuildConfigSpec>).source?.type === 'Binary';
    problems.push(
      binary
        ? `no build yet: upload the source with 'slipway start-build ${bc.metadata.name} --from-dir DIR'`
        : `no build yet: start one with 'slipway start-build ${bc.metadata.name}'`,
    );
    return `bc/${bc.metadata.name} (no build)`;
  }
  const s = (latest.status ?? {}) as BuildStatus;
  const phase = s.phase ?? 'New';
  if (FAILED_BUILD.has(phase)) {
    const why = [s.reason, s.message].filter(Boolean).join(': ');
    problems.push(
      `build ${latest.metadata.name} ${phase.toLowerCase()}${why ? ` (${why})` : ''}: see 'slipway logs build/${latest.metadata.name}'`,
    );
  }
  return `build ${latest.metadata.name} ${phase}`;
}

/**
 * The image a tag points at. A tag without an image is a problem only when no build
 * makes it (`built` false): otherwise the build's own state says why.
 */
function imageStep(tag: string, streams: Resource[], built: boolean, problems: string[]): string {
  const [stream, name] = tag.split(':') as [string, string];
  const is = streams.find((s) => s.metadata.name === stream);
  const item = ((is?.status ?? {}) as ImageStreamStatus).tags?.find((t) => t.tag === name)?.items[0];
  const digest = shortDigest(item?.image);
  if (!digest) {
    if (!built) problems.push(`image ${tag} has no image, and no build config in this namespace makes it`);
    return `${tag} (no image yet)`;
  }
  return `${tag}@${digest}`;
}

function deploymentStep(dc: Resource, rcs: Resource[], problems: string[]): string {
  const spec = dc.spec as Partial<DeploymentConfigSpec>;
  const status = (dc.status ?? {}) as DeploymentConfigStatus;
  const name = dc.metadata.name;
  const version = status.latestVersion ?? 0;
  const desired = spec.replicas ?? 1;
  if (version === 0) {
    // Waiting for the first image is the normal state of a new app, not a failure.
    if (spec.paused) problems.push(`dc/${name} is paused: 'slipway rollout resume dc/${name}'`);
    return `dc/${name} (not deployed yet)`;
  }
  const latest = rcs.find((r) => r.metadata.name === `${name}-${version}`);
  const phase = latest?.metadata.annotations?.['openshift.io/deployment.phase'] ?? 'New';
  const ready = status.readyReplicas ?? 0;
  if (phase === 'Failed') {
    const reason = latest?.metadata.annotations?.['openshift.io/deployment.status-reason'];
    const cond = status.conditions?.find((c) => c.type === 'Progressing')?.message;
    problems.push(
      `rollout ${name}-${version} failed${reason || cond ? ` (${reason ?? cond})` : ''}: see 'slipway rollout history dc/${name}'`,
    );
  } else if (phase === 'Complete' && ready < desired)
    problems.push(`dc/${name}: ${ready} of ${desired} replicas ready`);
  if (spec.paused) problems.push(`dc/${name} is paused: triggers start no rollouts`);
  const state = phase === 'Complete' ? '' : ` ${phase}`;
  return `dc/${name} revision ${version}${state} (${ready}/${desired} ready)`;
}

function selects(service: Resource, labels: Record<string, string>): boolean {
  const selector = (service.spec as Partial<ServiceSpec> | undefined)?.selector ?? {};
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

/** `http://HOST[:PORT]/PATH` for a Route on the local router. */
export function routeUrl(route: Resource, router: RouterInfo | undefined): string {
  const spec = route.spec as RouteSpec;
  const host =
    spec.host ??
    `${route.metadata.name}-${route.metadata.namespace ?? 'default'}.${router?.domain ?? 'localhost'}`;
  const port = router && router.port !== 80 ? `:${router.port}` : '';
  return `${spec.tls ? 'https' : 'http'}://${host}${port}${spec.path ?? '/'}`;
}

function routeStep(
  name: string,
  services: Resource[],
  routes: Resource[],
  router: RouterInfo | undefined,
  problems: string[],
): string | undefined {
  if (services.length === 0) {
    problems.push(`no service selects dc/${name}'s pods, so no route can reach them`);
    return undefined;
  }
  const names = new Set(services.map((s) => s.metadata.name));
  const mine = routes.filter((r) => names.has((r.spec as RouteSpec).to?.name));
  if (mine.length === 0) {
    problems.push(`not exposed: run 'slipway expose svc/${services[0]!.metadata.name}'`);
    return undefined;
  }
  return mine.map((r) => routeUrl(r, router)).join(', ');
}

/** Pure: the apps of a namespace and their paths. */
export function appStatuses(objects: NamespaceObjects, namespace: string, router?: RouterInfo): AppStatus[] {
  const apps: AppStatus[] = [];
  const usedBuildConfigs = new Set<string>();
  const byName = (a: Resource, b: Resource): number => a.metadata.name.localeCompare(b.metadata.name);
  for (const dc of [...objects.deploymentConfigs].sort(byName)) {
    const problems: string[] = [];
    const path: string[] = [];
    const tags = followedTags(dc, namespace);
    const bc = objects.buildConfigs.find((b) => {
      const out = outputTag(b, namespace);
      return out !== undefined && tags.includes(out);
    });
    if (bc) {
      usedBuildConfigs.add(bc.metadata.name);
      const builds = buildsOf(bc, objects.builds);
      path.push(sourceStep(bc, builds[0]), buildStep(bc, builds, problems));
    }
    const tag = (bc && outputTag(bc, namespace)) ?? tags[0];
    if (tag) path.push(imageStep(tag, objects.imageStreams, bc !== undefined, problems));
    const rcs = objects.replicationControllers.filter(
      (r) => r.metadata.annotations?.['openshift.io/deployment-config.name'] === dc.metadata.name,
    );
    path.push(deploymentStep(dc, rcs, problems));
    const labels = (dc.spec as Partial<DeploymentConfigSpec>).template?.metadata?.labels ?? {};
    const services = objects.services.filter((s) => selects(s, labels as Record<string, string>));
    const url = routeStep(dc.metadata.name, services, objects.routes, router, problems);
    if (url) path.push(url);
    apps.push({ name: dc.metadata.name, path, problems });
  }
  for (const bc of [...objects.buildConfigs].sort(byName)) {
    if (usedBuildConfigs.has(bc.metadata.name)) continue;
    const problems: string[] = [];
    const builds = buildsOf(bc, objects.builds);
    const path = [sourceStep(bc, builds[0]), buildStep(bc, builds, problems)];
    const tag = outputTag(bc, namespace);
    if (tag) path.push(imageStep(tag, objects.imageStreams, true, problems));
    apps.push({ name: bc.metadata.name, path, problems });
  }
  return apps;
}

/** The text `slipway status` prints. */
export function formatStatus(namespace: string, server: string, apps: AppStatus[]): string {
  const lines = [`In namespace "${namespace}" on server ${server}`, ''];
  if (apps.length === 0) {
    lines.push("No apps yet. Make one with 'slipway new-app <git-url>|<dir>'.");
    return lines.join('\n');
  }
  for (const app of apps) {
    lines.push(`${app.name}: ${app.path.join(' → ')}`);
    for (const p of app.problems) lines.push(`  ! ${p}`);
  }
  const failing = apps.filter((a) => a.problems.length > 0).length;
  lines.push(
    '',
    failing === 0
      ? `${apps.length} app(s), nothing failing.`
      : `${apps.length} app(s), ${failing} with something to look at (!).`,
  );
  return lines.join('\n');
}
