/**
 * Pure decisions over DeploymentConfigs, after openshift-controller-manager's
 * deploymentconfig controller and the apps API's instantiate/rollback endpoints:
 * when a rollout starts and with which causes, what revision N looks like, how
 * conditions read, and what a rollback restores.
 */
import type {
  DeploymentCause,
  DeploymentCondition,
  DeploymentConditionType,
  DeploymentConfig,
  DeploymentConfigStatus,
  DeploymentTriggerPolicy,
  PodTemplateSpec,
} from '../core/deploy-types.js';
import { REVISION_HISTORY_LIMIT_DEFAULT } from '../core/deploy-types.js';
import { nowTimestamp } from '../core/resource.js';
import {
  REVISION_ANNOTATIONS,
  REVISION_LABELS,
  revisionName,
  revisionPhase,
  revisionVersion,
  type ReplicationController,
} from './target.js';

/** `stream` → `stream:latest`. */
export function withTag(name: string): string {
  return name.includes(':') ? name : `${name}:latest`;
}

/**
 * Names of template containers without an image yet: an empty or blank image (OpenShift
 * templates write `image: " "`), or one an automatic image trigger has not resolved yet.
 */
export function unresolvedContainers(dc: DeploymentConfig): string[] {
  const pending = new Set<string>();
  for (const { trigger } of imageTriggers(dc)) {
    const p = trigger.imageChangeParams!;
    if (p.automatic && !p.lastTriggeredImage) for (const n of p.containerNames ?? []) pending.add(n);
  }
  return dc.spec.template.spec.containers
    .filter((c) => !c.image?.trim() || pending.has(c.name))
    .map((c) => c.name);
}

/** The ImageChange triggers, with their index in `spec.triggers`. */
export function imageTriggers(dc: DeploymentConfig): { index: number; trigger: DeploymentTriggerPolicy }[] {
  return (dc.spec.triggers ?? [])
    .map((trigger, index) => ({ index, trigger }))
    .filter(({ trigger }) => trigger.type === 'ImageChange' && trigger.imageChangeParams);
}

export function hasConfigChangeTrigger(dc: DeploymentConfig): boolean {
  return (dc.spec.triggers ?? []).some((t) => t.type === 'ConfigChange');
}

/** The DeploymentConfig a revision was made from (its encoded-deployment-config annotation). */
export function decodeRevisionConfig(rc: ReplicationController): DeploymentConfig | undefined {
  const raw = rc.metadata.annotations?.[REVISION_ANNOTATIONS.encodedConfig];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as DeploymentConfig;
  } catch {
    return undefined;
  }
}

/** Stable JSON (sorted keys), so two equal templates compare equal however they were written. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function templatesEqual(a: PodTemplateSpec, b: PodTemplateSpec): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

export type RolloutDecision = { start: true; causes: DeploymentCause[] } | { start: false; reason: string };

/**
 * Whether a DeploymentConfig's triggers start a rollout now (OpenShift's `canTrigger`):
 * never while paused or while a container has no image (the first rollout waits for its
 * image triggers); the first rollout when a ConfigChange or resolved automatic image
 * trigger exists; later ones when an automatic trigger's image moved since the latest
 * revision (ImageChange) or, with a ConfigChange trigger, when the template differs.
 */
