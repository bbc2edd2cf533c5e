/**
 * DeploymentConfig (apps.openshift.io/v1), Service (v1) and Route (route.openshift.io/v1),
 * with OpenShift's and Kubernetes' field names. Objects are loose: fields Slipway does not
 * act on are kept as written, so OpenShift YAML applies unchanged.
 */
import { z } from 'zod';
import { envVar, objectReference } from './build-types.js';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN } from './resource.js';

/** A port by number or by the name of a container port (IANA_SVC_NAME). */
export const portRef = z.union([
  z.number().int().min(1, 'must be between 1 and 65535').max(65535, 'must be between 1 and 65535'),
  z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a port number or a port name')
    .max(15, 'must be no more than 15 characters'),
]);
export type PortRef = z.infer<typeof portRef>;

/** Kubernetes' IntOrString as used by maxSurge/maxUnavailable: `2` or `"25%"`. */
export const intOrPercent = z.union([
  z.number().int().nonnegative('must be greater than or equal to 0'),
  z.string().regex(/^\d+%?$/, 'must be an integer or a percentage such as "25%"'),
]);
export type IntOrPercent = z.infer<typeof intOrPercent>;

const nonNegativeInt = z.number().int().nonnegative('must be greater than or equal to 0');
const positiveInt = z.number().int().positive('must be greater than 0');

