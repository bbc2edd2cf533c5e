/**
 * Pure: Kubernetes' `apps/v1` Deployment and `v1` PersistentVolumeClaim as Slipway reads
 * them, and how a Deployment becomes the DeploymentConfig-shaped view that the rollout
 * machinery runs (docs/deployments.md, "apps/v1 Deployments").
 *
 * The `image.openshift.io/triggers` annotation is OpenShift's way of making a Deployment
 * follow an ImageStreamTag:
 * https://docs.openshift.com/container-platform/4.14/openshift_images/triggering-updates-on-imagestream-changes.html
 */
import { z } from 'zod';
import type { FieldCause } from './errors.js';
import {
  intOrPercent,
  podTemplateSpec,
  type DeploymentCondition,
  type DeploymentConfig,
  type DeploymentConfigSpec,
  type DeploymentConfigStatus,
  type DeploymentTriggerPolicy,
} from './deploy-types.js';
import type { ObjectMeta, Resource } from './resource.js';

export const TRIGGERS_ANNOTATION = 'image.openshift.io/triggers';
/** On the DeploymentConfig Slipway keeps for a Deployment: the Deployment's name. */
export const OWNER_ANNOTATION = 'slipway.dev/deployment';

const nonNegativeInt = z.number().int().nonnegative('must be greater than or equal to 0');
const positiveInt = z.number().int().positive('must be greater than 0');

export const appsDeploymentSpec = z.looseObject({
  replicas: nonNegativeInt.optional(),
  selector: z.looseObject({
    matchLabels: z.record(z.string(), z.string()).nullable().optional(),
    matchExpressions: z.array(z.looseObject({})).nullable().optional(),
  }),
  template: podTemplateSpec,
  strategy: z
    .looseObject({
      type: z.enum(['RollingUpdate', 'Recreate'], { error: 'must be RollingUpdate or Recreate' }).optional(),
      rollingUpdate: z
        .looseObject({ maxSurge: intOrPercent.optional(), maxUnavailable: intOrPercent.optional() })
        .nullable()
        .optional(),
    })
    .optional(),
  minReadySeconds: nonNegativeInt.optional(),
  revisionHistoryLimit: nonNegativeInt.optional(),
  progressDeadlineSeconds: positiveInt.optional(),
  paused: z.boolean().optional(),
});
export type AppsDeploymentSpec = z.infer<typeof appsDeploymentSpec>;

export interface AppsDeployment {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: AppsDeploymentSpec;
  status?: AppsDeploymentStatus;
}

export interface AppsDeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: DeploymentCondition[];
}

export const persistentVolumeClaimSpec = z.looseObject({
  accessModes: z.array(z.string()).nullable().optional(),
  resources: z.looseObject({}).optional(),
  storageClassName: z.string().nullable().optional(),
});

/** One entry of the trigger annotation, as OpenShift writes it. */
const annotationTrigger = z.looseObject({
  from: z.looseObject({
    kind: z.string().optional(),
    name: z.string().min(1, 'must not be empty'),
    namespace: z.string().optional(),
  }),
  fieldPath: z.string().min(1, 'must not be empty'),
  paused: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
});

export interface AnnotationTrigger {
  from: { kind: 'ImageStreamTag'; name: string; namespace?: string };
  container: string;
  paused: boolean;
}

