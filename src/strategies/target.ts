/**
 * The deploy target: where the revisions of a DeploymentConfig run. Strategies and the
 * rollout controller speak only these verbs, so one rollout drives a Kubernetes cluster
 * or the local Docker engine alike.
 *
 * Vocabulary (OpenShift's): a DeploymentConfig `web` rolls out *revisions* `web-1`,
 * `web-2`…; each revision is a ReplicationController (on Kubernetes, a real one; on the
 * local target, the same object kept in Slipway's store) whose *replicas* are pods (on
 * the local target, containers). A revision's rollout phase and history live in its
 * annotations (`REVISION_ANNOTATIONS`), as OpenShift keeps them, so `listRevisions` is
 * the whole rollout history.
 *
 * Rules every implementation keeps:
 * - Revisions are immutable apart from `spec.replicas` and annotations: `ensureRevision`
 *   on an existing name returns it unchanged (a retried rollout job is harmless).
 * - A replica that is not ready never receives traffic, and a replica being removed
 *   stops receiving traffic before it is stopped (zero-downtime scale-down).
 * - No replica is ever started with an empty image; callers resolve images first and
 *   `ensureRevision` rejects a template with an empty `image`.
 * - Every method that waits takes an AbortSignal and rejects with the signal's reason
 *   when it fires.
 */
import type { Redis } from 'ioredis';
import type { EnvVar } from '../core/build-types.js';
import type { PodTemplateSpec, ResourceRequirements, Volume, VolumeMount } from '../core/deploy-types.js';
import type { Resource } from '../core/resource.js';

/** OpenShift's deployment phases, kept in `openshift.io/deployment.phase`. */
export type RevisionPhase = 'New' | 'Pending' | 'Running' | 'Complete' | 'Failed';

/** The annotations OpenShift puts on a deployment's ReplicationController. */
export const REVISION_ANNOTATIONS = {
  phase: 'openshift.io/deployment.phase',
  statusReason: 'openshift.io/deployment.status-reason',
  cancelled: 'openshift.io/deployment.cancelled',
  configName: 'openshift.io/deployment-config.name',
  latestVersion: 'openshift.io/deployment-config.latest-version',
  /** The DeploymentConfig as it was when the revision was made (JSON): what rollback restores. */
  encodedConfig: 'openshift.io/encoded-deployment-config',
  /** Replicas the revision should have once rolled out. */
  desiredReplicas: 'kubectl.kubernetes.io/desired-replicas',
  /** Slipway: the causes of this revision (JSON array of DeploymentCause). */
  causes: 'slipway.dev/deployment.causes',
  /** Slipway: the condition reason when the rollout failed (ProgressDeadlineExceeded, HookFailed…). */
  failureReason: 'slipway.dev/deployment.failure-reason',
} as const;

/** Labels OpenShift puts on a deployment's RC and on every replica of it. */
export const REVISION_LABELS = {
  /** On the RC: which DeploymentConfig it belongs to. */
  configName: 'openshift.io/deployment-config.name',
  /** On replicas (and in the RC selector): the revision name, `web-3`. */
  deployment: 'deployment',
  /** On replicas (and in the RC selector): the DeploymentConfig name. */
  deploymentConfig: 'deploymentconfig',
} as const;

/**
 * On every ReplicationController and one-off pod Slipway makes in a cluster: Kubernetes'
 * recommended label for the tool that manages an object. Deleting a project removes only
 * what carries it, so a ReplicationController or pod another tool made with OpenShift's
 * labels in the same namespace is left alone.
 */
export const MANAGED_BY_LABEL = { key: 'app.kubernetes.io/managed-by', value: 'slipway' } as const;

/** OpenShift's labels on the pods a rollout runs besides replicas (each also has `deployment`). */
export const ROLLOUT_POD_LABELS = {
  /** A lifecycle hook's pod: the hook's stage (`pre`, `mid`, `post`). */
  hook: 'openshift.io/deployment.hook',
  /** A Custom strategy's deployer pod: the revision it rolls out. */
  deployerFor: 'openshift.io/deployer-pod-for.name',
} as const;

