/**
 * Pure: the objects the Kubernetes target sends. Slipway's own objects carry metadata of
 * Slipway's store (its uid, resourceVersion, creationTimestamp) that mean nothing to a
 * cluster and must not be sent; and a revision's ownerReference to its DeploymentConfig
 * points at an object that lives in Slipway, not in the cluster — the cluster's garbage
 * collector would delete a revision whose owner it cannot find, so it is dropped.
 */
import type { EnvVar } from '../../core/build-types.js';
import { InputError } from '../../core/errors.js';
import type { ObjectMeta, Resource } from '../../core/resource.js';
import { MANAGED_BY_LABEL, type PodRunSpec, type ReplicationController } from '../target.js';

/** Metadata a client may set on a new object; everything else is the server's. */
export function clientMetadata(meta: ObjectMeta): ObjectMeta {
  const out: ObjectMeta = { name: meta.name };
  if (meta.namespace !== undefined) out.namespace = meta.namespace;
  if (meta.labels && Object.keys(meta.labels).length > 0) out.labels = { ...meta.labels };
  if (meta.annotations && Object.keys(meta.annotations).length > 0) out.annotations = { ...meta.annotations };
  const owners = (meta.ownerReferences as { apiVersion?: string; uid?: string }[] | undefined)?.filter(
    // Only owners the cluster itself holds: Slipway's DeploymentConfigs are not there.
    (o) => !o.apiVersion?.startsWith('apps.openshift.io/') && Boolean(o.uid),
  );
  if (owners && owners.length > 0) out.ownerReferences = owners;
  return out;
}

/** The ReplicationController to create for a revision. */
export function revisionManifest(rc: ReplicationController): ReplicationController {
  const containers = rc.spec.template.spec.containers;
  const empty = containers.find((c) => !c.image?.trim());
  if (empty) {
    throw new InputError(
      `ReplicationController "${rc.metadata.name}": container "${empty.name}" has no image; images are resolved before a revision is made`,
    );
  }
  const spec: ReplicationController['spec'] = {
    replicas: rc.spec.replicas,
    selector: { ...rc.spec.selector },
    template: structuredClone(rc.spec.template),
  };
  if (rc.spec.minReadySeconds !== undefined) spec.minReadySeconds = rc.spec.minReadySeconds;
  const metadata = clientMetadata(rc.metadata);
  metadata.labels = { ...metadata.labels, [MANAGED_BY_LABEL.key]: MANAGED_BY_LABEL.value };
  return { apiVersion: 'v1', kind: 'ReplicationController', metadata, spec };
}

/** The container name OpenShift gives a deployer pod's container and a hook pod's. */
export function podContainerName(spec: Pick<PodRunSpec, 'apiAccess'>): string {
  return spec.apiAccess ? 'deployment' : 'lifecycle';
}

/** The Secret holding a deployer pod's Slipway API URL and token: `{pod}-slipway-api`. */
export function apiSecretName(podName: string): string {
  return `${podName}-slipway-api`;
}

export const API_SECRET_KEYS = { url: 'SLIPWAY_API_URL', token: 'SLIPWAY_TOKEN' } as const;

/**
 * A one-off pod (hook or Custom deployer): restartPolicy Never, so its one run decides.
 * A deployer runs as the service account it is given (the cluster's API is how it does a
 * rollout); Slipway's API URL and token reach it from a Secret, never written in the pod
 * spec, where anyone who can read pods would see the token.
 */
export function runPodManifest(spec: PodRunSpec, options: { hostNetwork?: boolean } = {}): Resource {
  const env: EnvVar[] = spec.env.map((e) => ({ ...e }));
  if (spec.apiAccess) {
    const secret = apiSecretName(spec.name);
    for (const key of Object.values(API_SECRET_KEYS)) {
      env.push({ name: key, valueFrom: { secretKeyRef: { name: secret, key } } });
    }
  }
  const container: Record<string, unknown> = { name: podContainerName(spec), image: spec.image, env };
  if (spec.command) container.command = spec.command;
  if (spec.args) container.args = spec.args;
  if (spec.volumeMounts?.length) container.volumeMounts = spec.volumeMounts;
  if (spec.resources) container.resources = spec.resources;
  const podSpec: Record<string, unknown> = { restartPolicy: 'Never', containers: [container] };
  if (spec.volumes?.length) podSpec.volumes = spec.volumes;
  if (spec.apiAccess?.serviceAccountName) podSpec.serviceAccountName = spec.apiAccess.serviceAccountName;
  if (options.hostNetwork) {
    podSpec.hostNetwork = true;
    // Cluster DNS still first, as a pod on the pod network would have it.
    podSpec.dnsPolicy = 'ClusterFirstWithHostNet';
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: { ...spec.labels, [MANAGED_BY_LABEL.key]: MANAGED_BY_LABEL.value },
    },
    spec: podSpec,
  };
}

/** The Secret a deployer pod reads its Slipway API access from. */
export function apiSecretManifest(spec: PodRunSpec): Resource {
  if (!spec.apiAccess) throw new Error(`pod ${spec.name} has no apiAccess to put in a Secret`);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: apiSecretName(spec.name), namespace: spec.namespace, labels: { ...spec.labels } },
    type: 'Opaque',
    stringData: { [API_SECRET_KEYS.url]: spec.apiAccess.url, [API_SECRET_KEYS.token]: spec.apiAccess.token },
  };
}

interface ServicePortLike {
  name?: string;
  port: number;
  protocol?: string;
  nodePort?: number;
  [k: string]: unknown;
}
interface ServiceSpecLike {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  healthCheckNodePort?: number;
  ports?: ServicePortLike[];
  [k: string]: unknown;
}