// `spec.template.spec.containers[?(@.name=="web")].image`, or by index `…containers[0].image`.
const BY_NAME = /^spec\.template\.spec\.containers\[\?\(@\.name==(?:"([^"]+)"|'([^']+)')\)\]\.image$/;
const BY_INDEX = /^spec\.template\.spec\.containers\[(\d+)\]\.image$/;

/**
 * Parses the `image.openshift.io/triggers` annotation against the pod template's
 * containers. Returns the triggers, or causes naming what is wrong.
 */
export function parseTriggerAnnotation(
  raw: string | undefined,
  containers: readonly { name: string }[],
): { triggers: AnnotationTrigger[]; causes: FieldCause[] } {
  const field = `metadata.annotations[${TRIGGERS_ANNOTATION}]`;
  if (raw === undefined || raw.trim() === '') return { triggers: [], causes: [] };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { triggers: [], causes: [{ field, message: 'must be a JSON array of triggers' }] };
  }
  const parsed = z.array(annotationTrigger).safeParse(json);
  if (!parsed.success)
    return {
      triggers: [],
      causes: [{ field, message: 'must be a JSON array of {from: {kind, name}, fieldPath}' }],
    };
  const triggers: AnnotationTrigger[] = [];
  const causes: FieldCause[] = [];
  for (const [i, t] of parsed.data.entries()) {
    const kind = t.from.kind ?? 'ImageStreamTag';
    if (kind !== 'ImageStreamTag') {
      causes.push({
        field: `${field}[${i}].from.kind`,
        message: `Unsupported value: "${kind}": supported values: "ImageStreamTag"`,
      });
      continue;
    }
    const byName = BY_NAME.exec(t.fieldPath);
    const byIndex = BY_INDEX.exec(t.fieldPath);
    const container = byName
      ? (byName[1] ?? byName[2])
      : byIndex
        ? containers[Number(byIndex[1])]?.name
        : undefined;
    if (!byName && !byIndex) {
      causes.push({
        field: `${field}[${i}].fieldPath`,
        message: `"${t.fieldPath}" is not a container image path; use spec.template.spec.containers[?(@.name=="NAME")].image`,
      });
      continue;
    }
    if (container === undefined || !containers.some((c) => c.name === container)) {
      causes.push({
        field: `${field}[${i}].fieldPath`,
        message: `"${t.fieldPath}" names no container of the pod template`,
      });
      continue;
    }
    triggers.push({
      from: {
        kind: 'ImageStreamTag',
        name: t.from.name,
        ...(t.from.namespace ? { namespace: t.from.namespace } : {}),
      },
      container,
      paused: t.paused === true || t.paused === 'true',
    });
  }
  return { triggers, causes };
}

/** Write-time checks a schema cannot make: the selector, the annotation. */
export function appsDeploymentCauses(obj: Resource): FieldCause[] {
  const spec = obj.spec as AppsDeploymentSpec;
  const causes: FieldCause[] = [];
  if ((spec.selector.matchExpressions ?? []).length > 0)
    causes.push({
      field: 'spec.selector.matchExpressions',
      message: 'Slipway selects replicas by matchLabels only; write the selector as matchLabels',
    });
  const matchLabels = spec.selector.matchLabels ?? {};
  if (Object.keys(matchLabels).length === 0)
    causes.push({
      field: 'spec.selector.matchLabels',
      message: 'Required value: empty selector is invalid for deployment',
    });
  const labels = spec.template.metadata?.labels ?? {};
  if (Object.entries(matchLabels).some(([k, v]) => labels[k] !== v))
    causes.push({
      field: 'spec.template.metadata.labels',
      message: '`selector` does not match template `labels`',
    });
  const rolling = spec.strategy?.rollingUpdate;
  if (spec.strategy?.type === 'Recreate' && rolling)
    causes.push({
      field: 'spec.strategy.rollingUpdate',
      message: "may not be specified when strategy `type` is 'Recreate'",
    });
  causes.push(
    ...parseTriggerAnnotation(obj.metadata.annotations?.[TRIGGERS_ANNOTATION], spec.template.spec.containers)
      .causes,
  );
  return causes;
}

/** Kubernetes' defaults for a Deployment (apps/v1). */
const DEFAULTS = {
  maxSurge: '25%',
  maxUnavailable: '25%',
  progressDeadlineSeconds: 600,
  revisionHistoryLimit: 10,
};

/**
 * The DeploymentConfig-shaped view of a Deployment that the rollout machinery runs:
 * RollingUpdate → Rolling (maxSurge/maxUnavailable, progressDeadlineSeconds as the
 * timeout), Recreate → Recreate, a ConfigChange trigger (a Deployment rolls out on every
 * template change) and an ImageChange trigger per annotation entry. `previous` is the view
 * as it stands: images an ImageChange trigger resolved there are kept, so translating
 * again never undoes a trigger.
 */