/** A revision: a ReplicationController (`v1`) named `{dc}-{version}`. */
export interface ReplicationController extends Resource {
  apiVersion: 'v1';
  kind: 'ReplicationController';
  spec: {
    replicas: number;
    selector: Record<string, string>;
    template: PodTemplateSpec;
    minReadySeconds?: number;
  };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    observedGeneration?: number;
  };
}

/** A revision's replicas as the target sees them now. */
export interface RevisionStatus {
  /** `spec.replicas`. */
  desired: number;
  /** Replicas that exist (created, not yet removed), ready or not. */
  current: number;
  /** Replicas whose readiness probe passes (or that run and have none). */
  ready: number;
  /** Ready replicas that have been ready for at least `minReadySeconds`. */
  available: number;
  /**
   * Why replicas cannot run, when they cannot (image cannot be pulled, a container keeps
   * exiting); becomes the DeploymentConfig's ReplicaFailure condition.
   */
  failures: string[];
  /** Why replicas that run are not ready yet (the last probe result), for status messages. */
  notReady?: string[];
}

/** A one-off pod: a lifecycle hook (`execNewPod`) or the Custom strategy's deployer. */
export interface PodRunSpec {
  namespace: string;
  /** Unique in the namespace, e.g. `web-3-hook-pre`, `web-3-deploy` (OpenShift's names). */
  name: string;
  image: string;
  /** Replaces the image's entrypoint when given. */
  command?: string[];
  args?: string[];
  env: EnvVar[];
  /** Volumes of the pod template that `volumeMounts` name. */
  volumes?: Volume[];
  volumeMounts?: VolumeMount[];
  resources?: ResourceRequirements;
  labels: Record<string, string>;
  /**
   * How the pod may do a rollout through Slipway's API (Custom strategy). The local
   * target runs the pod on its namespace's network, relays the API to it by the name
   * `slipway-api` and passes `SLIPWAY_API_URL` (the relay) and `SLIPWAY_TOKEN`; a Kubernetes target runs it as `serviceAccountName` instead (the
   * cluster's own API is the means there), and may pass the token too.
   */
  apiAccess?: { url: string; token: string; serviceAccountName?: string };
}

export interface PodResult {
  exitCode: number;
  /** Combined stdout and stderr, the tail of it when long. */
  logs: string;
}

/** Options of the waiting verbs. */
export interface WaitOptions {
  signal: AbortSignal;
}

export interface DeployTarget {
  /** `docker` or `kubernetes`, for logs and status messages. */
  readonly name: string;

  /**
   * Creates the revision if it does not exist (with `spec.replicas` as given, usually 0),
   * and returns the stored one. The template's images must be resolved.
   */
  ensureRevision(rc: ReplicationController, options: WaitOptions): Promise<ReplicationController>;

  getRevision(namespace: string, name: string): Promise<ReplicationController | undefined>;

  /** Every revision of a DeploymentConfig, oldest (lowest version) first. */
  listRevisions(namespace: string, deploymentConfig: string): Promise<ReplicationController[]>;

  /**
   * Merges annotations into a revision (a `null` value removes one); the rollout
   * controller keeps phases, causes and cancellation there. Returns the updated revision.
   */
  annotateRevision(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
  ): Promise<ReplicationController>;

  /**
   * Sets `spec.replicas` and resolves once that many replicas exist — created, or
   * removed (a removed replica leaves the router first, then stops with its grace
   * period) — not once they are ready: poll `revisionStatus` for readiness.
   */
  scaleRevision(namespace: string, name: string, replicas: number, options: WaitOptions): Promise<void>;

  /** Live counts of the revision's replicas. */
  revisionStatus(namespace: string, name: string): Promise<RevisionStatus>;