export function decideRollout(
  dc: DeploymentConfig,
  latest: ReplicationController | undefined,
): RolloutDecision {
  if (dc.spec.paused) return { start: false, reason: `DeploymentConfig "${dc.metadata.name}" is paused` };
  const missing = unresolvedContainers(dc);
  if (missing.length > 0) {
    return {
      start: false,
      reason: `waiting for an image trigger to resolve the image of container(s) ${missing.join(', ')}`,
    };
  }
  const previous = latest ? decodeRevisionConfig(latest) : undefined;
  const causes: DeploymentCause[] = [];
  for (const { trigger } of imageTriggers(dc)) {
    const p = trigger.imageChangeParams!;
    if (!p.automatic || !p.lastTriggeredImage) continue;
    const before = previous?.spec.triggers?.find(
      (t) =>
        t.type === 'ImageChange' &&
        t.imageChangeParams &&
        withTag(t.imageChangeParams.from.name) === withTag(p.from.name),
    )?.imageChangeParams?.lastTriggeredImage;
    if (previous && before === p.lastTriggeredImage) continue;
    causes.push({
      type: 'ImageChange',
      imageTrigger: {
        from: {
          kind: 'ImageStreamTag',
          name: withTag(p.from.name),
          ...(p.from.namespace ? { namespace: p.from.namespace } : {}),
        },
      },
    });
  }
  if (hasConfigChangeTrigger(dc)) {
    // Compared with the template the revision was made from (its encoded config), as
    // OpenShift does: a cluster's copy carries server defaults (imagePullPolicy,
    // terminationMessagePath, dnsPolicy…) that would read as a change on every resync.
    const made = previous?.spec.template ?? (latest ? stripRevisionLabels(latest.spec.template) : undefined);
    const changed = !made || !templatesEqual(made, dc.spec.template);
    if (changed && causes.length === 0) causes.push({ type: 'ConfigChange' });
  }
  if (causes.length === 0) {
    return {
      start: false,
      reason: latest
        ? 'the template matches the latest revision'
        : 'no trigger starts the first rollout; use `slipway rollout latest`',
    };
  }
  return { start: true, causes };
}

/** The selector every replica of `dc` carries: the DC's own, or its template's labels. */
export function configSelector(dc: DeploymentConfig): Record<string, string> {
  return { ...(dc.spec.selector ?? dc.spec.template.metadata?.labels ?? {}) };
}

/** A revision's template without the labels Slipway adds, to compare with a DC's template. */
export function stripRevisionLabels(template: PodTemplateSpec): PodTemplateSpec {
  const t = structuredClone(template);
  const labels = { ...(t.metadata?.labels ?? {}) };
  delete labels[REVISION_LABELS.deployment];
  delete labels[REVISION_LABELS.deploymentConfig];
  const annotations = { ...(t.metadata?.annotations ?? {}) };
  delete annotations[REVISION_ANNOTATIONS.configName];
  delete annotations[REVISION_ANNOTATIONS.latestVersion];
  delete annotations['openshift.io/deployment.name'];
  const metadata: NonNullable<PodTemplateSpec['metadata']> = { ...(t.metadata ?? {}) };
  if (Object.keys(labels).length > 0) metadata.labels = labels;
  else delete metadata.labels;
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  else delete metadata.annotations;
  if (Object.keys(metadata).length > 0) t.metadata = metadata;
  else delete t.metadata;
  return t;
}

/** Revision `version` of `dc`: OpenShift's RC, with its labels and annotations, at 0 replicas. */
export function revisionFor(
  dc: DeploymentConfig,
  version: number,
  causes: DeploymentCause[],
): ReplicationController {
  const name = revisionName(dc.metadata.name, version);
  const ns = dc.metadata.namespace ?? 'default';
  const selector = {
    ...configSelector(dc),
    [REVISION_LABELS.deployment]: name,
    [REVISION_LABELS.deploymentConfig]: dc.metadata.name,
  };
  const template = structuredClone(dc.spec.template);
  template.metadata = {
    ...(template.metadata ?? {}),
    labels: { ...(template.metadata?.labels ?? {}), ...selector },
    annotations: {
      ...(template.metadata?.annotations ?? {}),
      [REVISION_ANNOTATIONS.configName]: dc.metadata.name,
      [REVISION_ANNOTATIONS.latestVersion]: String(version),
      'openshift.io/deployment.name': name,
    },
  };
  // What rollback restores: the config as it was, its status aside.
  const encoded: DeploymentConfig = {
    apiVersion: dc.apiVersion,
    kind: dc.kind,
    metadata: { name: dc.metadata.name, namespace: ns },
    spec: dc.spec,
  };
  const rc: ReplicationController = {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: {
      name,
      namespace: ns,
      labels: { ...(dc.metadata.labels ?? {}), [REVISION_LABELS.configName]: dc.metadata.name },
      annotations: {
        [REVISION_ANNOTATIONS.configName]: dc.metadata.name,
        [REVISION_ANNOTATIONS.latestVersion]: String(version),
        [REVISION_ANNOTATIONS.phase]: 'New',
        [REVISION_ANNOTATIONS.desiredReplicas]: String(dc.spec.replicas ?? 1),
        [REVISION_ANNOTATIONS.causes]: JSON.stringify(causes),
        [REVISION_ANNOTATIONS.encodedConfig]: JSON.stringify(encoded),
      },
      ownerReferences: [
        {
          apiVersion: 'apps.openshift.io/v1',
          kind: 'DeploymentConfig',
          name: dc.metadata.name,
          uid: dc.metadata.uid ?? '',
          controller: true,
        },
      ],
    },
    spec: { replicas: 0, selector, template },
  };
  if (dc.spec.minReadySeconds !== undefined) rc.spec.minReadySeconds = dc.spec.minReadySeconds;
  return rc;
}