/** Kubernetes resource quantities: `500m`, `0.5`, `128Mi`, `1G`. */
export const quantity = z.union([
  z.number().nonnegative(),
  z
    .string()
    .regex(
      /^\d+(\.\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/,
      'must be a quantity such as "500m", "1", "128Mi" or "1G"',
    ),
]);

export const resourceRequirements = z.looseObject({
  limits: z.looseObject({ cpu: quantity.optional(), memory: quantity.optional() }).nullable().optional(),
  requests: z.looseObject({ cpu: quantity.optional(), memory: quantity.optional() }).nullable().optional(),
});
export type ResourceRequirements = z.infer<typeof resourceRequirements>;

export const httpGetAction = z.looseObject({
  path: z.string().optional(),
  port: portRef,
  host: z.string().optional(),
  scheme: z.enum(['HTTP', 'HTTPS']).optional(),
  httpHeaders: z.array(z.looseObject({ name: z.string(), value: z.string() })).optional(),
});
export const tcpSocketAction = z.looseObject({ port: portRef, host: z.string().optional() });
export const execAction = z.looseObject({ command: z.array(z.string()).min(1, 'must name a command') });

export const probe = z
  .looseObject({
    httpGet: httpGetAction.optional(),
    tcpSocket: tcpSocketAction.optional(),
    exec: execAction.optional(),
    initialDelaySeconds: nonNegativeInt.optional(),
    timeoutSeconds: positiveInt.optional(),
    periodSeconds: positiveInt.optional(),
    successThreshold: positiveInt.optional(),
    failureThreshold: positiveInt.optional(),
  })
  .refine((p) => [p.httpGet, p.tcpSocket, p.exec].filter((h) => h !== undefined).length === 1, {
    message: 'must specify exactly one of httpGet, tcpSocket or exec',
  });
export type Probe = z.infer<typeof probe>;

export const containerPort = z.looseObject({
  name: z.string().max(15, 'must be no more than 15 characters').optional(),
  containerPort: z
    .number()
    .int()
    .min(1, 'must be between 1 and 65535')
    .max(65535, 'must be between 1 and 65535'),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
});

export const volumeMount = z.looseObject({
  name: z.string().min(1, 'must not be empty'),
  mountPath: z.string().startsWith('/', 'must be an absolute path'),
  readOnly: z.boolean().optional(),
});
export type VolumeMount = z.infer<typeof volumeMount>;

export const volume = z.looseObject({
  name: z.string().regex(DNS1123_LABEL, 'must be a DNS-1123 label'),
  emptyDir: z.looseObject({}).optional(),
  hostPath: z.looseObject({ path: z.string().startsWith('/', 'must be an absolute path') }).optional(),
  persistentVolumeClaim: z
    .looseObject({
      claimName: z
        .string()
        .regex(DNS1123_SUBDOMAIN, 'must be the name of a PersistentVolumeClaim (a DNS-1123 name)'),
      readOnly: z.boolean().optional(),
    })
    .optional(),
});
export type Volume = z.infer<typeof volume>;

export const container = z.looseObject({
  name: z.string().regex(DNS1123_LABEL, 'must be a DNS-1123 label (lower case letters, digits and "-")'),
  /** Empty until an ImageChange trigger resolves it; a container never starts without one. */
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  env: z.array(envVar).nullable().optional(),
  /** Secrets whose keys become variables (docs/deployments.md); ConfigMaps are not stored. */
  envFrom: z
    .array(
      z.looseObject({
        prefix: z.string().optional(),
        secretRef: z.looseObject({ name: z.string().min(1), optional: z.boolean().optional() }).optional(),
        configMapRef: z.looseObject({ name: z.string().min(1), optional: z.boolean().optional() }).optional(),
      }),
    )
    .nullable()
    .optional(),
  ports: z.array(containerPort).nullable().optional(),
  readinessProbe: probe.optional(),
  livenessProbe: probe.optional(),
  resources: resourceRequirements.optional(),
  volumeMounts: z.array(volumeMount).nullable().optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
});
export type Container = z.infer<typeof container>;

export const podSpec = z.looseObject({
  containers: z.array(container).min(1, 'must have at least one container'),
  volumes: z.array(volume).nullable().optional(),
  terminationGracePeriodSeconds: nonNegativeInt.optional(),
  restartPolicy: z.string().optional(),
  /** false: no service variables in the environment (Kubernetes' switch). */
  enableServiceLinks: z.boolean().optional(),
});
export type PodSpec = z.infer<typeof podSpec>;

export const podTemplateSpec = z.looseObject({
  metadata: z
    .looseObject({
      labels: z.record(z.string(), z.string()).nullable().optional(),
      annotations: z.record(z.string(), z.string()).nullable().optional(),
    })
    .optional(),
  spec: podSpec,
});
export type PodTemplateSpec = z.infer<typeof podTemplateSpec>;

export const execNewPodHook = z.looseObject({
  command: z.array(z.string()).min(1, 'must name a command'),
  env: z.array(envVar).nullable().optional(),
  containerName: z.string().min(1, 'must name a container of the template'),
  volumes: z.array(z.string()).nullable().optional(),
});

export const tagImageHook = z.looseObject({
  containerName: z.string().min(1, 'must name a container of the template'),
  to: objectReference,
});

export const lifecycleHook = z
  .looseObject({
    failurePolicy: z.enum(['Abort', 'Retry', 'Ignore'], { error: 'must be Abort, Retry or Ignore' }),
    execNewPod: execNewPodHook.optional(),
    tagImages: z.array(tagImageHook).nullable().optional(),
  })
  .refine((h) => h.execNewPod !== undefined || (h.tagImages ?? []).length > 0, {
    message: 'must specify execNewPod or tagImages',
  });
export type LifecycleHook = z.infer<typeof lifecycleHook>;

export const rollingParams = z.looseObject({
  updatePeriodSeconds: positiveInt.optional(),
  intervalSeconds: positiveInt.optional(),
  timeoutSeconds: positiveInt.optional(),
  maxUnavailable: intOrPercent.optional(),
  maxSurge: intOrPercent.optional(),
  pre: lifecycleHook.optional(),
  post: lifecycleHook.optional(),
});
export type RollingParams = z.infer<typeof rollingParams>;

export const recreateParams = z.looseObject({
  timeoutSeconds: positiveInt.optional(),
  pre: lifecycleHook.optional(),
  mid: lifecycleHook.optional(),
  post: lifecycleHook.optional(),
});
export type RecreateParams = z.infer<typeof recreateParams>;

export const customParams = z.looseObject({
  image: z.string().optional(),
  command: z.array(z.string()).nullable().optional(),
  environment: z.array(envVar).nullable().optional(),
});
export type CustomParams = z.infer<typeof customParams>;

export const STRATEGY_TYPES = ['Rolling', 'Recreate', 'Custom'] as const;
export type StrategyType = (typeof STRATEGY_TYPES)[number];

export const deploymentStrategy = z.looseObject({
  type: z.enum(STRATEGY_TYPES, { error: 'must be Rolling, Recreate or Custom' }).optional(),
  rollingParams: rollingParams.nullable().optional(),
  recreateParams: recreateParams.nullable().optional(),
  customParams: customParams.nullable().optional(),
  resources: resourceRequirements.optional(),
  labels: z.record(z.string(), z.string()).nullable().optional(),
  annotations: z.record(z.string(), z.string()).nullable().optional(),
  activeDeadlineSeconds: positiveInt.optional(),
});
export type DeploymentStrategy = z.infer<typeof deploymentStrategy>;

export const imageChangeParams = z.looseObject({
  automatic: z.boolean().optional(),
  containerNames: z.array(z.string()).nullable().optional(),
  from: objectReference,
  lastTriggeredImage: z.string().optional(),
});
export type ImageChangeParams = z.infer<typeof imageChangeParams>;

export const deploymentTriggerPolicy = z.looseObject({
  type: z.enum(['ConfigChange', 'ImageChange'], { error: 'must be ConfigChange or ImageChange' }),
  imageChangeParams: imageChangeParams.optional(),
});
export type DeploymentTriggerPolicy = z.infer<typeof deploymentTriggerPolicy>;

export const deploymentConfigSpec = z.looseObject({
  strategy: deploymentStrategy.optional(),
  minReadySeconds: nonNegativeInt.optional(),
  triggers: z.array(deploymentTriggerPolicy).nullable().optional(),
  replicas: nonNegativeInt.optional(),
  revisionHistoryLimit: nonNegativeInt.optional(),
  test: z.boolean().optional(),
  paused: z.boolean().optional(),
  selector: z.record(z.string(), z.string()).nullable().optional(),
  template: podTemplateSpec,
});
export type DeploymentConfigSpec = z.infer<typeof deploymentConfigSpec>;

export type DeploymentCauseType = 'ConfigChange' | 'ImageChange' | 'Manual' | 'Rollback';
export interface DeploymentCause {
  type: DeploymentCauseType;
  imageTrigger?: { from: { kind: string; name: string; namespace?: string } };
}

export type DeploymentConditionType = 'Available' | 'Progressing' | 'ReplicaFailure';
export interface DeploymentCondition {
  type: DeploymentConditionType;
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime: string;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

export interface DeploymentConfigStatus {
  latestVersion?: number;
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  readyReplicas?: number;
  details?: { message?: string; causes: DeploymentCause[] };
  conditions?: DeploymentCondition[];
}

/** Condition reasons, as openshift/api apps/v1 spells them. */
export const DeploymentReasons = {
  NewReplicationControllerCreated: 'NewReplicationControllerCreated',
  NewReplicationControllerAvailable: 'NewReplicationControllerAvailable',
  ReplicationControllerUpdated: 'ReplicationControllerUpdated',
  ReplicationControllerCreateError: 'ReplicationControllerCreateError',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  RolloutCancelled: 'RolloutCancelled',
  DeploymentConfigPaused: 'DeploymentConfigPaused',
  DeploymentConfigResumed: 'DeploymentConfigResumed',
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
  /** Slipway: a lifecycle hook with failurePolicy Abort (or Retry, out of attempts) failed. */
  HookFailed: 'HookFailed',
  /** Slipway: the Custom strategy's container exited non-zero. */
  CustomDeployerFailed: 'CustomDeployerFailed',
  FailedCreate: 'FailedCreate',
  /** Slipway: the rollout failed for a reason none of the above names (the target answered an error). */
  RolloutFailed: 'RolloutFailed',
} as const;
export type DeploymentReason = (typeof DeploymentReasons)[keyof typeof DeploymentReasons];

export interface DeploymentConfig {
  apiVersion: string;
  kind: 'DeploymentConfig' | string;
  metadata: {
    name: string;
    namespace?: string;
    generation?: number;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  spec: DeploymentConfigSpec;
  status?: DeploymentConfigStatus;
  [extra: string]: unknown;
}

export const servicePort = z.looseObject({
  name: z.string().optional(),
  port: z.number().int().min(1, 'must be between 1 and 65535').max(65535, 'must be between 1 and 65535'),
  targetPort: portRef.optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
});
export const serviceSpec = z.looseObject({
  selector: z.record(z.string(), z.string()).nullable().optional(),
  ports: z.array(servicePort).min(1, 'must have at least one port'),
  type: z.string().optional(),
});
export type ServiceSpec = z.infer<typeof serviceSpec>;

export const routeSpec = z.looseObject({
  host: z.string().optional(),
  path: z.string().startsWith('/', 'must start with "/"').optional(),
  to: z.looseObject({
    kind: z.literal('Service', { error: 'must be Service' }).optional(),
    name: z.string().min(1, 'must name a Service'),
    weight: z.number().int().nonnegative().optional(),
  }),
  port: z.looseObject({ targetPort: portRef }).optional(),
  tls: z.looseObject({}).nullable().optional(),
  wildcardPolicy: z.string().optional(),
});
export type RouteSpec = z.infer<typeof routeSpec>;

/** OpenShift's defaults for rollingParams (openshift/api apps/v1 defaults). */
export const ROLLING_DEFAULTS = {
  updatePeriodSeconds: 1,
  intervalSeconds: 1,
  timeoutSeconds: 600,
  maxUnavailable: '25%',
  maxSurge: '25%',
} as const;
export const RECREATE_TIMEOUT_DEFAULT = 600;
export const REVISION_HISTORY_LIMIT_DEFAULT = 10;

export interface ResolvedRollingParams {
  updatePeriodSeconds: number;
  intervalSeconds: number;
  timeoutSeconds: number;
  maxUnavailable: IntOrPercent;
  maxSurge: IntOrPercent;
  pre?: LifecycleHook;
  post?: LifecycleHook;
}

/** rollingParams with OpenShift's defaults filled in. */
export function rollingParamsWithDefaults(p: RollingParams | null | undefined): ResolvedRollingParams {
  const out: ResolvedRollingParams = {
    updatePeriodSeconds: p?.updatePeriodSeconds ?? ROLLING_DEFAULTS.updatePeriodSeconds,
    intervalSeconds: p?.intervalSeconds ?? ROLLING_DEFAULTS.intervalSeconds,
    timeoutSeconds: p?.timeoutSeconds ?? ROLLING_DEFAULTS.timeoutSeconds,
    maxUnavailable: p?.maxUnavailable ?? ROLLING_DEFAULTS.maxUnavailable,
    maxSurge: p?.maxSurge ?? ROLLING_DEFAULTS.maxSurge,
  };
  if (p?.pre) out.pre = p.pre;
  if (p?.post) out.post = p.post;
  return out;
}