  /** Scales the revision to 0 and forgets it (history pruning, DeploymentConfig deletion). */
  deleteRevision(namespace: string, name: string, options: WaitOptions): Promise<void>;

  /**
   * Runs a pod to completion and returns its exit code and logs; removes it afterwards.
   * When the signal fires the pod is stopped and the promise rejects.
   */
  runPod(spec: PodRunSpec, options: WaitOptions): Promise<PodResult>;

  /** Makes a Service (`v1`) effective on the target (created or updated as given). */
  applyService(service: Resource): Promise<void>;

  deleteService(namespace: string, name: string): Promise<void>;

  /**
   * Makes a Route (`route.openshift.io/v1`) effective where the target needs it done
   * (Kubernetes: an Ingress). Absent on targets whose router reads Routes itself.
   */
  applyRoute?(route: Resource): Promise<void>;

  deleteRoute?(namespace: string, name: string): Promise<void>;

  /**
   * An ImageStreamTag has a new image: what the target does beyond DeploymentConfigs
   * (Kubernetes: plain apps/v1 Deployments carrying OpenShift's trigger annotation follow
   * it). Absent where there is nothing more to do (the local target). Never throws: a
   * failure is logged, since the DeploymentConfigs' triggers have fired already.
   */
  onImageStreamTagUpdated?(update: TagUpdate): Promise<void>;

  /**
   * Starts the loops this process must run for the target to keep replicas alive and
   * ready (the local target: readiness probes and replacing dead replicas). Absent where
   * the platform does it (Kubernetes: the kubelet and the controller manager).
   */
  startLocalControllers?(deps: { redis: Redis; prefix: string }): LocalControllers;

  /**
   * What the target does for PersistentVolumeClaims (the local target: named Docker
   * volumes). Absent where the platform keeps claims itself.
   */
  claimVolumes?(): ClaimVolumes;

  /**
   * Removes everything the target still runs or keeps for a namespace whose project is
   * being deleted (the local target: every container labelled for it, its network and its
   * claims' volumes). Called after the namespace's objects are gone; safe to repeat.
   * On Kubernetes, what Slipway made in the cluster namespace (revisions, hook and deployer
   * pods); the namespace itself is the cluster owner's and stays.
   */
  deleteNamespace?(namespace: string, options: WaitOptions): Promise<void>;

  /** Releases what the target holds (connections, timers); replicas keep running. */
  close(): Promise<void>;
}

/** Storage for PersistentVolumeClaims on a target (src/strategies/apps-deployments.ts keeps it in step). */
export interface ClaimVolumes {
  ensure(namespace: string, claim: string): Promise<void>;
  /** Removes the claim's storage; storage still in use is kept and pruned later. */
  remove(namespace: string, claim: string): Promise<void>;
  /** Removes storage whose claim is gone (one that was in use when its claim was deleted). */
  prune(exists: (namespace: string, claim: string) => boolean): Promise<void>;
}

/** A tag that moved, as a target needs it. */
export interface TagUpdate {
  namespace: string;
  stream: string;
  tag: string;
  /** Pullable reference by digest. */
  dockerImageReference: string;
}

/** The loops `startLocalControllers` started. */
export interface LocalControllers {
  stop(): Promise<void>;
}

/** `web`, 3 → `web-3`: OpenShift's revision (RC) name. */
export function revisionName(deploymentConfig: string, version: number): string {
  return `${deploymentConfig}-${version}`;
}

/** The rollout phase kept on a revision; `New` when it has none yet. */
export function revisionPhase(rc: Pick<ReplicationController, 'metadata'>): RevisionPhase {
  return (rc.metadata.annotations?.[REVISION_ANNOTATIONS.phase] as RevisionPhase | undefined) ?? 'New';
}

/** The revision number kept on a revision. */
export function revisionVersion(rc: Pick<ReplicationController, 'metadata'>): number {
  return Number(rc.metadata.annotations?.[REVISION_ANNOTATIONS.latestVersion] ?? 0);
}