/** OpenShift's details.message for a set of causes. */
export function causesMessage(causes: DeploymentCause[]): string {
  switch (causes[0]?.type) {
    case 'ImageChange':
      return 'image change';
    case 'ConfigChange':
      return 'config change';
    case 'Rollback':
      return 'rollback';
    default:
      return 'manual change';
  }
}

/** Sets a condition, keeping lastTransitionTime when the status did not change. */
export function setCondition(
  status: DeploymentConfigStatus,
  condition: {
    type: DeploymentConditionType;
    status: 'True' | 'False' | 'Unknown';
    reason?: string;
    message?: string;
  },
  now = nowTimestamp(),
): DeploymentConfigStatus {
  const conditions = [...(status.conditions ?? [])];
  const i = conditions.findIndex((c) => c.type === condition.type);
  const prior = i >= 0 ? conditions[i] : undefined;
  const next: DeploymentCondition = {
    type: condition.type,
    status: condition.status,
    lastUpdateTime: now,
    lastTransitionTime: prior && prior.status === condition.status ? prior.lastTransitionTime : now,
  };
  if (condition.reason !== undefined) next.reason = condition.reason;
  if (condition.message !== undefined) next.message = condition.message;
  if (i >= 0) conditions[i] = next;
  else conditions.push(next);
  return { ...status, conditions };
}

export function removeCondition(
  status: DeploymentConfigStatus,
  type: DeploymentConditionType,
): DeploymentConfigStatus {
  return { ...status, conditions: (status.conditions ?? []).filter((c) => c.type !== type) };
}

/**
 * The spec a rollback to `rc` produces (OpenShift's rollback generator with its
 * defaults): the revision's template; every image trigger turned to `automatic: false`,
 * so the next image push does not roll forward again. Returns the names of the triggers
 * disabled, which `rollout undo` reports.
 */
export function rollbackSpec(
  dc: DeploymentConfig,
  rc: ReplicationController,
): { spec: DeploymentConfig['spec']; disabled: string[] } {
  const from = decodeRevisionConfig(rc);
  const template = from?.spec.template ?? stripRevisionLabels(rc.spec.template);
  const disabled: string[] = [];
  const triggers = (dc.spec.triggers ?? []).map((t) => {
    if (t.type !== 'ImageChange' || !t.imageChangeParams?.automatic) return t;
    disabled.push(withTag(t.imageChangeParams.from.name));
    return { ...t, imageChangeParams: { ...t.imageChangeParams, automatic: false } };
  });
  return { spec: { ...dc.spec, template: structuredClone(template), triggers }, disabled };
}

/**
 * Revisions to delete beyond `revisionHistoryLimit`: the oldest ended ones with no
 * replicas, never the latest revision nor the one serving.
 */
export function revisionsToPrune(
  dc: DeploymentConfig,
  revisions: ReplicationController[],
  serving: string | undefined,
): ReplicationController[] {
  const limit = dc.spec.revisionHistoryLimit ?? REVISION_HISTORY_LIMIT_DEFAULT;
  const latest = dc.status?.latestVersion ?? 0;
  const candidates = revisions
    .filter((r) => revisionVersion(r) < latest && r.metadata.name !== serving && r.spec.replicas === 0)
    .filter((r) => ['Complete', 'Failed'].includes(revisionPhase(r)))
    .sort((a, b) => revisionVersion(a) - revisionVersion(b));
  return candidates.slice(0, Math.max(0, candidates.length - limit));
}
