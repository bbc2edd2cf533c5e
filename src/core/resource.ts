/**
 * The Kubernetes-style object model every stage shares: metadata, the kinds Slipway
 * serves, and the mapping between `apiVersion`/`kind` and REST paths.
 */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  generation?: number;
  [extra: string]: unknown;
}

export interface Resource<Spec = Record<string, unknown>, Status = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
  [extra: string]: unknown;
}

export interface KindInfo {
  group: string; // '' for the core group
  version: string;
  kind: string;
  plural: string;
  /** Where the REST path starts: `/api/v1` for the core group, `/apis/{group}/{version}` otherwise. */
  prefix: string;
}

function kindInfo(group: string, version: string, kind: string, plural: string): KindInfo {
  return { group, version, kind, plural, prefix: group ? `/apis/${group}/${version}` : `/api/${version}` };
}

/** Every kind Slipway stores. Order matters for `slipway get all`. */
export const KINDS: readonly KindInfo[] = [
  kindInfo('build.openshift.io', 'v1', 'BuildConfig', 'buildconfigs'),
  kindInfo('build.openshift.io', 'v1', 'Build', 'builds'),
  kindInfo('image.openshift.io', 'v1', 'ImageStream', 'imagestreams'),
  kindInfo('apps.openshift.io', 'v1', 'DeploymentConfig', 'deploymentconfigs'),
  // Rolled out through a DeploymentConfig view (src/strategies/apps-deployments.ts).
  kindInfo('apps', 'v1', 'Deployment', 'deployments'),
  kindInfo('template.openshift.io', 'v1', 'Template', 'templates'),
  kindInfo('route.openshift.io', 'v1', 'Route', 'routes'),
  kindInfo('', 'v1', 'Secret', 'secrets'),
  // Plain configuration; a build can take one as files (spec.source.configMaps).
  kindInfo('', 'v1', 'ConfigMap', 'configmaps'),
  kindInfo('', 'v1', 'Service', 'services'),
  // A named Docker volume on the local target (docs/deployments.md).
  kindInfo('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims'),
  // A DeploymentConfig's revisions; on the local target Slipway keeps them, on Kubernetes the cluster does.
  kindInfo('', 'v1', 'ReplicationController', 'replicationcontrollers'),
  // Who has which role in a project (src/api/authorization.ts).
  kindInfo('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings'),
  // A project's limits on object counts, pods and compute (docs/quotas.md).
  kindInfo('', 'v1', 'ResourceQuota', 'resourcequotas'),
];

export function apiVersionOf(info: KindInfo): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

/**
 * Finds a kind by `apiVersion` + `kind`. OpenShift 3 also served its kinds under the
 * legacy `apiVersion: v1` (no group), and old YAML still says so: accept that too.
 */
export function lookupKind(apiVersion: string, kind: string): KindInfo | undefined {
  const exact = KINDS.find((k) => k.kind === kind && apiVersionOf(k) === apiVersion);
  if (exact) return exact;
  if (apiVersion === 'v1') return KINDS.find((k) => k.kind === kind);
  return undefined;
}

/** Finds a kind by the words a user types: `bc`, `buildconfig`, `builds`, `BuildConfig`, `is`… */
const SHORT_NAMES: Record<string, string> = {
  bc: 'BuildConfig',
  is: 'ImageStream',
  dc: 'DeploymentConfig',
  deploy: 'Deployment',
  pvc: 'PersistentVolumeClaim',
  cm: 'ConfigMap',
  svc: 'Service',
  rc: 'ReplicationController',
  quota: 'ResourceQuota',
};
export function lookupKindByName(word: string): KindInfo | undefined {
  const w = word.toLowerCase();
  const kind = SHORT_NAMES[w];
  return KINDS.find(
    (k) => k.kind === kind || k.kind.toLowerCase() === w || k.plural === w || `${k.plural}.${k.group}` === w,
  );
}

export function lookupPlural(group: string, version: string, plural: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.version === version && k.plural === plural);
}

export function resourcePath(info: KindInfo, namespace: string, name?: string): string {
  const base = `${info.prefix}/namespaces/${encodeURIComponent(namespace)}/${info.plural}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function nowTimestamp(): string {
  // Kubernetes timestamps are RFC 3339 at one-second precision.
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}
