/**
 * OpenShift's image trigger annotation on plain Kubernetes workloads: an `apps/v1`
 * Deployment annotated with `image.openshift.io/triggers` — a JSON list of
 * `{from: {kind: 'ImageStreamTag', name, namespace?}, fieldPath, paused?}` — has the
 * container its fieldPath names set to the new image whenever that ImageStreamTag moves;
 * the cluster's Deployment controller then rolls it out. The field paths and their
 * reading follow openshift/library-go's trigger annotations exactly:
 * `spec.template.spec.containers[?(@.name=="web")].image`, or `containers[0]`, or
 * `initContainers[...]`.
 */
import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ConflictError, InputError, errorMessage } from '../../core/errors.js';
import { withTag } from '../deployment-config.js';
import { STRATEGIC_MERGE_PATCH, kubeError, plain, retryOnConflict } from './kube-client.js';

export const TRIGGER_ANNOTATION = 'image.openshift.io/triggers';

/** One entry of the annotation (openshift/api image/v1 trigger ObjectFieldTrigger). */
export interface ObjectFieldTrigger {
  from: { kind: string; name: string; namespace?: string; apiVersion?: string };
  fieldPath: string;
  paused?: boolean;
}

/** Where a trigger's fieldPath points: a container of the pod template, by index or by name. */
export interface ContainerRef {
  init: boolean;
  index?: number;
  name?: string;
}

const POD_SPEC_PATH = 'spec.template.spec.';

/**
 * Parses the annotation's value; throws InputError naming what is wrong (not JSON, an
 * entry without from/fieldPath, two entries on one fieldPath — OpenShift refuses those).
 */
export function parseImageTriggers(value: string): ObjectFieldTrigger[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new InputError(`annotation ${TRIGGER_ANNOTATION} is not JSON: ${errorMessage(err)}`);
  }
  if (!Array.isArray(parsed))
    throw new InputError(`annotation ${TRIGGER_ANNOTATION} must be a JSON list of triggers`);
  const seen = new Set<string>();
  return parsed.map((entry: unknown, i) => {
    const t = entry as Partial<ObjectFieldTrigger> | null;
    if (
      !t ||
      typeof t.fieldPath !== 'string' ||
      !t.from ||
      typeof t.from.name !== 'string' ||
      typeof t.from.kind !== 'string'
    ) {
      throw new InputError(`annotation ${TRIGGER_ANNOTATION}[${i}] needs from.kind, from.name and fieldPath`);
    }
    if (seen.has(t.fieldPath))
      throw new InputError(
        `annotation ${TRIGGER_ANNOTATION}: duplicate triggers on ${t.fieldPath} are not allowed`,
      );
    seen.add(t.fieldPath);
    return t as ObjectFieldTrigger;
  });
}

/** `spec.template.spec.containers[?(@.name=="web")].image` → `{init: false, name: 'web'}`. */
export function containerForFieldPath(fieldPath: string): ContainerRef {
  const invalid = (): InputError =>
    new InputError(
      `fieldPath "${fieldPath}" is not valid: use spec.template.spec.containers[?(@.name=="NAME")].image or containers[INDEX].image`,
    );
  if (!fieldPath.startsWith(POD_SPEC_PATH)) throw invalid();
  const rest = fieldPath.slice(POD_SPEC_PATH.length);
  const m = /^(containers|initContainers)\[([^\]]+)\]\.image$/.exec(rest);
  if (!m) throw invalid();
  const init = m[1] === 'initContainers';
  const selector = m[2]!;
  if (/^\d+$/.test(selector)) return { init, index: Number(selector) };
  const byName = /^\?\(@\.name=="(.+)"\)$/.exec(selector);
  if (!byName) throw invalid();
  return { init, name: byName[1]! };
}

interface DeploymentLike {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec?: {
    template?: {
      spec?: {
        containers?: { name: string; image?: string }[];
        initContainers?: { name: string; image?: string }[];
      };
    };
  };
}

export interface ImageTriggerChange {
  init: boolean;
  container: string;
  from: string | undefined;
  to: string;
}

/**
 * Pure: the container images a Deployment's triggers change when `namespace`'s
 * `imageStreamTag` now points at `image`; empty when none fires or all are current.
 */
