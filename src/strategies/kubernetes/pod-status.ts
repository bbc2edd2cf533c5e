/**
 * Pure: how the Kubernetes target reads pods. A revision's counts come from its pods as
 * the kubelet reports them — readiness from the pod's `Ready` condition (which already
 * folds in every container's readiness probe), availability from when that condition
 * last turned True, failures from the reasons a container is stuck waiting (an image that
 * cannot be pulled, a container that keeps exiting) and from the ReplicationController's
 * own ReplicaFailure condition (pods the controller cannot create: quota, admission).
 */
import type { ReplicationController, RevisionStatus } from '../target.js';

/** The fields of a `v1` Pod the target reads (the API server sends more). */
export interface KubePod {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  };
  spec?: { containers?: { name: string; image?: string }[]; restartPolicy?: string };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
    }[];
    containerStatuses?: KubeContainerStatus[];
    initContainerStatuses?: KubeContainerStatus[];
  };
}

export interface KubeContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string };
    terminated?: { exitCode: number; reason?: string; message?: string };
  };
  lastState?: { terminated?: { exitCode: number; reason?: string; message?: string } };
}

/**
 * Waiting reasons that mean the container will not start without someone changing
 * something (kubelet's image and sync errors); `ContainerCreating` and `PodInitializing`
 * are merely slow and are not failures.
 */
export const FAILING_WAIT_REASONS: ReadonlySet<string> = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'RegistryUnavailable',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'PreStartHookError',
  'PostStartHookError',
]);

/**
 * Reasons a one-off pod (hook, deployer) will never start: waiting for them would only
 * wait for the rollout's deadline. `ErrImagePull` alone is not here: the kubelet retries
 * it once before reporting `ImagePullBackOff`, and a registry may just be slow.
 */
export const FATAL_START_REASONS: ReadonlySet<string> = new Set([
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
]);

/** A pod still counts as a replica: not being deleted and not finished. */
export function podIsActive(pod: KubePod): boolean {
  const phase = pod.status?.phase;
  return !pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}

/** When the pod's Ready condition last turned True (ms since the epoch), or undefined when not ready. */
export function podReadySince(pod: KubePod): number | undefined {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return undefined;
  const t = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

/** Why a pod's containers cannot run, one line each; empty when nothing is stuck. */
export function podFailures(pod: KubePod): string[] {
  const out: string[] = [];
  const name = pod.metadata.name;
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    out.push(`pod ${name} cannot be scheduled: ${scheduled.message ?? 'Unschedulable'}`);
  }
  for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = c.state?.waiting;
    if (!waiting?.reason || !FAILING_WAIT_REASONS.has(waiting.reason)) continue;
    let line = `pod ${name}: container "${c.name}" ${waiting.reason}`;
    if (waiting.message) line += `: ${waiting.message}`;
    const last = c.lastState?.terminated;
    if (waiting.reason === 'CrashLoopBackOff' && last) {
      line += ` (exited ${last.exitCode}${last.reason ? ` ${last.reason}` : ''}, restarted ${c.restartCount ?? 0} time(s))`;
    }
    out.push(line);
  }
  return out;
}

/** Why a running pod is not ready yet, from its Ready condition (the kubelet names the containers). */
export function podNotReady(pod: KubePod): string {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting?.reason);
  const why =
    ready?.message ??
    (waiting ? `container "${waiting.name}" ${waiting.state!.waiting!.reason!}` : undefined) ??
    ready?.reason ??
    `phase ${pod.status?.phase ?? 'Pending'}`;
  return `pod ${pod.metadata.name}: ${why}`;
}

/** Whether `labels` carry every key/value of `selector` (a ReplicationController's equality selector). */
export function selectorMatches(
  selector: Record<string, string>,
  labels: Record<string, string> | undefined,
): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** `{a: '1', b: '2'}` → `a=1,b=2`, a label selector for list calls. */
export function labelSelector(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * The pods that are this revision's replicas: matching its selector and controlled by it
 * (or by nothing, as the RC controller adopts orphans). A pod controlled by another
 * controller is not ours even when its labels match.
 */
export function ownedPods(rc: Pick<ReplicationController, 'metadata' | 'spec'>, pods: KubePod[]): KubePod[] {
  return pods.filter((p) => {
    if (!selectorMatches(rc.spec.selector, p.metadata.labels)) return false;
    const controller = p.metadata.ownerReferences?.find((o) => o.controller);
    if (!controller) return true;
    if (controller.kind !== 'ReplicationController') return false;
    // By uid: pods of an earlier RC of the same name (deleted, recreated) are not this one's.
    return rc.metadata.uid ? controller.uid === rc.metadata.uid : controller.name === rc.metadata.name;
  });
}

/** Failures the ReplicationController itself reports (ReplicaFailure: FailedCreate, FailedDelete). */
export function controllerFailures(rc: Pick<ReplicationController, 'metadata' | 'status'>): string[] {
  const conditions = (
    rc.status as
      { conditions?: { type: string; status: string; reason?: string; message?: string }[] } | undefined
  )?.conditions;
  return (conditions ?? [])
    .filter((c) => c.type === 'ReplicaFailure' && c.status === 'True')
    .map((c) => `${rc.metadata.name}: ${c.reason ?? 'ReplicaFailure'}${c.message ? `: ${c.message}` : ''}`);
}

/** A revision's live counts from the RC and its pods, at `now`. */
export function revisionStatusFrom(
  rc: ReplicationController,
  pods: KubePod[],
  now: number = Date.now(),
): RevisionStatus {
  const active = ownedPods(rc, pods).filter(podIsActive);
  const minReadyMs = (rc.spec.minReadySeconds ?? 0) * 1000;
  let ready = 0;
  let available = 0;
  const failures = controllerFailures(rc);
  const notReady: string[] = [];
  for (const pod of active) {
    const since = podReadySince(pod);
    if (since !== undefined) {
      ready++;
      if (since <= now - minReadyMs) available++;
      continue;
    }
    const stuck = podFailures(pod);
    if (stuck.length > 0) failures.push(...stuck);
    else notReady.push(podNotReady(pod));
  }
  return { desired: rc.spec.replicas, current: active.length, ready, available, failures, notReady };
}

/**
 * How a one-off pod ended: its exit code once it Succeeded or Failed, `undefined` while it
 * runs. Throws when it cannot start (FATAL_START_REASONS) or failed without a container
 * exit code (evicted, deadline exceeded): there is no exit code to report then.
 */
export function podOutcome(pod: KubePod, containerName: string): { exitCode: number } | undefined {
  const status = pod.status;
  const container = status?.containerStatuses?.find((c) => c.name === containerName);
  const waiting = [...(status?.initContainerStatuses ?? []), ...(container ? [container] : [])]
    .map((c) => c.state?.waiting)
    .find((w) => w?.reason && FATAL_START_REASONS.has(w.reason));
  if (waiting) {
    throw new Error(
      `pod ${pod.metadata.name} cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`,
    );
  }
  if (status?.phase !== 'Succeeded' && status?.phase !== 'Failed') return undefined;
  const terminated = container?.state?.terminated;
  if (terminated) return { exitCode: terminated.exitCode };
  if (status.phase === 'Succeeded') return { exitCode: 0 };
  throw new Error(
    `pod ${pod.metadata.name} failed before its container exited: ${status.reason ?? 'Failed'}${status.message ? `: ${status.message}` : ''}`,
  );
}