export function deploymentConfigView(d: AppsDeployment, previous?: DeploymentConfig): DeploymentConfig {
  const spec = d.spec;
  const { triggers } = parseTriggerAnnotation(
    d.metadata.annotations?.[TRIGGERS_ANNOTATION],
    spec.template.spec.containers,
  );
  const template = structuredClone(spec.template);
  const dcTriggers: DeploymentTriggerPolicy[] = [{ type: 'ConfigChange' }];
  for (const t of triggers) {
    const before = previous?.spec.triggers?.find(
      (p) =>
        p.type === 'ImageChange' &&
        p.imageChangeParams?.from.name === t.from.name &&
        (p.imageChangeParams.from.namespace ?? '') === (t.from.namespace ?? '') &&
        (p.imageChangeParams.containerNames ?? []).includes(t.container),
    )?.imageChangeParams;
    const params: NonNullable<DeploymentTriggerPolicy['imageChangeParams']> = {
      automatic: !t.paused,
      containerNames: [t.container],
      from: t.from,
    };
    if (before?.lastTriggeredImage) {
      params.lastTriggeredImage = before.lastTriggeredImage;
      const c = template.spec.containers.find((x) => x.name === t.container);
      const resolved = previous?.spec.template.spec.containers.find((x) => x.name === t.container)?.image;
      if (c && resolved) c.image = resolved;
    }
    dcTriggers.push({ type: 'ImageChange', imageChangeParams: params });
  }
  const timeoutSeconds = spec.progressDeadlineSeconds ?? DEFAULTS.progressDeadlineSeconds;
  const strategy: DeploymentConfigSpec['strategy'] =
    spec.strategy?.type === 'Recreate'
      ? { type: 'Recreate', recreateParams: { timeoutSeconds } }
      : {
          type: 'Rolling',
          rollingParams: {
            maxSurge: spec.strategy?.rollingUpdate?.maxSurge ?? DEFAULTS.maxSurge,
            maxUnavailable: spec.strategy?.rollingUpdate?.maxUnavailable ?? DEFAULTS.maxUnavailable,
            timeoutSeconds,
          },
        };
  const dcSpec: DeploymentConfigSpec = {
    replicas: spec.replicas ?? 1,
    selector: { ...(spec.selector.matchLabels ?? {}) },
    template,
    strategy,
    triggers: dcTriggers,
    revisionHistoryLimit: spec.revisionHistoryLimit ?? DEFAULTS.revisionHistoryLimit,
    ...(spec.minReadySeconds !== undefined ? { minReadySeconds: spec.minReadySeconds } : {}),
    ...(spec.paused ? { paused: true } : {}),
  };
  const name = d.metadata.name;
  return {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: {
      name,
      namespace: d.metadata.namespace ?? 'default',
      labels: { ...(d.metadata.labels ?? {}) },
      annotations: { [OWNER_ANNOTATION]: name },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'Deployment', name, uid: d.metadata.uid ?? '', controller: true },
      ],
    },
    spec: dcSpec,
  } as DeploymentConfig;
}

/** Whether a stored DeploymentConfig is the view Slipway keeps for Deployment `name`. */
export function isViewOf(dc: Resource, name: string): boolean {
  return dc.metadata.annotations?.[OWNER_ANNOTATION] === name;
}

// OpenShift's condition reasons for a DeploymentConfig, and Kubernetes' words for a Deployment's.
const REASONS: Record<string, string> = {
  NewReplicationControllerCreated: 'NewReplicaSetCreated',
  NewReplicationControllerAvailable: 'NewReplicaSetAvailable',
  ReplicationControllerUpdated: 'ReplicaSetUpdated',
  ReplicationControllerCreateError: 'ReplicaSetCreateError',
  DeploymentConfigPaused: 'DeploymentPaused',
  DeploymentConfigResumed: 'DeploymentResumed',
};

/**
 * The Deployment's status as Kubernetes reports it, from its view's status.
 * `observedGeneration` is the Deployment's generation once the view carries it.
 */
export function deploymentStatusFrom(
  view: DeploymentConfigStatus | undefined,
  observedGeneration: number | undefined,
): AppsDeploymentStatus {
  const status: AppsDeploymentStatus = {
    replicas: view?.replicas ?? 0,
    updatedReplicas: view?.updatedReplicas ?? 0,
    readyReplicas: view?.readyReplicas ?? 0,
    availableReplicas: view?.availableReplicas ?? 0,
    unavailableReplicas: view?.unavailableReplicas ?? 0,
    conditions: (view?.conditions ?? []).map((c) => {
      const reason = c.reason !== undefined ? (REASONS[c.reason] ?? c.reason) : undefined;
      return {
        ...c,
        ...(reason !== undefined ? { reason } : {}),
        ...(c.message !== undefined
          ? { message: c.message.replace(/replication controller/gi, 'replica set') }
          : {}),
      };
    }),
  };
  if (observedGeneration !== undefined) status.observedGeneration = observedGeneration;
  return status;
}