/**
 * The Service to send: the user's as given, minus Slipway's store metadata and status.
 * When replacing `existing`, the values the cluster allocated and the user left unset
 * (cluster IPs, node ports) are carried over, as `kubectl replace` users must do by hand:
 * a cluster IP cannot change, and a node port that moved would break clients.
 */
export function serviceManifest(service: Resource, existing?: Resource): Resource {
  const spec = structuredClone((service.spec ?? {}) as ServiceSpecLike);
  const out: Resource = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: clientMetadata(service.metadata),
    spec,
  };
  if (!existing) return out;
  out.metadata.resourceVersion = existing.metadata.resourceVersion!;
  const old = (existing.spec ?? {}) as ServiceSpecLike;
  for (const key of [
    'clusterIP',
    'clusterIPs',
    'ipFamilies',
    'ipFamilyPolicy',
    'healthCheckNodePort',
  ] as const) {
    if (spec[key] === undefined && old[key] !== undefined) (spec as Record<string, unknown>)[key] = old[key];
  }
  const type = spec.type ?? 'ClusterIP';
  if (type === 'NodePort' || type === 'LoadBalancer') {
    for (const p of spec.ports ?? []) {
      if (p.nodePort !== undefined) continue;
      const match = old.ports?.find(
        (o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'),
      );
      if (match?.nodePort !== undefined) p.nodePort = match.nodePort;
    }
  }
  return out;
}

/** The Secret holding a Route's certificate and key for its Ingress: `{route}-tls`. */
export function routeTlsSecretName(routeName: string): string {
  return `${routeName}-tls`;
}

interface RouteLike {
  host?: string;
  path?: string;
  to: { name: string };
  port?: { targetPort: string | number };
  tls?: {
    termination?: string;
    certificate?: string;
    key?: string;
    caCertificate?: string;
  } | null;
}

/** Which Service port an Ingress backend names for a Route's `port.targetPort`. */
export function ingressBackendPort(
  targetPort: string | number | undefined,
  service: Resource | undefined,
): { name: string } | { number: number } {
  const ports = ((service?.spec as ServiceSpecLike | undefined)?.ports ?? []) as (ServicePortLike & {
    targetPort?: string | number;
  })[];
  // OpenShift reads a Route's targetPort as a Service port name, or as a target port number.
  if (typeof targetPort === 'string') {
    const named = ports.find((p) => p.name === targetPort || p.targetPort === targetPort);
    if (named?.name) return { name: named.name };
    if (named) return { number: named.port };
    return { name: targetPort };
  }
  if (typeof targetPort === 'number') {
    const match = ports.find(
      (p) => p.targetPort === targetPort || (p.targetPort === undefined && p.port === targetPort),
    );
    return { number: match?.port ?? targetPort };
  }
  const first = ports[0];
  if (!first) {
    throw new InputError(
      `Route points at Service "${service?.metadata.name ?? '?'}", which has no ports (or does not exist); an Ingress needs a port`,
    );
  }
  return first.name ? { name: first.name } : { number: first.port };
}

/**
 * A Route as a `networking.k8s.io/v1` Ingress: its host and path (Prefix, as the router
 * matches a Route's path), the Service and port it points at, and for edge or re-encrypt
 * TLS the Secret `routeTlsSecretName` (the certificate, with the CA chain appended, and
 * the key). Passthrough has no Ingress equivalent and is refused.
 */
export function ingressManifest(route: Resource, service: Resource | undefined): Resource {
  const spec = route.spec as unknown as RouteLike;
  const name = route.metadata.name;
  const path = {
    path: spec.path ?? '/',
    pathType: 'Prefix',
    backend: { service: { name: spec.to.name, port: ingressBackendPort(spec.port?.targetPort, service) } },
  };
  const rule: Record<string, unknown> = { http: { paths: [path] } };
  if (spec.host) rule.host = spec.host;
  const ingressSpec: Record<string, unknown> = { rules: [rule] };
  if (spec.tls) {
    const termination = spec.tls.termination ?? 'edge';
    if (termination === 'passthrough') {
      throw new InputError(
        `Route "${name}": passthrough TLS has no networking.k8s.io/v1 Ingress equivalent; use edge or reencrypt on Kubernetes`,
        {
          code: 422,
          causes: [{ field: 'spec.tls.termination', message: 'passthrough is not supported on Kubernetes' }],
        },
      );
    }
    if (spec.tls.certificate && spec.tls.key) {
      ingressSpec.tls = [
        { ...(spec.host ? { hosts: [spec.host] } : {}), secretName: routeTlsSecretName(name) },
      ];
    }
  }
  const metadata = clientMetadata(route.metadata);
  metadata.annotations = { ...(metadata.annotations ?? {}), 'slipway.dev/route': name };
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata, spec: ingressSpec };
}

/** The TLS Secret of a Route with a certificate and key, or undefined. */
export function routeTlsSecret(route: Resource): Resource | undefined {
  const tls = (route.spec as unknown as RouteLike).tls;
  if (!tls?.certificate || !tls.key || tls.termination === 'passthrough') return undefined;
  const chain = tls.caCertificate
    ? `${tls.certificate.trimEnd()}\n${tls.caCertificate.trimEnd()}\n`
    : tls.certificate;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: routeTlsSecretName(route.metadata.name),
      namespace: route.metadata.namespace ?? 'default',
      labels: { 'slipway.dev/route': route.metadata.name },
    },
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': chain, 'tls.key': tls.key },
  };
}