export function triggeredChanges(
  deployment: DeploymentLike,
  update: { namespace: string; imageStreamTag: string; image: string },
): ImageTriggerChange[] {
  const raw = deployment.metadata.annotations?.[TRIGGER_ANNOTATION];
  if (!raw) return [];
  const ns = deployment.metadata.namespace ?? 'default';
  const changes: ImageTriggerChange[] = [];
  for (const t of parseImageTriggers(raw)) {
    if (t.paused || t.from.kind !== 'ImageStreamTag') continue;
    if (
      withTag(t.from.name) !== withTag(update.imageStreamTag) ||
      (t.from.namespace || ns) !== update.namespace
    )
      continue;
    const ref = containerForFieldPath(t.fieldPath);
    const list =
      (ref.init
        ? deployment.spec?.template?.spec?.initContainers
        : deployment.spec?.template?.spec?.containers) ?? [];
    const container = ref.index !== undefined ? list[ref.index] : list.find((c) => c.name === ref.name);
    if (!container)
      throw new InputError(`Deployment "${deployment.metadata.name}": no such container: ${t.fieldPath}`);
    if (container.image === update.image) continue;
    changes.push({ init: ref.init, container: container.name, from: container.image, to: update.image });
  }
  return changes;
}

export interface UpdateAnnotatedDeploymentsOptions {
  /** The cluster's credentials; a KubernetesTarget's are `target.clients.kubeConfig`. */
  kubeConfig: KubeConfig;
  /** The namespace of the ImageStreamTag that moved. */
  namespace: string;
  /** `stream:tag` (`stream` means `stream:latest`). */
  imageStreamTag: string;
  /** The image the tag now points at, as pods should pull it (registry/repo@sha256:…). */
  image: string;
  /**
   * Namespaces whose Deployments are looked at; a trigger may name an ImageStreamTag of
   * another namespace. Default: the ImageStreamTag's own namespace.
   */
  deploymentNamespaces?: string[];
}

export interface AnnotatedDeploymentsResult {
  updated: { namespace: string; name: string; changes: ImageTriggerChange[] }[];
  /** Deployments whose annotation could not be acted on, and why (they are skipped, not fatal). */
  errors: string[];
}

/**
 * Sets the images of every annotated Deployment whose trigger follows the ImageStreamTag
 * that moved. Each is a strategic merge patch of the named containers, with the
 * resourceVersion it was read at as a precondition, so a container list changed
 * meanwhile (an index selector would point elsewhere) is a conflict, read again and retried.
 */
export async function updateAnnotatedDeployments(
  options: UpdateAnnotatedDeploymentsOptions,
): Promise<AnnotatedDeploymentsResult> {
  const apps = options.kubeConfig.makeApiClient(AppsV1Api);
  const server = options.kubeConfig.getCurrentCluster()?.server ?? '(no cluster)';
  const result: AnnotatedDeploymentsResult = { updated: [], errors: [] };
  const update = {
    namespace: options.namespace,
    imageStreamTag: options.imageStreamTag,
    image: options.image,
  };
  for (const ns of options.deploymentNamespaces ?? [options.namespace]) {
    let items: DeploymentLike[];
    try {
      items = plain<DeploymentLike[]>((await apps.listNamespacedDeployment({ namespace: ns })).items);
    } catch (err) {
      throw kubeError(err, `listing Deployments in ${ns}`, server);
    }
    for (const listed of items) {
      if (!listed.metadata.annotations?.[TRIGGER_ANNOTATION]) continue;
      const name = listed.metadata.name;
      try {
        let current: DeploymentLike = listed;
        const changes = await retryOnConflict(async () => {
          const changes = triggeredChanges(current, update);
          if (changes.length === 0) return changes;
          const body = {
            metadata: { resourceVersion: current.metadata.resourceVersion },
            spec: { template: { spec: patchContainers(changes) } },
          };
          try {
            await apps.patchNamespacedDeployment({ namespace: ns, name, body }, STRATEGIC_MERGE_PATCH);
          } catch (err) {
            const mapped = kubeError(err, `updating the image of Deployment ${ns}/${name}`, server);
            if (mapped instanceof ConflictError) {
              current = plain<DeploymentLike>(await apps.readNamespacedDeployment({ namespace: ns, name }));
            }
            throw mapped;
          }
          return changes;
        });
        if (changes.length > 0) result.updated.push({ namespace: ns, name, changes });
      } catch (err) {
        result.errors.push(`Deployment ${ns}/${name}: ${errorMessage(err)}`);
      }
    }
  }
  return result;
}

function patchContainers(changes: ImageTriggerChange[]): Record<string, { name: string; image: string }[]> {
  const out: Record<string, { name: string; image: string }[]> = {};
  for (const c of changes)
    (out[c.init ? 'initContainers' : 'containers'] ??= []).push({ name: c.container, image: c.to });
  return out;
}
