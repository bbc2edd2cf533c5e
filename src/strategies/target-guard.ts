/**
 * Keeps a process's deploy target to the namespaces recorded for its kind, in a fleet
 * whose processes have different targets (docs/mixed-fleets.md). The
 * record (src/store/namespace-targets.ts) is made explicitly (`slipway set
 * deploy-target`) or claimed by the first process whose DeploymentConfig controller
 * handles a DeploymentConfig of the namespace; Services, Routes and reads never claim,
 * since every process's controller sees them at once and the fastest would win.
 */
import { ConflictError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  decideTarget,
  isDeployTargetKind,
  type DeployTargetKind,
  type NamespaceTargets,
  type TargetDecision,
} from '../store/namespace-targets.js';
import type { DeployTarget } from './target.js';

/** What a process needs to tell its namespaces from the others'. */
export interface NamespaceGate {
  targets: NamespaceTargets;
  logger?: Logger | undefined;
}

/** The kind of a target (`DeployTarget.name`); a target of another name is a programming error. */
export function targetKind(target: Pick<DeployTarget, 'name'>): DeployTargetKind {
  if (!isDeployTargetKind(target.name)) throw new TypeError(`unknown deploy target "${target.name}"`);
  return target.name;
}

function other(kind: DeployTargetKind): DeployTargetKind {
  return kind === 'docker' ? 'kubernetes' : 'docker';
}

/**
 * Whether a process whose target is `own` handles `namespace`'s DeploymentConfigs; an
 * unrecorded namespace is claimed for `own` (atomically: of two processes racing, one
 * records), and the claim is logged with how to change it.
 */
export async function claimNamespace(
  gate: NamespaceGate,
  input: {
    namespace: string;
    own: DeployTargetKind;
    /**
     * Asked only when the namespace is unrecorded: whether this process may claim it. A
     * DeploymentConfig that rolled out before namespaces were recorded belongs to the
     * kind that holds its latest revision, not to whichever process resyncs first.
     */
    mayClaim?: () => Promise<boolean>;
  },
): Promise<TargetDecision> {
  const { namespace, own } = input;
  const before = await gate.targets.get(namespace);
  if (before === undefined && input.mayClaim && !(await input.mayClaim()))
    return { act: false, recorded: undefined };
  const after = before ?? (await gate.targets.claim(namespace, own));
  const decision = decideTarget({ own, before, after });
  if (decision.act && decision.claimed)
    gate.logger?.info(
      { namespace, target: own },
      `namespace "${namespace}" now deploys to ${own} (recorded by the first worker to handle a DeploymentConfig there); ` +
        `to deploy it to ${other(own)} instead, delete its DeploymentConfigs and run: slipway set deploy-target ${namespace} ${other(own)}`,
    );
  return decision;
}

/** The error an API verb gets when the namespace is another kind's. */
export function otherTargetError(
  namespace: string,
  recorded: DeployTargetKind,
  own: DeployTargetKind,
): ConflictError {
  return new ConflictError(
    `namespace "${namespace}" deploys to ${recorded}, and this Slipway process deploys to ${own}: ` +
      `send this request to a Slipway server whose target is ${recorded}` +
      (recorded === 'kubernetes' ? ' (one with SLIPWAY_KUBECONFIG)' : ' (one without a cluster)'),
  );
}

/** The namespace each guarded method acts in, from its first argument. */
const NAMESPACE_OF: Record<string, (arg: unknown) => string | undefined> = {
  getRevision: (ns) => ns as string,
  listRevisions: (ns) => ns as string,
  annotateRevision: (ns) => ns as string,
  scaleRevision: (ns) => ns as string,
  revisionStatus: (ns) => ns as string,
  deleteRevision: (ns) => ns as string,
  deleteService: (ns) => ns as string,
  deleteRoute: (ns) => ns as string,
  deleteNamespace: (ns) => ns as string,
  ensureRevision: (rc) => (rc as { metadata: { namespace?: string } }).metadata.namespace,
  applyService: (svc) => (svc as { metadata: { namespace?: string } }).metadata.namespace,
  applyRoute: (route) => (route as { metadata: { namespace?: string } }).metadata.namespace,
  runPod: (spec) => (spec as { namespace: string }).namespace,
  onImageStreamTagUpdated: (u) => (u as { namespace: string }).namespace,
};

/**
 * The target, refusing (ConflictError) every verb in a namespace recorded for another
 * kind: nothing — a rollout, an API scale, a read of revisions — reaches the wrong
 * cluster or engine whichever path it came by. Unrecorded namespaces pass. A tag update
 * for another kind's namespace is skipped quietly (the hook never throws).
 */
export function guardTarget(target: DeployTarget, targets: NamespaceTargets): DeployTarget {
  const own = targetKind(target);
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      const namespaceOf = typeof prop === 'string' ? NAMESPACE_OF[prop] : undefined;
      if (!namespaceOf) return (value as (...a: unknown[]) => unknown).bind(obj);
      return async (...args: unknown[]) => {
        const namespace = namespaceOf(args[0]);
        const recorded = namespace ? await targets.get(namespace) : undefined;
        if (recorded && recorded !== own) {
          if (prop === 'onImageStreamTagUpdated') return undefined;
          throw otherTargetError(namespace!, recorded, own);
        }
        return (value as (...a: unknown[]) => unknown).apply(obj, args);
      };
    },
  });
}
